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
