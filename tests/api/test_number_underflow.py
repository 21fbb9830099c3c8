"""A JSON number written non-zero that a float reads as zero (1e-400) is refused with a 422 naming its
field, as a number beyond the float range (1e309) is: read as 0, a detected M-protein would become "no
M-spike". A zero written in any spelling (0e-400, 0.000e5) is zero; the smallest floats (5e-324) are read."""

from __future__ import annotations

import pytest

from service.api.parsing import TOO_SMALL


def panel(m_protein: str = "12", plasma_cells: str = "5", low: str = "2.2") -> bytes:
    return (
        (
            '{"spep": {"m_protein": {"value": @M@, "unit": "g/L"}},'
            ' "serum_ife": {"result": "positive",'
            ' "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},'
            ' "labs": {"calcium": {"value": 2.3, "unit": "mmol/L",'
            ' "reference_range": {"low": @L@, "high": 2.6}}},'
            ' "marrow": {"plasma_cells_percent": @P@}, "patient": {"age_years": 60, "sex": "female"}}'
        )
        .replace("@M@", m_protein)
        .replace("@P@", plasma_cells)
        .replace("@L@", low)
        .encode()
    )


def post(client, raw: bytes):
    return client.post("/v1/interpretations", data=raw, content_type="application/json")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (panel(m_protein="1e-400"), "spep.m_protein.value"),
        (panel(m_protein="-1e-400"), "spep.m_protein.value"),
        (panel(m_protein="0.00001e-330"), "spep.m_protein.value"),
        (panel(m_protein="1E-400"), "spep.m_protein.value"),
        (panel(plasma_cells="2.5e-999"), "marrow.plasma_cells_percent"),
        (panel(low="1e-400"), "labs.calcium.reference_range.low"),
    ],
)
def test_a_non_zero_number_read_as_zero_is_a_422_naming_its_field(client, raw, field):
    resp = post(client, raw)
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["errors"] == {field: [TOO_SMALL]}


def test_the_same_in_a_batch_item(client):
    items = b'{"items": [' + panel(m_protein="1e-400") + b"]}"
    resp = client.post("/v1/interpretations/batch", data=items, content_type="application/json")
    [result] = resp.get_json()["results"]
    assert result["status"] == 422 and result["error"]["errors"] == {"spep.m_protein.value": [TOO_SMALL]}


@pytest.mark.parametrize("zero", ["0", "0.0", "0e-400", "0.000e5", "-0.0e-999"])
def test_a_zero_in_any_spelling_is_zero(client, zero):
    resp = post(client, panel(m_protein=zero))
    assert resp.status_code == 200, resp.get_json()


def test_the_smallest_float_is_read(client):
    assert post(client, panel(m_protein="5e-324")).status_code == 200


# --- the other end: more significant digits than a float keeps ------------------------------------------
# A JSON number written with more significant digits than a float keeps is refused with a 422 naming its
# field, as HL7 v2 and FHIR refuse it: 2.750000000000000000001 mmol/L read as 2.75 would be judged "not
# above 2.75" although the figure sent is above it. Numbers a float holds as written are read as before.


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (panel(m_protein="29.99999999999999999"), "spep.m_protein.value"),  # read as 30.0
        (panel(plasma_cells="9.99999999999999999999"), "marrow.plasma_cells_percent"),  # read as 10.0
        (panel(low="2.200000000000000000001"), "labs.calcium.reference_range.low"),
    ],
    ids=["m_protein_30", "plasma_cells_10", "reference_limit"],
)
def test_a_number_a_float_does_not_hold_as_written_is_refused_naming_its_field(client, raw, field):
    r = post(client, raw)
    assert r.status_code == 422
    message = r.get_json()["errors"][field][0]
    assert "more significant digits than are read exactly" in message


@pytest.mark.parametrize(
    "literal", ["12", "12.0", "12.50", "1.2e1", "0.30000000000000004", "12.345678901234"]
)
def test_numbers_a_float_holds_as_written_are_read(client, literal):
    assert post(client, panel(m_protein=literal)).status_code in (200, 201)


def test_the_batch_refuses_the_item_that_carries_such_a_number(client):
    raw = b'{"items": [' + panel(m_protein="29.99999999999999999") + b", " + panel() + b"]}"
    r = client.post("/v1/interpretations/batch", data=raw, content_type="application/json")
    assert r.status_code in (200, 207)
    statuses = [item["status"] for item in r.get_json()["results"]]
    assert statuses[0] == 422 and statuses[1] in (200, 201)
