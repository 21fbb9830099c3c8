"""Off-scale flags: HL7 OBX-8 '>' / '<' (table 0078: above the absolute high-off, below the absolute
low-off instrument scale) and FHIR Observation.interpretation '>' / '<' (v3 ObservationInterpretation)
make the value a bound, as the JSON request's comparator does; a comparator saying the opposite is
refused at the flag. Other flags (H, L, A...) leave the value as it is."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from service.adapters.fhir import FhirError, translate_bundle
from service.adapters.hl7v2 import Hl7Error, parse_oru

TODAY = date(2024, 8, 1)
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def message(lam: str = "140", flag: str = ">", *, kappa_flag: str = "") -> str:
    return "\r".join(
        [
            r"MSH|^~\&|LIS|LAB|MGI|HOSP|20240501120000||ORU^R01^ORU_R01|OS1|P|2.5.1",
            "PID|1||P1^^^HOSP^MR||Doe^John||19500101|M",
            "OBR|1|ORD1|FIL1|SPEP^Panel^L|||20240501083000",
            "OBX|1|ST|25700-6^x^LN||IgA lambda||||||F",
            "OBX|2|NM|33358-3^x^LN||12|g/L|||||F",
            "OBX|3|NM|11118-7^x^LN||12|%|||||F",
            f"OBX|4|NM|36916-5^x^LN||1.5|mg/L||{kappa_flag}|||F||||||Freelite",
            f"OBX|5|NM|33944-0^x^LN||{lam}|mg/L||{flag}|||F||||||Freelite",
        ]
    )


def read(text: str, codemap) -> Any:
    return parse_oru(text, codemap, today=TODAY)


class TestHl7Obx8:
    def test_above_scale_reads_the_value_as_a_lower_bound_with_a_note(self, codemap):
        ctx = read(message("140", ">"), codemap)
        assert ctx.request["flc"]["lambda"] == {"value": 140, "unit": "mg/L", "comparator": ">"}
        assert any("OBX-8 '>'" in n and "read as >140" in n for n in ctx.notes)

    def test_below_scale_reads_the_value_as_an_upper_bound(self, codemap):
        ctx = read(message("80", "", kappa_flag="<"), codemap)
        assert ctx.request["flc"]["kappa"] == {"value": 1.5, "unit": "mg/L", "comparator": "<"}
        assert "comparator" not in ctx.request["flc"]["lambda"]

    @pytest.mark.parametrize(("value", "comparator"), [(">140", ">"), (">=140", ">=")])
    def test_a_comparator_in_obx5_that_agrees_is_kept(self, codemap, value, comparator):
        ctx = read(message(value, ">"), codemap)
        assert ctx.request["flc"]["lambda"]["comparator"] == comparator

    @pytest.mark.parametrize(("value", "flag"), [("<5", ">"), (">140", "<"), ("<=5", ">")])
    def test_a_comparator_in_obx5_that_contradicts_is_refused_at_obx8(self, codemap, value, flag):
        with pytest.raises(Hl7Error) as err:
            read(message(value, flag), codemap)
        assert (err.value.segment, err.value.index, err.value.field) == ("OBX", 5, 8)
        assert err.value.ack_code == "AE"
        assert "contradicts" in str(err.value)

    def test_both_off_scale_flags_are_refused(self, codemap):
        with pytest.raises(Hl7Error) as err:
            read(message("140", ">~<"), codemap)
        assert err.value.field == 8

    @pytest.mark.parametrize("flag", ["H", "HH", "L", "A", "N", ""])
    def test_other_flags_leave_the_value_exact(self, codemap, flag):
        ctx = read(message("140", flag), codemap)
        assert ctx.request["flc"]["lambda"] == {"value": 140, "unit": "mg/L"}

    def test_an_off_scale_plain_number_is_refused_at_obx8(self, codemap):
        text = message().replace("OBX|3|NM|11118-7^x^LN||12|%|||||F", "OBX|3|NM|11118-7^x^LN||95|%||>|||F")
        with pytest.raises(Hl7Error) as err:
            read(text, codemap)
        assert (err.value.index, err.value.field) == (3, 8)

    def test_through_the_engine_the_flc_ratio_event_is_not_assessable(self, client, codemap):
        # The bound decides nothing: kappa 1.5, lambda above 140 is a ratio above 93.3, maybe >= 100.
        ctx = read(message("140", ">"), codemap)
        body = client.post("/v1/interpretations", json=ctx.request).get_json()
        status = {c["id"]: c["status"] for c in body["criteria"]}
        assert status["mde.flc_ratio_ge_100"] == "not_assessable"


def observation(code: str, value: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "resource": {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2024-05-01",
            "valueQuantity": value,
            "method": {"text": "Freelite"},
            **extra,
        }
    }


def bundle(*, interpretation: list[dict[str, Any]] | None = None, comparator: str | None = None) -> dict:
    lam: dict[str, Any] = {
        "value": 140,
        "unit": "mg/L",
        "system": "http://unitsofmeasure.org",
        "code": "mg/L",
    }
    if comparator:
        lam["comparator"] = comparator
    extra = {"interpretation": interpretation} if interpretation is not None else {}
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": "p1",
                    "gender": "male",
                    "birthDate": "1950-01-01",
                }
            },
            observation(
                "36916-5",
                {"value": 1.5, "unit": "mg/L", "system": "http://unitsofmeasure.org", "code": "mg/L"},
            ),
            observation("33944-0", lam, **extra),
        ],
    }


def off_scale(code: str, system: str | None = V3) -> list[dict[str, Any]]:
    coding = {"code": code} if system is None else {"system": system, "code": code}
    return [{"coding": [coding]}]


class TestFhirInterpretation:
    @pytest.mark.parametrize("system", [V3, "http://hl7.org/fhir/v3/ObservationInterpretation", None])
    def test_off_scale_high_reads_the_value_as_a_lower_bound_with_a_note(self, codemap, system):
        tr = translate_bundle(bundle(interpretation=off_scale(">", system)), codemap, today=TODAY)
        assert tr.request["flc"]["lambda"]["comparator"] == ">"
        assert any("interpretation '>'" in n and "read as >140" in n for n in tr.notes)

    def test_off_scale_low_reads_the_value_as_an_upper_bound(self, codemap):
        tr = translate_bundle(bundle(interpretation=off_scale("<")), codemap, today=TODAY)
        assert tr.request["flc"]["lambda"]["comparator"] == "<"

    def test_a_comparator_that_agrees_is_kept(self, codemap):
        tr = translate_bundle(bundle(interpretation=off_scale(">"), comparator=">="), codemap, today=TODAY)
        assert tr.request["flc"]["lambda"]["comparator"] == ">="

    def test_a_comparator_that_contradicts_is_refused_at_the_interpretation(self, codemap):
        with pytest.raises(FhirError) as err:
            translate_bundle(bundle(interpretation=off_scale(">"), comparator="<"), codemap, today=TODAY)
        assert "Bundle.entry[2].resource.interpretation[0].coding[0]" in str(err.value)
        assert "contradicts" in str(err.value)

    @pytest.mark.parametrize("code", ["H", "HH", "L", "A", "N"])
    def test_other_interpretations_leave_the_value_exact(self, codemap, code):
        tr = translate_bundle(bundle(interpretation=off_scale(code)), codemap, today=TODAY)
        assert "comparator" not in tr.request["flc"]["lambda"]

    def test_a_code_of_another_system_is_not_read(self, codemap):
        tr = translate_bundle(
            bundle(interpretation=off_scale(">", "https://lab.example/flags")), codemap, today=TODAY
        )
        assert "comparator" not in tr.request["flc"]["lambda"]

    def test_the_reviewers_bundle_and_the_json_request_agree(self, codemap):
        one = bundle(interpretation=off_scale(">"))
        other = copy.deepcopy(one)
        del other["entry"][2]["resource"]["interpretation"]
        other["entry"][2]["resource"]["valueQuantity"]["comparator"] = ">"
        first = translate_bundle(one, codemap, today=TODAY).request
        second = translate_bundle(other, codemap, today=TODAY).request
        assert first["flc"] == second["flc"]
