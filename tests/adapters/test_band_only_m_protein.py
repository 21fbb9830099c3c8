"""A code that reports one band of the serum M-protein (LOINC 51435-6, `band: true` in the code map)
is the whole M-protein only when one clone is found: beside an immunofixation naming two clones it is
a lower bound of the total, never the total."""

from __future__ import annotations

import pytest

from service.adapters.codes import CodeMapError, load_codemap
from service.adapters.hl7v2 import parse_oru

PID = r"PID|1||12345^^^HOSP^MR||Doe^Jane||19600115|F"
OBR = r"OBR|1|ORD1|FIL1|SPEP^Serum protein electrophoresis^L|||20240501083000"
BAND1 = r"OBX|1|NM|51435-6^Protein.monoclonal band 1^LN||1.8|g/dL|||||F"
TOTAL = r"OBX|3|NM|33358-3^Protein.monoclonal^LN||3.3|g/dL|||||F"


def message(*segments: str) -> str:
    msh = r"MSH|^~\&|LIS|CENTRAL-LAB|MGI|HOSP|20240501120000||ORU^R01^ORU_R01|BAND1|P|2.5.1"
    return "\r".join([msh, PID, OBR, *segments]) + "\r"


def ife(text: str) -> str:
    return rf"OBX|2|ST|25700-6^Immunofixation^LN||{text}||||||F"


def test_band_one_beside_two_clones_is_a_lower_bound_of_the_total(codemap):
    ctx = parse_oru(message(BAND1, ife("IgG kappa~IgA lambda")), codemap)
    assert ctx.request["spep"]["m_protein"] == {"value": 1.8, "unit": "g/dL", "comparator": ">="}
    assert any("band" in n and "lower bound" in n for n in ctx.notes), ctx.notes


@pytest.mark.parametrize("text", ["IgG kappa", "negative"])
def test_band_one_beside_one_clone_or_none_is_the_m_protein(codemap, text):
    ctx = parse_oru(message(BAND1, ife(text)), codemap)
    assert ctx.request["spep"]["m_protein"] == {"value": 1.8, "unit": "g/dL"}


def test_the_total_wins_over_band_one_whatever_the_clones(codemap):
    ctx = parse_oru(message(BAND1, ife("IgG kappa~IgA lambda"), TOTAL), codemap)
    assert ctx.request["spep"]["m_protein"] == {"value": 3.3, "unit": "g/dL"}


def test_band_is_taken_only_for_the_serum_m_protein(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text(
        "observations:\n  - {code: 'X1', system: '99LAB', target: flc.kappa, band: true}\n", encoding="utf-8"
    )
    with pytest.raises(CodeMapError, match="band"):
        load_codemap(path)


def test_fhir_band_one_beside_two_clones_is_a_lower_bound_of_the_total():
    from service.adapters.fhir import translate_bundle

    from .conftest import TODAY

    def obs(code: str, **value):
        return {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            **value,
        }

    band = obs(
        "51435-6",
        valueQuantity={"value": 18, "unit": "g/L", "system": "http://unitsofmeasure.org", "code": "g/L"},
    )
    ife = obs("25700-6", valueString="IgG kappa and IgA lambda")
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": band}, {"resource": ife}],
    }
    out = translate_bundle(bundle, today=TODAY)
    request = out.request if hasattr(out, "request") else out[0]
    assert request["spep"]["m_protein"] == {"value": 18, "unit": "g/L", "comparator": ">="}


def test_band_one_of_an_earlier_day_beside_two_clones_is_a_lower_bound_in_the_history(codemap):
    """An earlier band-1 result read into the history is one band of the same patient's biclonal
    gammopathy: a lower bound there too, so the evolving rule never compares a band with a total."""
    earlier_band = r"OBX|4|NM|51435-6^Protein.monoclonal band 1^LN||1.8|g/dL|||||F|||20231101"
    ctx = parse_oru(message(TOTAL, ife("IgG kappa~IgA lambda"), earlier_band), codemap)
    (entry,) = ctx.request["history"]
    assert entry["spep"]["m_protein"] == {"value": 1.8, "unit": "g/dL", "comparator": ">="}
    assert ctx.request["spep"]["m_protein"] == {"value": 3.3, "unit": "g/dL"}
