"""Free light chains under two codes of one analyte on one date (kappa 36916-5, 80515-0, 104544-2;
lambda 33944-0, 80516-8): different values are a conflict (HL7 AE 205, FHIR 422), never settled by the
codes' priority, which would drop one silently (and it could be a myeloma-defining event). The same
result sent twice is read once; the eGFR equations keep their order of preference."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from service.adapters.codes import PanelAssembler, ValueProblem
from service.adapters.fhir import FhirError, translate_bundle
from service.adapters.hl7v2 import Hl7Error, parse_oru

TODAY = date(2024, 8, 1)


def message(*results: str) -> str:
    return "\r".join(
        [
            r"MSH|^~\&|LIS|LAB|MGI|HOSP|20240501120000||ORU^R01^ORU_R01|K2|P|2.5.1",
            "PID|1||P1^^^HOSP^MR||Doe^John||19500101|M",
            "OBR|1|ORD1|FIL1|SPEP^Panel^L|||20240501083000",
            "OBX|1|ST|25700-6^x^LN||IgG kappa||||||F",
            "OBX|2|NM|33358-3^x^LN||12|g/L|||||F",
            *results,
        ]
    )


def obx(n: int, code: str, value: str, unit: str = "mg/L", rng: str = "", when: str = "") -> str:
    return f"OBX|{n}|NM|{code}^x^LN||{value}|{unit}|{rng}||||F|||{when}|||Freelite"


def read(text: str, codemap) -> Any:
    return parse_oru(text, codemap, today=TODAY)


class TestHl7:
    @pytest.mark.parametrize(
        ("first", "second", "other"),
        [
            ("36916-5", "80515-0", "33944-0"),
            ("36916-5", "104544-2", "33944-0"),
            ("80515-0", "36916-5", "33944-0"),
            ("33944-0", "80516-8", "36916-5"),
        ],
    )
    def test_different_values_under_two_codes_are_a_conflict_at_the_second(
        self, codemap, first, second, other
    ):
        text = message(obx(3, first, "15"), obx(4, second, "1500"), obx(5, other, "10"))
        with pytest.raises(Hl7Error) as err:
            read(text, codemap)
        assert (err.value.segment, err.value.index, err.value.field) == ("OBX", 4, 5)
        assert err.value.hl7_code == 205
        assert err.value.ack_code == "AE"
        assert "conflicting values" in str(err.value)
        assert "15" in str(err.value) and "1500" in str(err.value)

    def test_the_same_value_under_two_codes_is_read_once(self, codemap):
        ctx = read(
            message(obx(3, "36916-5", "15"), obx(4, "80515-0", "15"), obx(5, "33944-0", "10")), codemap
        )
        assert ctx.request["flc"]["kappa"] == {"value": 15, "unit": "mg/L"}

    def test_the_same_value_in_mg_dl_and_mg_l_is_read_once_from_the_preferred_code(self, codemap):
        ctx = read(
            message(obx(3, "80515-0", "1.5", "mg/dL"), obx(4, "36916-5", "15"), obx(5, "33944-0", "10")),
            codemap,
        )
        assert ctx.request["flc"]["kappa"] == {"value": 15, "unit": "mg/L"}
        assert any("80515-0) ignored" in n and "36916-5) is preferred" in n for n in ctx.notes)

    def test_the_same_value_with_a_range_under_one_code_keeps_the_preferred(self, codemap):
        ctx = read(
            message(
                obx(3, "36916-5", "15", rng="3.3-19.4"), obx(4, "80515-0", "15"), obx(5, "33944-0", "10")
            ),
            codemap,
        )
        assert ctx.request["flc"]["kappa"]["reference_range"] == {"low": 3.3, "high": 19.4}

    def test_a_bound_and_a_value_are_different_results(self, codemap):
        with pytest.raises(Hl7Error) as err:
            read(message(obx(3, "36916-5", "15"), obx(4, "80515-0", ">15"), obx(5, "33944-0", "10")), codemap)
        assert err.value.hl7_code == 205

    def test_an_earlier_day_is_a_conflict_too(self, codemap):
        text = message(
            obx(3, "36916-5", "12", when="20240101"),
            obx(4, "80515-0", "1200", when="20240101"),
            obx(5, "36916-5", "15"),
            obx(6, "33944-0", "10"),
        )
        with pytest.raises(Hl7Error) as err:
            read(text, codemap)
        assert err.value.hl7_code == 205

    def test_egfr_equations_keep_their_preference(self, codemap):
        text = message(
            "OBX|3|NM|62238-1^x^LN||50|mL/min/1.73m2|||||F", "OBX|4|NM|98979-8^x^LN||45|mL/min/1.73m2|||||F"
        )
        ctx = read(text, codemap)
        assert ctx.request["labs"]["egfr"]["value"] == 45


def test_the_assembler_refuses_two_kappa_values_whatever_the_priorities():
    panel = PanelAssembler()
    panel.set("flc.kappa", {"value": 15, "unit": "mg/L"}, source="A", priority=0)
    with pytest.raises(ValueProblem, match="conflicting values"):
        panel.set("flc.kappa", {"value": 1500, "unit": "mg/L"}, source="B", priority=1)


def observation(code: str, value: float) -> dict[str, Any]:
    return {
        "resource": {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2024-05-01",
            "valueQuantity": {
                "value": value,
                "unit": "mg/L",
                "system": "http://unitsofmeasure.org",
                "code": "mg/L",
            },
        }
    }


def bundle(*observations: dict[str, Any]) -> dict[str, Any]:
    patient = {
        "resource": {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1950-01-01"}
    }
    return {"resourceType": "Bundle", "type": "collection", "entry": [patient, *observations]}


class TestFhir:
    def test_different_values_under_two_codes_are_refused_at_the_second(self, codemap):
        with pytest.raises(FhirError) as err:
            translate_bundle(
                bundle(observation("36916-5", 15), observation("80515-0", 1500), observation("33944-0", 10)),
                codemap,
                today=TODAY,
            )
        assert "conflicting values" in str(err.value)
        assert "Bundle.entry[2]" in str(err.value)

    def test_the_same_value_under_two_codes_is_read_once(self, codemap):
        tr = translate_bundle(
            bundle(observation("33944-0", 10), observation("80516-8", 10), observation("36916-5", 15)),
            codemap,
            today=TODAY,
        )
        assert tr.request["flc"]["lambda"] == {"value": 10, "unit": "mg/L"}
