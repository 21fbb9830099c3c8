"""FHIR R4 Bundle in, DiagnosticReport and OperationOutcome out (validated with fhir.resources)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.operationoutcome import OperationOutcome

from service.adapters.fhir import (
    CLASSIFICATION_SYSTEM,
    FhirError,
    bundle_to_request,
    interpretation_to_diagnostic_report,
    operation_outcome,
    translate_bundle,
)

from .conftest import TODAY, sample_json
from .test_adapter_codes import WRONG_CODES

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SCT = "http://snomed.info/sct"


def observation(code: str, system: str = LOINC, **value: Any) -> dict[str, Any]:
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": system, "code": code}]},
    }
    resource.update(value)
    return resource


def quantity(value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {"valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit, **extra}}


def condition(
    code: str, verification: str | None = "confirmed", system: str = SCT, clinical: str | None = None
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": system, "code": code}]},
    }
    if verification:
        resource["verificationStatus"] = {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": verification}
            ]
        }
    if clinical:
        resource["clinicalStatus"] = {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": clinical}
            ]
        }
    return resource


def bundle(*resources: dict[str, Any], kind: str = "collection") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": [{"resource": r} for r in resources]}


M_PROTEIN = observation("33358-3", effectiveDateTime="2024-05-02T10:00:00Z", **quantity(12, "g/L"))


class TestInbound:
    def test_bundle_without_patient(self, codemap):
        request = bundle_to_request(
            bundle(
                M_PROTEIN,
                observation("25700-6", effectiveDateTime="2024-05-02", valueString="IgG kappa"),
                observation(
                    "36916-5", effectiveDateTime="2024-05-02", **quantity(0.2, "mg/L", comparator="<")
                ),
            ),
            codemap,
        )
        assert request == {
            "collected_on": "2024-05-02",
            "spep": {"m_protein": {"value": 12, "unit": "g/L"}},
            "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
            "flc": {"kappa": {"value": 0.2, "unit": "mg/L", "comparator": "<"}},
        }

    def test_bundle_with_patient_gives_age_at_collection_and_sex(self, codemap):
        patient = {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1950-05-03"}
        request = bundle_to_request(bundle(patient, M_PROTEIN), codemap)
        assert request["patient"] == {"age_years": 73, "sex": "male"}  # a day before the birthday

    def test_patient_age_uses_today_without_an_effective_date(self, codemap):
        patient = {"resourceType": "Patient", "gender": "female", "birthDate": "1990-01-15"}
        request = bundle_to_request(
            bundle(patient, observation("33358-3", **quantity(3, "g/L"))), codemap, today=TODAY
        )
        assert request["patient"] == {"age_years": 34, "sex": "female"}

    def test_partial_birth_date_gives_no_age(self, codemap):
        patient = {"resourceType": "Patient", "gender": "female", "birthDate": "1990"}
        result = translate_bundle(bundle(patient, M_PROTEIN), codemap)
        assert result.request["patient"] == {"sex": "female"}
        assert any("partial" in n for n in result.notes)

    @pytest.mark.parametrize("kind", ["collection", "batch", "transaction"])
    def test_bundle_types(self, codemap, kind):
        data = bundle(M_PROTEIN, kind=kind)
        if kind != "collection":
            data["entry"][0]["request"] = {"method": "POST", "url": "Observation"}
        assert bundle_to_request(data, codemap)["spep"]

    def test_conditions(self, codemap):
        request = bundle_to_request(
            bundle(
                M_PROTEIN,
                condition("40930008", "refuted"),
                condition("34486009", "confirmed"),  # one confirmed thyroid disease is enough
                condition("23132008", None),  # no verificationStatus: taken as confirmed
                condition("C90.3", "confirmed", system="http://hl7.org/fhir/sid/icd-10"),
                condition("17602002"),  # disabled default: ignored
            ),
            codemap,
        )
        assert request["clinical"] == {"thyroid_disease": True, "amyloidosis": True, "plasmacytoma": True}

    def test_condition_without_subject_is_invalid_fhir(self, codemap):
        cond = condition("40930008")
        del cond["subject"]
        with pytest.raises(FhirError) as err:
            bundle_to_request(bundle(M_PROTEIN, cond), codemap)
        assert "Bundle.entry[1].resource.subject" in err.value.errors

    def test_condition_statuses(self, codemap):
        result = translate_bundle(
            bundle(
                M_PROTEIN,
                condition("40930008", "provisional"),
                condition("34486009", "entered-in-error"),
                condition("23132008", "confirmed", clinical="resolved"),
            ),
            codemap,
        )
        assert "clinical" not in result.request
        assert any(
            n.startswith(
                "Bundle.entry[1].resource (40930008): provisional diagnosis does "
                "not assert clinical.thyroid_disease"
            )
            for n in result.notes
        )
        assert any(
            n.startswith("Bundle.entry[2].resource (34486009): entered-in-error") for n in result.notes
        )
        assert any(
            n.startswith("Bundle.entry[3].resource (23132008): confirmed/resolved") for n in result.notes
        )

    def test_local_scleromyxoedema_condition(self, lab_codemap):
        system = "https://lab.example/fhir/CodeSystem/mg"
        for verification, expected in [
            ("confirmed", "confirmed"),
            ("differential", "suspected"),
            ("refuted", "absent"),
        ]:
            request = bundle_to_request(
                bundle(M_PROTEIN, condition("SCLMYX-DX", verification, system=system)), lab_codemap
            )
            assert request["clinical"] == {"scleromyxedema": expected}

    def test_local_code_needs_the_lab_codemap(self, codemap, lab_codemap):
        data = bundle(observation("MPROT", "https://lab.example/fhir/CodeSystem/mg", **quantity(7, "g/L")))
        assert bundle_to_request(data, codemap) == {}
        assert bundle_to_request(data, lab_codemap) == {"spep": {"m_protein": {"value": 7, "unit": "g/L"}}}

    def test_units_and_reference_ranges(self, codemap):
        tsh = observation(
            "3016-3",
            **quantity(1.9, "m[IU]/L"),
            referenceRange=[{"low": {"value": 0.4}, "high": {"value": 4.0}}],
        )
        egfr = observation(
            "98979-8", **quantity(88, "mL/min/{1.73_m2}"), referenceRange=[{"low": {"value": 60}}]
        )
        calcium = observation("17861-6", **quantity(9.4, "mg/dL"), referenceRange=[{"high": {"value": 10.2}}])
        result = translate_bundle(bundle(tsh, egfr, calcium), codemap)
        assert result.request["labs"] == {
            "tsh": {"value": 1.9, "unit": "mIU/L", "reference_range": {"low": 0.4, "high": 4.0}},
            "egfr": {"value": 88, "unit": "mL/min/1.73m2"},
            "calcium": {"value": 9.4, "unit": "mg/dL"},
        }
        assert any("one-sided reference range" in n for n in result.notes)
        assert any("no rule reads a reference range of labs.egfr" in n for n in result.notes)

    def test_unit_from_unit_when_not_ucum(self, codemap):
        ca = observation("17861-6", valueQuantity={"value": 9.4, "unit": "mg/dL"})
        assert bundle_to_request(bundle(ca), codemap)["labs"]["calcium"]["unit"] == "mg/dL"

    def test_skipped_observations(self, codemap):
        cancelled = copy.deepcopy(M_PROTEIN)
        cancelled["status"] = "cancelled"
        result = translate_bundle(bundle(cancelled, {"resourceType": "Specimen"}), codemap)
        assert result.request == {}
        assert any("status 'cancelled'" in n for n in result.notes)
        assert any("Specimen ignored" in n for n in result.notes)

    def test_coded_ife_reads_the_text_then_the_display(self, codemap):
        ife = observation(
            "25700-6",
            valueCodeableConcept={"coding": [{"system": "urn:lab", "code": "Q1", "display": "free lambda"}]},
        )
        assert bundle_to_request(bundle(ife), codemap)["serum_ife"]["clones"] == [
            {"heavy_chain": None, "light_chain": "lambda"}
        ]


class TestInboundErrors:
    @pytest.mark.parametrize("code", sorted(WRONG_CODES))
    def test_every_wrong_code_is_rejected(self, codemap, code):
        with pytest.raises(FhirError) as err:
            bundle_to_request(bundle(M_PROTEIN, observation(code, **quantity(8, "%"))), codemap)
        assert WRONG_CODES[code] in err.value.message
        assert list(err.value.errors) == ["Bundle.entry[1].resource"]
        outcome = err.value.operation_outcome()
        assert WRONG_CODES[code] in outcome["issue"][0]["diagnostics"]

    def test_invalid_fhir_becomes_an_operation_outcome(self, codemap):
        data = bundle({"resourceType": "Observation", "status": "final"})
        with pytest.raises(FhirError) as err:
            bundle_to_request(data, codemap)
        assert err.value.status == 422
        assert err.value.message == (
            "the Bundle is not valid FHIR R4: Bundle.entry[0].resource.code: Field required"
        )
        assert err.value.errors == {"Bundle.entry[0].resource.code": ["Field required"]}
        outcome = err.value.operation_outcome()
        OperationOutcome.model_validate(outcome)
        assert outcome["issue"][0]["expression"] == ["Bundle.entry[0].resource.code"]
        assert outcome["issue"][0]["code"] == "invalid"

    @pytest.mark.parametrize(
        ("resource_type", "shown"),
        [
            (1, "a int"),
            (1e308, "a float"),
            (True, "a bool"),
            ([1], "a list"),
            ({"result": "positive"}, "a dict"),
            ("", "''"),
            ("Nope", "'Nope'"),
            ("observation", "'observation'"),
            ("2026-01-01", "'2026-01-01'"),
        ],
    )
    def test_a_resource_type_that_names_no_fhir_resource_is_a_422_at_its_place(
        self, codemap, resource_type, shown
    ):
        # fhir.resources raised TypeError/KeyError (a 500) on these, found by fuzzing mutated bundles.
        data = bundle(M_PROTEIN, {"resourceType": resource_type, "status": "final"})
        with pytest.raises(FhirError) as err:
            bundle_to_request(data, codemap)
        where = "Bundle.entry[1].resource.resourceType"
        assert err.value.status == 422
        assert err.value.errors == {where: [f"{shown} is not a FHIR R4B resource type"]}
        assert where in err.value.message
        OperationOutcome.model_validate(err.value.operation_outcome())

    @pytest.mark.parametrize(
        ("element", "value", "problem"),
        [
            ("valueBoolean", "false", "valueBoolean must be JSON true or false"),
            ("valueBoolean", 0, "valueBoolean must be JSON true or false"),
            ("effectiveDateTime", 5, "effectiveDateTime must be a FHIR date/dateTime string"),
        ],
    )
    def test_a_primitive_of_the_wrong_json_type_is_refused_not_read_as_python_truth(
        self, lab_codemap, element, value, problem
    ):
        # fhir.resources validates leniently ("false" passes as a boolean); read as Python truth, a
        # fever sent as "false" was a fever, and with scleromyxoedema the dermato-neuro emergency.
        fever = observation("FEVER", system="https://lab.example/fhir/CodeSystem/mg", valueBoolean=False)
        fever[element] = value
        with pytest.raises(FhirError) as err:
            bundle_to_request(bundle(M_PROTEIN, fever), lab_codemap)
        assert err.value.status == 422
        assert err.value.errors == {"Bundle.entry[1].resource": [problem]}

    @pytest.mark.parametrize(
        ("code", "change", "problem"),
        [
            (
                "33358-3",
                {"valueQuantity": {"value": "12", "unit": "g/L"}},
                "valueQuantity.value must be a JSON number",
            ),
            (
                "36916-5",  # free kappa: a result whose reference range is read
                {"referenceRange": [{"low": {"value": "1"}, "high": {"value": 2}}]},
                "referenceRange.low.value must be a JSON number",
            ),
        ],
    )
    def test_a_number_sent_as_a_string_is_refused(self, codemap, code, change, problem):
        result = observation(code, effectiveDateTime="2024-05-02T10:00:00Z", **quantity(12, "mg/L"))
        result = dict(result, **change)
        with pytest.raises(FhirError) as err:
            bundle_to_request(bundle(result), codemap)
        assert err.value.errors == {"Bundle.entry[0].resource": [problem]}

    def test_null_elements_are_refused_where_they_are(self, codemap):
        data = bundle(dict(M_PROTEIN, valueQuantity=None), {"resourceType": None})
        with pytest.raises(FhirError) as err:
            bundle_to_request(data, codemap)
        null = ["null is not allowed in FHIR JSON: leave the element out"]
        assert err.value.errors == {
            "Bundle.entry[0].resource.valueQuantity": null,
            "Bundle.entry[1].resource.resourceType": null,
        }
        assert err.value.message.endswith("(and 1 more)")

    def test_a_contained_resource_is_checked_too(self, codemap):
        observation_with = dict(M_PROTEIN, contained=[{"resourceType": "Nope"}])
        with pytest.raises(FhirError) as err:
            bundle_to_request(bundle(observation_with), codemap)
        assert list(err.value.errors) == ["Bundle.entry[0].resource.contained[0].resourceType"]

    @pytest.mark.parametrize(
        ("data", "fragment"),
        [
            ({"resourceType": "Patient"}, "must be a FHIR Bundle"),
            ([], "must be a FHIR Bundle"),
            (bundle(M_PROTEIN, kind="history"), "Bundle.type 'history'"),
            (
                bundle({"resourceType": "Patient"}, {"resourceType": "Patient"}, M_PROTEIN),
                "more than one Patient",
            ),
            (bundle(observation("25700-6", valueString="speckled")), "'speckled' is not understood"),
            (bundle(observation("33358-3", valueString="12")), "needs a valueQuantity"),
            (bundle(observation("11118-7", **quantity(8, "mg"))), "must be in %"),
            (
                bundle(
                    observation(
                        "17861-6",
                        valueQuantity={"value": 2.3, "unit": "mmol/L"},
                        referenceRange=[
                            {"low": {"value": 8.6, "unit": "mg/dL"}, "high": {"value": 10.3, "unit": "mg/dL"}}
                        ],
                    )
                ),
                "referenceRange.low is in 'mg/dL'",
            ),
            (
                bundle(
                    M_PROTEIN, observation("33358-3", effectiveDateTime="2024-05-02", **quantity(13, "g/L"))
                ),
                "conflicting values",
            ),
            (
                bundle(
                    observation("36916-5", **quantity(40, "mg/L")),
                    observation("33944-0", **quantity(10, "mg/L")),
                    observation("48378-4", valueQuantity={"value": 0.4}),
                ),
                "disagrees",
            ),
        ],
    )
    def test_errors(self, codemap, data, fragment):
        with pytest.raises(FhirError, match=fragment):
            bundle_to_request(data, codemap)

    def test_a_reported_ratio_that_disagrees_is_located_at_its_observation(self, codemap):
        data = bundle(
            observation("36916-5", **quantity(40, "mg/L")),
            observation("33944-0", **quantity(10, "mg/L")),
            observation("48378-4", valueQuantity={"value": 0.4}),
        )
        with pytest.raises(FhirError) as err:
            bundle_to_request(data, codemap)
        assert list(err.value.errors) == ["Bundle.entry[2].resource"]


class TestDiagnosticReport:
    def test_report_validates_and_carries_the_interpretation(self, worked_example_response):
        request_bundle = sample_json("bundle_worked_example_s6.json")
        now = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)
        report = interpretation_to_diagnostic_report(worked_example_response, request_bundle, now=now)
        DiagnosticReport.model_validate(report)  # round-trips through fhir.resources
        assert report["resourceType"] == "DiagnosticReport" and report["status"] == "final"
        assert report["subject"] == {"reference": "Patient/pat-034"}
        assert report["effectiveDateTime"] == "2024-03-15"
        assert report["issued"].startswith("2024-03-15T12:00:00")
        assert report["conclusion"] == worked_example_response["comment"]
        coding = report["conclusionCode"][0]["coding"][0]
        assert (coding["system"], coding["code"]) == (CLASSIFICATION_SYSTEM, "MGUS_NON_IGM")
        assert report["conclusionCode"][0]["text"].endswith("(provisional)")
        contained = {obs["id"]: obs for obs in report["contained"]}
        assert [r["reference"] for r in report["result"]] == [f"#{i}" for i in contained]
        mayo = contained["risk-mgus-mayo-2005"]
        assert mayo["code"]["coding"][0]["code"] == "RISK_MGUS_MAYO_2005"
        assert mayo["dataAbsentReason"]["coding"][0]["code"] == "unknown"
        assert any("low, low_intermediate" in n["text"] for n in mayo["note"])
        flags = [o for o in report["contained"] if o["code"]["coding"][0]["code"] == "FLAG"]
        assert [f["valueCodeableConcept"]["coding"][0]["code"] for f in flags] == [
            f["code"] for f in worked_example_response["flags"]
        ]
        first = flags[0]
        severity = next(c for c in first["component"] if c["code"]["coding"][0]["code"] == "FLAG_SEVERITY")
        assert severity["valueCodeableConcept"]["coding"][0]["code"] == "refer"
        refer = [c["valueString"] for c in first["component"] if c["code"]["coding"][0]["code"] == "REFER_TO"]
        assert refer == worked_example_response["flags"][0]["refer_to"]
        assert contained["isotype"]["valueString"] == "IgG kappa"
        assert contained["classification-provisional"]["valueBoolean"] is True

    def test_report_without_patient(self):
        interpretation = {
            "classification": {
                "code": "NO_MONOCLONAL_PROTEIN",
                "label": "None",
                "provisional": False,
                "isotype": None,
            },
            "risk": {"mgus_mayo_2005": {"group": "low"}},
            "flags": [],
            "comment": "",
        }
        report = interpretation_to_diagnostic_report(interpretation, bundle(M_PROTEIN))
        DiagnosticReport.model_validate(report)
        assert "subject" not in report and "conclusion" not in report
        risk = report["contained"][-1]
        assert risk["valueCodeableConcept"]["coding"][0]["code"] == "low"
        assert report["effectiveDateTime"] == "2024-05-02"

    def test_risk_score_component(self):
        interpretation = {"risk": {"smm_imwg_2020": {"group": "intermediate", "score": 9}}}
        report = interpretation_to_diagnostic_report(interpretation, None)
        risk = report["contained"][0]
        assert risk["component"][0]["valueQuantity"]["value"] == 9


class TestOperationOutcome:
    @pytest.mark.parametrize(
        ("status", "code", "severity"),
        [
            (400, "structure", "error"),
            (415, "not-supported", "error"),
            (413, "too-long", "error"),
            (422, "invalid", "error"),
            (404, "not-found", "error"),
            (500, "exception", "fatal"),
        ],
    )
    def test_status_codes(self, status, code, severity):
        outcome = operation_outcome("something went wrong", status)
        OperationOutcome.model_validate(outcome)
        assert outcome["issue"] == [
            {"severity": severity, "code": code, "diagnostics": "something went wrong"}
        ]

    def test_field_errors_name_the_source_entry(self, codemap):
        result = translate_bundle(bundle(observation("33358-3", **quantity(1, "ug/mL"))), codemap)
        outcome = operation_outcome(
            {"spep.m_protein.unit": ["Must be one of: g/L, g/dL."]}, 422, sources=result.sources
        )
        OperationOutcome.model_validate(outcome)
        issue = outcome["issue"][0]
        assert issue["diagnostics"] == "spep.m_protein.unit: Must be one of: g/L, g/dL."
        assert issue["expression"] == ["spep.m_protein.unit", "Bundle.entry[0].resource"]

    def test_multiple_messages(self):
        outcome = operation_outcome({"a": ["x", "y"], "b": ["z"]}, 422)
        assert [i["diagnostics"] for i in outcome["issue"]] == ["a: x", "a: y", "b: z"]
