"""Query parameters on every route of the OpenAPI document: one the route does not take is a 422
naming it (query.<name>), and one it takes, sent twice, is a 422 naming it ("sent more than once"),
never silently ignored or read as its first value."""

from __future__ import annotations

import pytest

from service.api import create_app

SPIKE = {
    "spep": {"m_protein": {"value": 1.2, "unit": "g/dL"}},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
}
# A valid value of each query parameter the document declares.
VALID = {
    "since": ["2024-01-01", "2025-01-01T00:00:00Z"],
    "limit": ["1", "3"],
    "status": ["auto", "review_required"],
    "patient_ref": ["MRN-1", "MRN-2"],
    "cursor": ["czI", "czM"],
    "interpretation_id": ["a" * 32, "b" * 32],
}
# Routes served beside the API and not in its document: the review console's pages (HTML forms with
# their own parameters), Flask's static files and the assets of the /docs page.
NOT_DOCUMENTED = ("review.", "static", "swagger_ui_asset")


def operations(app) -> list[tuple[str, str, list[str]]]:
    """(METHOD, path, the query parameters it declares) of every operation of the document."""
    with app.test_request_context():
        doc = app.test_client().get("/openapi.json").get_json()
    return [
        (method.upper(), path, [p["name"] for p in op.get("parameters", []) if p.get("in") == "query"])
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method != "parameters"
    ]


def url_of(path: str, rid: str) -> str:
    return path.replace("{record_id}", rid)


def call(client, method: str, url: str, query: list[tuple[str, str]]):
    kwargs = {"json": {}} if method == "POST" else {}
    return client.open(url, method=method, query_string=query, **kwargs)


def test_every_route_is_in_the_document(app):
    documented = {(m, p) for m, p, _ in operations(app)}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(NOT_DOCUMENTED):
            continue
        path = rule.rule.replace("<string:record_id>", "{record_id}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, path) in documented, (method, rule.rule)


def test_an_unknown_query_parameter_is_refused_on_every_route(app, client):
    rid = client.post("/v1/interpretations", json=SPIKE).json["id"]
    for method, path, _ in operations(app):
        r = call(client, method, url_of(path, rid), [("bogus", "1")])
        assert r.status_code == 422, (method, path, r.status_code, r.get_data(as_text=True)[:200])
        assert r.json["errors"] == {"query.bogus": ["Unknown query parameter."]}, (method, path)
    assert client.get(f"/v1/interpretations/{rid}").json["reviews"] == []


def test_a_query_parameter_sent_twice_is_refused_on_every_route(app, client):
    rid = client.post("/v1/interpretations", json=SPIKE).json["id"]
    checked = 0
    for method, path, names in operations(app):
        for name in names:
            first, second = VALID[name]
            for query in ([(name, first), (name, second)], [(name, first), (name, first)]):
                r = call(client, method, url_of(path, rid), query)
                assert r.status_code == 422, (method, path, name, r.get_data(as_text=True)[:200])
                assert r.json["errors"] == {f"query.{name}": ["Sent more than once: send it once."]}
                checked += 1
    assert checked == 2 * 10  # the list's 5 parameters, the audit trail's 4, the agreement report's 1


def test_a_parameter_sent_once_beside_one_sent_twice_is_still_refused(client):
    client.post("/v1/interpretations", json=SPIKE)
    r = client.get("/v1/interpretations?status=auto&status=review_required&limit=2")
    assert r.status_code == 422 and list(r.json["errors"]) == ["query.status"]
    assert client.get("/v1/interpretations?status=review_required&limit=2").status_code == 200


def test_with_the_store_off_a_query_parameter_is_still_refused(tmp_path):
    client = create_app({"TESTING": True, "DEV_MODE": True, "STORE": "off"}).test_client()
    for url in ["/v1/ruleset?bogus=1", "/healthz?bogus=1", "/v1/interpretations/abc/hl7?bogus=1"]:
        r = client.get(url)
        assert r.status_code == 422 and r.json["errors"] == {"query.bogus": ["Unknown query parameter."]}
    assert client.get("/v1/interpretations?limit=1&limit=2").json["errors"] == {
        "query.limit": ["Sent more than once: send it once."]
    }


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/v1/ruleset", "/openapi.json"])
def test_a_route_without_query_parameters_answers_without_one(client, path):
    assert client.get(path).status_code == 200


def test_every_operation_documents_the_422_for_a_query_parameter(app):
    doc = app.test_client().get("/openapi.json").get_json()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method != "parameters":
                assert "422" in op["responses"], (method, path)


NOT_UTF8 = [
    "Not valid UTF-8 once percent-decoded: percent-encode the UTF-8 bytes of the text (%C3%A9 for \u00e9)."
]


@pytest.mark.parametrize("value", ["MRN%FF1", "MRN%C01", "%80", "MRN%E2%82"])
def test_a_query_value_that_is_not_utf8_once_decoded_is_refused_naming_it(client, value):
    """Read with replacement characters it would be another patient's reference: an empty list."""
    client.post("/v1/interpretations", json={**SPIKE, "patient_ref": "MRN\ufffd1"})
    r = client.get(f"/v1/interpretations?patient_ref={value}")
    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.json["errors"] == {"query.patient_ref": NOT_UTF8}
    assert client.get("/v1/interpretations?patient_ref=MRN%C3%A91").status_code == 200  # UTF-8: read


def test_a_query_parameter_not_utf8_once_decoded_is_refused_on_every_route(app, client):
    rid = client.post("/v1/interpretations", json=SPIKE).json["id"]
    for method, path, names in operations(app):
        for name in [*names, "bogus"]:
            url = f"{url_of(path, rid)}?{name}=a%FFb"
            r = client.open(url, method=method, **({"json": {}} if method == "POST" else {}))
            assert r.status_code == 422, (method, path, name, r.get_data(as_text=True)[:200])
            assert r.json["errors"] == {f"query.{name}": NOT_UTF8}, (method, path)
    r = client.get("/v1/interpretations?%FF=1")  # the name itself
    assert r.status_code == 422 and r.json["errors"] == {"query.\ufffd": NOT_UTF8}


def test_with_the_store_off_a_query_value_not_utf8_is_refused():
    client = create_app({"TESTING": True, "DEV_MODE": True, "STORE": "off"}).test_client()
    for url in ["/v1/interpretations?patient_ref=MRN%FF1", "/healthz?x=%FF"]:
        r = client.get(url)
        assert r.status_code == 422 and list(r.json["errors"]) in (["query.patient_ref"], ["query.x"])
