"""FHIR referenceRange.appliesTo and age are held to the patient: the range of the patient's sex (and
age) is read, whatever its place in the list; when none or several apply, none is guessed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from service.adapters import fhir

UCUM = "http://unitsofmeasure.org"
GENDER = "http://hl7.org/fhir/administrative-gender"


def g_dl(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "g/dL", "system": UCUM, "code": "g/dL"}


def sex_range(sex: str, low: float, high: float, **extra: Any) -> dict[str, Any]:
    return {
        "low": g_dl(low),
        "high": g_dl(high),
        "appliesTo": [{"coding": [{"system": GENDER, "code": sex}]}],
        **extra,
    }


FEMALE, MALE = sex_range("female", 12.0, 16.0), sex_range("male", 13.5, 17.5)


def bundle(gender: str | None, ranges: list[dict[str, Any]], birth: str = "1960-03-15") -> dict[str, Any]:
    patient: dict[str, Any] = {"resourceType": "Patient", "id": "p1", "birthDate": birth}
    if gender:
        patient["gender"] = gender
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "Patient/p1", "resource": patient},
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "33358-3"}]},
                    "subject": {"reference": "Patient/p1"},
                    "effectiveDateTime": "2024-05-01",
                    "valueQuantity": {"value": 12, "unit": "g/L", "system": UCUM, "code": "g/L"},
                }
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
                    "subject": {"reference": "Patient/p1"},
                    "effectiveDateTime": "2024-05-01",
                    "valueQuantity": g_dl(11.2),
                    "referenceRange": copy.deepcopy(ranges),
                }
            },
        ],
    }


def hemoglobin(codemap, *args: Any, **kwargs: Any) -> tuple[dict[str, Any], list[str]]:
    tr = fhir.translate_bundle(bundle(*args, **kwargs), codemap)
    return tr.request["labs"]["hemoglobin"], tr.notes


@pytest.mark.parametrize("ranges", [[FEMALE, MALE], [MALE, FEMALE]])
def test_the_range_of_the_patient_s_sex_is_read_in_either_order(codemap, ranges):
    hb, _ = hemoglobin(codemap, "male", ranges)
    assert hb["reference_range"] == {"low": 13.5, "high": 17.5}
    hb, _ = hemoglobin(codemap, "female", ranges)
    assert hb["reference_range"] == {"low": 12.0, "high": 16.0}


def test_a_snomed_appliesto_is_read_as_the_sex(codemap):
    male = {"low": g_dl(13.5), "high": g_dl(17.5), "appliesTo": [{"coding": [{"code": "248153007"}]}]}
    female = {"low": g_dl(12.0), "high": g_dl(16.0), "appliesTo": [{"text": "Female"}]}
    hb, _ = hemoglobin(codemap, "male", [female, male])
    assert hb["reference_range"] == {"low": 13.5, "high": 17.5}


@pytest.mark.parametrize("gender", [None, "unknown", "other"])
def test_sex_specific_ranges_are_left_out_when_the_sex_is_not_known(codemap, gender):
    hb, notes = hemoglobin(codemap, gender, [FEMALE, MALE])
    assert "reference_range" not in hb
    assert any("reference range left out" in n and "does not guess" in n for n in notes), notes


def test_an_age_band_is_held_to_the_patient_s_age(codemap):
    young = sex_range("male", 14.0, 18.0, age={"high": {"value": 59, "unit": "a", "code": "a"}})
    old = sex_range("male", 13.0, 17.0, age={"low": {"value": 60, "unit": "a", "code": "a"}})
    hb, _ = hemoglobin(codemap, "male", [young, old])  # 64 years old on 2024-05-01
    assert hb["reference_range"] == {"low": 13.0, "high": 17.0}


def test_two_ranges_that_both_apply_are_left_out(codemap):
    general = {"low": g_dl(12.0), "high": g_dl(17.5)}
    hb, notes = hemoglobin(codemap, "male", [general, MALE])
    assert "reference_range" not in hb
    assert any("2 apply" in n for n in notes), notes


def test_one_range_without_appliesto_is_read_as_before(codemap):
    hb, notes = hemoglobin(codemap, "male", [{"low": g_dl(13.5), "high": g_dl(17.5)}])
    assert hb["reference_range"] == {"low": 13.5, "high": 17.5}
    assert not any("referenceRange" in n for n in notes)


def test_a_single_range_for_the_other_sex_is_not_read(codemap):
    hb, notes = hemoglobin(codemap, "male", [FEMALE])
    assert "reference_range" not in hb
    assert any("none applies" in n for n in notes), notes


def test_the_male_lower_limit_decides_the_anaemia_criterion(client):
    resp = client.post("/v1/fhir/interpretations", json=bundle("male", [FEMALE, MALE]))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["conclusionCode"][0]["coding"][0]["code"] == "INDETERMINATE"


def test_a_valid_bundle_with_the_male_range_first_and_a_female_patient_is_read(client):
    resp = client.post("/v1/fhir/interpretations", json=bundle("female", [MALE, FEMALE]))
    assert resp.status_code == 200, resp.get_json()
