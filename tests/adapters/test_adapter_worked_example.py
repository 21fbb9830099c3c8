"""clinical-reference §6 worked example (and other panels): HL7 v2 and FHIR give the JSON request.

The HTTP layer validates the translated dict with the same request schema as a JSON call, so an
identical request dict means an identical interpretation.
"""

from __future__ import annotations

from typing import Any

import pytest

from service.adapters.fhir import bundle_to_request
from service.adapters.hl7v2 import message_to_request

from .conftest import sample_bytes, sample_json


def test_the_json_example_is_the_section_6_case(worked_example_request):
    r = worked_example_request
    assert r["patient"] == {"age_years": 34, "sex": "female"}
    assert r["spep"]["m_protein"] == {"value": 16, "unit": "g/L", "comparator": "<"}
    assert r["serum_ife"] == {
        "result": "positive",
        "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}],
    }
    assert r["marrow"] == {"plasma_cells_percent": 8}
    ratio = r["flc"]["kappa"]["value"] / r["flc"]["lambda"]["value"]
    assert 0.26 <= ratio <= 1.65  # FLC ratio normal
    for name, low, high in [
        ("calcium", 2.15, 2.55),
        ("creatinine", 45, 84),
        ("hemoglobin", 120, 160),
        ("tsh", 0.4, 4.0),
    ]:
        lab = r["labs"][name]
        assert lab["reference_range"] == {"low": low, "high": high}
        assert low <= lab["value"] <= high  # CRAB labs and thyroid function normal
    assert r["imaging"] == {"osteolytic_lesions": 0}
    assert r["clinical"] == {
        "scleromyxedema": "confirmed",
        "papular_eruption": True,
        "sclerodermoid_induration": True,
        "histology_mucin_fibrosis": True,
        "fever": False,
        "neurologic_signs": False,
        "thyroid_disease": False,
    }


def test_hl7_worked_example_gives_the_json_request(lab_codemap, worked_example_request):
    request = message_to_request(sample_bytes("oru_worked_example_s6.hl7"), lab_codemap)
    assert request == worked_example_request


def test_fhir_worked_example_gives_the_json_request(lab_codemap, worked_example_request):
    request = bundle_to_request(sample_json("bundle_worked_example_s6.json"), lab_codemap)
    assert request == worked_example_request


def test_without_the_lab_codes_the_clinical_findings_are_missing(codemap, worked_example_request):
    # The clinical findings and the CT travel as lab-local codes: the defaults cannot know them,
    # and the request then lacks exactly those fields (never a guessed value).
    request = message_to_request(sample_bytes("oru_worked_example_s6.hl7"), codemap)
    assert request["clinical"] == {"thyroid_disease": False}
    assert "imaging" not in request
    expected = {k: v for k, v in worked_example_request.items() if k not in ("clinical", "imaging")}
    assert {k: v for k, v in request.items() if k != "clinical"} == expected


def _hl7(*obx: str) -> bytes:
    head = [
        r"MSH|^~\&|LIS|LAB|MGI|HOSP|20240901080000||ORU^R01^ORU_R01|EQ1|P|2.5.1",
        r"PID|1||777||Test^Pat||19560902|M",
        r"OBR|1|O1|F1|MG^MG^L|||20240901",
    ]
    return "\r".join(head + list(obx)).encode()


def _fhir(*observations: dict[str, Any]) -> dict[str, Any]:
    patient = {"resourceType": "Patient", "id": "p", "gender": "male", "birthDate": "1956-09-02"}
    entries = [{"resource": patient}]
    for obs in observations:
        resource = {
            "resourceType": "Observation",
            "status": "final",
            "subject": {"reference": "Patient/p"},
            "effectiveDateTime": "2024-09-01",
            **obs,
        }
        entries.append({"resource": resource})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _q(code: str, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
            **extra,
        },
    }


def _s(code: str, text: str) -> dict[str, Any]:
    return {"code": {"coding": [{"system": "http://loinc.org", "code": code}]}, "valueString": text}


PANELS = {
    "smouldering IgA lambda": (
        _hl7(
            r"OBX|1|NM|33358-3^M^LN||3.4|g/dL|||||F",
            r"OBX|2|ST|25700-6^IFE^LN||IgA lambda||||||F",
            r"OBX|3|NM|36916-5^K^LN||9|mg/L|3.3-19.4||||F",
            r"OBX|4|NM|33944-0^L^LN||310|mg/L|5.7-26.3||||F",
            r"OBX|5|NM|11118-7^PC^LN||25|%|||||F",
            r"OBX|6|NM|17861-6^Ca^LN||9.4|mg/dL|8.6-10.3||||F",
        ),
        _fhir(
            _q("33358-3", 3.4, "g/dL"),
            _s("25700-6", "IgA lambda"),
            {
                **_q("36916-5", 9, "mg/L"),
                "referenceRange": [{"low": {"value": 3.3}, "high": {"value": 19.4}}],
            },
            {
                **_q("33944-0", 310, "mg/L"),
                "referenceRange": [{"low": {"value": 5.7}, "high": {"value": 26.3}}],
            },
            _q("11118-7", 25, "%"),
            {
                **_q("17861-6", 9.4, "mg/dL"),
                "referenceRange": [{"low": {"value": 8.6}, "high": {"value": 10.3}}],
            },
        ),
    ),
    "negative IFE, light chain below detection, urine": (
        _hl7(
            r"OBX|1|NM|33358-3^M^LN||0|g/L|||||F",
            r"OBX|2|ST|25700-6^IFE^LN||no monoclonal protein detected||||||F",
            r"OBX|3|SN|33944-0^L^LN||<^0.5|mg/L|||||F",
            r"OBX|4|NM|42482-0^U^LN||0.62|g/(24.h)|||||F",
            r"OBX|5|CWE|13440-3^UIFE^LN||K^free kappa^L||||||F",
            r"OBX|6|NM|98979-8^eGFR^LN||52|mL/min/{1.73_m2}|||||F",
        ),
        _fhir(
            _q("33358-3", 0, "g/L"),
            _s("25700-6", "Negative"),
            _q("33944-0", 0.5, "mg/L", comparator="<"),
            _q("42482-0", 0.62, "g/(24.h)"),
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "13440-3"}]},
                "valueCodeableConcept": {"text": "free kappa"},
            },
            _q("98979-8", 52, "mL/min/{1.73_m2}"),
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(PANELS))
def test_hl7_and_fhir_give_the_same_request(codemap, name):
    hl7, fhir = PANELS[name]
    from_hl7 = message_to_request(hl7, codemap)
    from_fhir = bundle_to_request(fhir, codemap)
    assert from_hl7 == from_fhir
    assert from_hl7["patient"] == {"age_years": 67, "sex": "male"}  # 1956-09-02 -> 2024-09-01
    assert from_hl7["collected_on"] == "2024-09-01"
