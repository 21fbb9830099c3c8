"""A measured creatinine clearance (LOINC 2164-2) and the eGFR codes US laboratories send are read,
never dropped for an estimate of the service's own."""

from __future__ import annotations

from datetime import date

import pytest

from service.adapters.hl7v2 import parse_oru

HL7 = "x-application/hl7-v2+er7"
TODAY = date(2024, 8, 1)


def message(renal: str) -> str:
    return (
        "\r".join(
            [
                r"MSH|^~\&|Beaker|UCSF|MGI|LAB|20240502103000||ORU^R01^ORU_R01|R-CRCL-1|P|2.5.1",
                "PID|1||E1^^^EPI^MR||DOE^JANE||19460315|F",
                "OBR|1|ORD1|LAB1|SPEP^SPEP^L|||20240501083000",
                "OBX|1|NM|33358-3^M-protein^LN||1.2|g/dL|||||F",
                "OBX|2|ST|25700-6^IFE^LN||IgG kappa||||||F",
                "OBX|3|NM|2160-0^Creatinine^LN||1.1|mg/dL|0.6-1.2||||F",
                renal,
            ]
        )
        + "\r"
    )


CLEARANCE = "OBX|4|NM|2164-2^Creatinine renal clearance 24h^LN||35|mL/min|75-115|L|||F"


def test_a_measured_creatinine_clearance_is_read(codemap):
    ctx = parse_oru(message(CLEARANCE), codemap, today=TODAY)
    assert ctx.request["labs"]["creatinine_clearance"] == {"value": 35, "unit": "mL/min"}
    assert not any("not in the code map" in note for note in ctx.notes), ctx.notes


@pytest.mark.parametrize("code", ["48642-3", "48643-1", "88293-6", "88294-4", "77147-7", "50044-7"])
def test_the_us_egfr_codes_are_read_as_egfr(codemap, code):
    ctx = parse_oru(
        message(f"OBX|4|NM|{code}^eGFR^LN||35|mL/min/{{1.73_m2}}|>60|L|||F"), codemap, today=TODAY
    )
    assert ctx.request["labs"]["egfr"] == {"value": 35, "unit": "mL/min/1.73m2"}


def test_the_race_free_egfr_is_preferred_over_a_race_based_one(codemap):
    both = (
        "OBX|4|NM|98979-8^eGFR 2021^LN||35|mL/min/{1.73_m2}|||||F\r"
        "OBX|5|NM|88293-6^eGFR blacks^LN||41|mL/min/{1.73_m2}|||||F"
    )
    ctx = parse_oru(message(both), codemap, today=TODAY)
    assert ctx.request["labs"]["egfr"]["value"] == 35
    assert any("88293-6" in note and "preferred" in note for note in ctx.notes), ctx.notes


def test_the_measured_clearance_decides_the_renal_criterion_not_an_estimate(client):
    resp = client.post("/v1/hl7v2", data=message(CLEARANCE).encode(), content_type=HL7)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200, body[:400]
    assert "|INDETERMINATE^" in body
    assert "MYELOMA_DEFINING_EVENT" in body
    assert "Neither creatinine clearance nor eGFR was given" not in body


def test_the_additions_are_marked_as_beyond_the_shared_loinc_map(codemap):
    for code in ("2164-2", "48642-3", "48643-1", "88293-6", "88294-4", "77147-7", "50044-7"):
        entry = next(e for e in codemap.observations.values() if e.code == code)
        assert "re-check against the LOINC database" in (entry.caveat or "")
        assert "beyond" in (entry.source or "")


@pytest.mark.parametrize(("code", "race_based"), [("88293-6", True), ("48643-1", True), ("88294-4", False)])
def test_an_egfr_code_says_which_equation_it_names(codemap, code, race_based):
    # The reference's own estimate is race-free CKD-EPI 2021: an eGFR read from another equation's code
    # is read, and the input notes say which (a race-based estimate among them).
    ctx = parse_oru(message(f"OBX|4|NM|{code}^eGFR^LN||35|mL/min/{{1.73_m2}}|||||F"), codemap, today=TODAY)
    said = [n for n in ctx.notes if code in n and "read as labs.egfr" in n]
    assert said, ctx.notes
    assert ("race-based" in said[0]) is race_based
