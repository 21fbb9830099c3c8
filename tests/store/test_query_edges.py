"""Query parameters and bodies at their edges, on every record endpoint: dates at the ends of the
calendar, parameters sent twice, digits other than ASCII; each a 422 naming the parameter."""

from __future__ import annotations

import pytest

SPIKE = {
    "spep": {"m_protein": {"value": 1.2, "unit": "g/dL"}},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
}

# Instants whose UTC reading falls outside years 1-9999 (datetime's calendar).
OUTSIDE = ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "0001-01-01T00:59:59+01:00"]
# The calendar's own ends, in UTC or with an offset that stays inside it.
INSIDE = [
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59+00:00",
    "0001-01-01T00:00:00-01:00",
    "9999-12-31T23:59:59+01:00",
]
QUERY_SINCE = ["/v1/interpretations", "/v1/audit", "/v1/reports/agreement"]


@pytest.mark.parametrize("since", OUTSIDE)
@pytest.mark.parametrize("path", QUERY_SINCE)
def test_a_since_outside_the_calendar_is_a_422_naming_it(client, path, since):
    r = client.get(path, query_string={"since": since})
    assert r.status_code == 422, r.get_data(as_text=True)
    assert list(r.json["errors"]) == ["query.since"]
    assert "0001-01-01" in r.json["errors"]["query.since"][0]


@pytest.mark.parametrize("since", OUTSIDE)
def test_a_ruleset_impact_since_outside_the_calendar_is_a_422_naming_it(client, since):
    r = client.post("/v1/ruleset-impact", json={"since": since})
    assert r.status_code == 422, r.get_data(as_text=True)
    assert list(r.json["errors"]) == ["since"]


@pytest.mark.parametrize("since", INSIDE)
def test_a_since_at_the_calendars_ends_is_read(client, since):
    client.post("/v1/interpretations", json=SPIKE)
    for path in QUERY_SINCE:
        assert client.get(path, query_string={"since": since}).status_code == 200, (path, since)
    r = client.post("/v1/ruleset-impact", json={"since": since})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.json["summary"]["examined"] == (0 if since.startswith("9999") else 1)


NOT_ASCII_DIGITS = ["\uff12", "\u0663", "\u0e53", "+3", " 3", "3 ", "3.0", "0x3", "1_0", "-\uff11"]


@pytest.mark.parametrize("limit", NOT_ASCII_DIGITS)
@pytest.mark.parametrize("path", ["/v1/interpretations", "/v1/audit"])
def test_a_limit_in_other_than_ascii_digits_is_a_422_naming_it(client, path, limit):
    r = client.get(path, query_string={"limit": limit})
    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.json["errors"] == {"query.limit": ["Not a valid integer: send ASCII digits (0-9) only."]}


@pytest.mark.parametrize("path", ["/v1/interpretations", "/v1/audit"])
def test_a_limit_in_ascii_digits_is_read_and_range_checked(client, path):
    assert client.get(path, query_string={"limit": "007"}).status_code == 200
    for limit in ["0", "1" + "0" * 30, "9" * 5000]:
        r = client.get(path, query_string={"limit": limit})
        assert r.status_code == 422 and list(r.json["errors"]) == ["query.limit"]
        assert "greater than or equal to 1" in r.json["errors"]["query.limit"][0]


@pytest.mark.parametrize(
    "mimetype", ["application/vnd.anything+json", "application/problem+json", "text/plain"]
)
def test_the_review_and_impact_endpoints_take_application_json_only(client, mimetype):
    rid = client.post("/v1/interpretations", json=SPIKE).json["id"]
    review = '{"decision": "approve", "reviewer": "Dr Rita Ng"}'
    for path, data in [(f"/v1/interpretations/{rid}/reviews", review), ("/v1/ruleset-impact", "{}")]:
        r = client.post(path, data=data, content_type=mimetype)
        assert r.status_code == 415, (path, r.get_data(as_text=True))
        assert r.json["code"] == 415 and "application/json" in r.json["message"]
    assert client.get(f"/v1/interpretations/{rid}").json["reviews"] == []
