"""What an LIS or EHR receives: the HL7 v2 ORU^R01 and FHIR DiagnosticReport say what the JSON answer says."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fhir.resources.R4B.diagnosticreport import DiagnosticReport

from service.api import create_app
from tests.conftest import ROOT

SAMPLES = ROOT / "tests" / "adapters" / "samples"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
LAB = "https://lab.example/fhir/CodeSystem/mg"

# Smouldering myeloma (marrow 22 %, M-protein 35 g/L, FLC ratio 6) without FISH: the IMWG 2020 score is
# at least 7 (up to 9 with the cytogenetics), its group open between low-intermediate and intermediate.
SMM_OPEN_JSON = {
    "patient": {"age_years": 60, "sex": "male"},
    "collected_on": "2024-07-20",
    "spep": {"m_protein": {"value": 35, "unit": "g/L"}},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
    "flc": {"kappa": {"value": 60, "unit": "mg/L"}, "lambda": {"value": 10, "unit": "mg/L"}},
    "marrow": {"clonal_plasma_cells_percent": 22},
    "labs": {
        "calcium": {"value": 2.35, "unit": "mmol/L", "reference_range": {"low": 2.15, "high": 2.55}},
        "creatinine": {"value": 80, "unit": "umol/L"},
        "egfr": {"value": 85, "unit": "mL/min/1.73m2"},
        "hemoglobin": {"value": 135, "unit": "g/L", "reference_range": {"low": 120, "high": 160}},
    },
}
# The same smouldering myeloma with its FISH: the score is exact.
SMM_SCORED_JSON = {
    **SMM_OPEN_JSON,
    "cytogenetics": {"t_4_14": False, "t_14_16": False, "gain_1q": False, "del_13q": False},
}


def oru(version: str = "2.5.1", cytogenetics: bool = False) -> bytes:
    """The smouldering myeloma as an ORU^R01 of the given version."""
    message_type = "ORU^R01" if version == "2.3" else "ORU^R01^ORU_R01"
    segments = [
        f"MSH|^~\\&|LIS|LAB|MGI|HOSP|20240720120000||{message_type}|SMM-{version}|P|{version}",
        "PID|1||MRN-77^^^HOSP^MR||Doe^John||19640101|M",
        "OBR|1|O14|FIL-O14|MG^MG panel^99MGL|||20240720083000",
        "OBX|1|NM|33358-3^Protein.monoclonal^LN||35|g/L|||||F",
        "OBX|2|NM|36916-5^Kappa free^LN||60|mg/L|||||F",
        "OBX|3|NM|33944-0^Lambda free^LN||10|mg/L|||||F",
        "OBX|4|NM|CLONPC^Clonal plasma cells^99MGL||22|%|||||F",
        "OBX|5|NM|718-7^Hemoglobin^LN||135|g/L|120-160||||F",
        "OBX|6|NM|98979-8^eGFR^LN||85|mL/min/{1.73_m2}|||||F",
        "OBX|7|NM|2000-8^Calcium^LN||2.35|mmol/L|2.15-2.55||||F",
        "OBX|8|NM|14682-9^Creatinine^LN||80|umol/L|||||F",
        "OBX|9|ST|25700-6^Immunofixation^LN||IgG kappa||||||F",
    ]
    return ("\r".join(segments) + "\r").encode()


def observation(code: str, system: str = LOINC, subject: dict[str, Any] | None = None, **value: Any) -> dict:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": copy.deepcopy(subject) if subject else {"reference": "Patient/p77"},
        "effectiveDateTime": "2024-07-20",
    }
    resource.update(value)
    return resource


def quantity(value: float, unit: str) -> dict[str, Any]:
    return {"valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}


def smm_bundle(subject: dict[str, Any] | None = None, patient: bool = True) -> dict[str, Any]:
    """The smouldering myeloma as a FHIR collection Bundle."""
    results = [
        observation("33358-3", subject=subject, **quantity(35, "g/L")),
        observation("36916-5", subject=subject, **quantity(60, "mg/L")),
        observation("33944-0", subject=subject, **quantity(10, "mg/L")),
        observation("CLONPC", LAB, subject=subject, **quantity(22, "%")),
        observation("718-7", subject=subject, **quantity(135, "g/L")),
        observation("98979-8", subject=subject, **quantity(85, "mL/min/{1.73_m2}")),
        observation("14682-9", subject=subject, **quantity(80, "umol/L")),
        observation("25700-6", subject=subject, valueString="IgG kappa"),
    ]
    entries = [{"resource": r} for r in results]
    if patient:
        person = {"resourceType": "Patient", "id": "p77", "gender": "male", "birthDate": "1964-01-01"}
        entries.insert(0, {"resource": person})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


@pytest.fixture
def lab_client():
    """An app with the lab's own code mapping (a local code for the marrow's clonal plasma cells)."""
    app = create_app({"TESTING": True, "DEV_MODE": True, "CODEMAP_FILE": str(SAMPLES / "lab-codemap.yaml")})
    return app.test_client()


def hl7_segments(client: Any, message: bytes) -> list[list[str]]:
    reply = client.post("/v1/hl7v2", data=message, content_type="x-application/hl7-v2+er7")
    assert reply.status_code == 200, reply.data
    return [line.split("|") for line in reply.data.decode().split("\r") if line]


def obx(segments: list[list[str]], code: str) -> list[str]:
    return next(s for s in segments if s[0] == "OBX" and s[3].split("^")[0] == code)


def fhir_report(client: Any, bundle: dict[str, Any]) -> dict[str, Any]:
    reply = client.post("/v1/fhir/interpretations", json=bundle, content_type="application/fhir+json")
    assert reply.status_code == 200, reply.data
    report = reply.get_json()
    DiagnosticReport.model_validate(report)
    return report


def contained(report: dict[str, Any], obs_id: str) -> dict[str, Any]:
    return next(o for o in report["contained"] if o["id"] == obs_id)


class TestScoreLowerBound:
    """An IMWG 2020 score that data not given could raise is sent as a bound, never as an exact number."""

    def test_the_json_answer_says_the_score_is_a_lower_bound(self, lab_client):
        risk = lab_client.post("/v1/interpretations", json=SMM_OPEN_JSON).get_json()["risk"]["smm_imwg_2020"]
        assert (risk["score"], risk["score_max"], risk["score_is_lower_bound"]) == (7, 9, True)
        scored = lab_client.post("/v1/interpretations", json=SMM_SCORED_JSON).get_json()["risk"][
            "smm_imwg_2020"
        ]
        assert scored["score_is_lower_bound"] is False and isinstance(scored["score"], int)

    @pytest.mark.parametrize("version", ["2.3", "2.4", "2.5.1"])
    def test_hl7_sends_an_open_score_as_sn_at_least(self, lab_client, version):
        score = obx(hl7_segments(lab_client, oru(version)), "RISK_SMM_IMWG_2020_SCORE")
        assert score[2] == "SN"
        assert score[5] == ">=^7"

    def test_fhir_sends_an_open_score_with_comparator(self, lab_client):
        report = fhir_report(lab_client, smm_bundle())
        component = contained(report, "risk-smm-imwg-2020")["component"][0]
        assert component["valueQuantity"] == {"value": 7, "comparator": ">="}


class TestContainedStatus:
    """Each contained Observation is released with the report: its status is the report's."""

    def test_a_report_waiting_for_review_has_preliminary_observations(self, lab_client):
        report = fhir_report(lab_client, smm_bundle())
        assert report["status"] == "preliminary"
        assert {obs["status"] for obs in report["contained"]} == {"preliminary"}

    @pytest.mark.parametrize(
        ("report_status", "observation_status"),
        [
            ("preliminary", "preliminary"),
            ("final", "final"),
            ("amended", "amended"),
            ("partial", "preliminary"),
        ],
    )
    def test_every_contained_observation_matches_the_report(
        self, worked_example_answer, report_status, observation_status
    ):
        from service.adapters.fhir import interpretation_to_diagnostic_report

        notes = ["Bundle.entry[9].resource (BONECT): code not in the code map; ignored"]
        report = interpretation_to_diagnostic_report(
            worked_example_answer, None, input_notes=notes, status=report_status
        )
        DiagnosticReport.model_validate(report)
        assert report["status"] == report_status
        kinds = {obs["id"].split("-")[0] for obs in report["contained"]}
        assert {"classification", "isotype", "risk", "flag", "input"} <= kinds
        assert {obs["status"] for obs in report["contained"]} == {observation_status}


class TestSubjectByIdentifier:
    """Results that name the patient only by identifier (no Patient, no reference): the report and its
    Observations name the patient by that identifier."""

    MRN = {"identifier": {"system": "urn:oid:1.2.3", "value": "MRN-77"}}

    def test_the_report_names_the_identifier_the_results_name(self, lab_client):
        report = fhir_report(lab_client, smm_bundle(subject=copy.deepcopy(self.MRN), patient=False))
        assert report["subject"] == self.MRN
        assert all(obs["subject"] == self.MRN for obs in report["contained"])

    def test_one_identifier_written_with_and_without_a_display_is_named_by_identifier(self, lab_client):
        bundle = smm_bundle(subject=copy.deepcopy(self.MRN), patient=False)
        bundle["entry"][0]["resource"]["subject"]["display"] = "John Doe"
        report = fhir_report(lab_client, bundle)
        assert report["subject"] == self.MRN

    def test_an_identifier_written_alike_everywhere_is_echoed_whole(self, lab_client):
        named = {**copy.deepcopy(self.MRN), "type": "Patient", "display": "John Doe"}
        report = fhir_report(lab_client, smm_bundle(subject=named, patient=False))
        assert report["subject"] == named

    def test_a_bundle_patient_is_still_named_by_reference(self, lab_client):
        report = fhir_report(lab_client, smm_bundle())
        assert report["subject"] == {"reference": "Patient/p77"}


class TestReportIdentifier:
    """The report's business identifier names one interpretation: an EHR that files reports by identifier
    never merges two patients' reports. The ruleset version is an extension, not an identifier."""

    def test_two_interpretations_have_different_identifiers(self, lab_client):
        other = smm_bundle()
        other["entry"][0]["resource"]["id"] = "p78"
        for entry in other["entry"][1:]:
            entry["resource"]["subject"] = {"reference": "Patient/p78"}
        first, second = fhir_report(lab_client, smm_bundle()), fhir_report(lab_client, other)
        assert first["identifier"] != second["identifier"]

    def test_the_identifier_is_the_request_id_and_the_ruleset_version_an_extension(self, lab_client):
        from service.adapters.fhir import REQUEST_ID_SYSTEM, RULESET_VERSION_EXTENSION

        reply = lab_client.post(
            "/v1/fhir/interpretations",
            json=smm_bundle(),
            content_type="application/fhir+json",
            headers={"X-Request-ID": "req-4711"},
        )
        report = reply.get_json()
        DiagnosticReport.model_validate(report)
        assert report["identifier"] == [{"system": REQUEST_ID_SYSTEM, "value": "req-4711"}]
        assert reply.headers["X-Request-ID"] == "req-4711"
        version = lab_client.get("/healthz").get_json()["ruleset_version"]
        assert report["extension"] == [{"url": RULESET_VERSION_EXTENSION, "valueString": version}]
        assert all(version != i["value"] for i in report["identifier"])

    def test_a_stored_interpretation_is_named_by_its_record_id(self, worked_example_answer):
        from service.adapters.fhir import INTERPRETATION_ID_SYSTEM, interpretation_to_diagnostic_report

        answer = {**worked_example_answer, "id": "5b0e3c8f8d7a4c42a1f0e6d2b9c47a13"}
        report = interpretation_to_diagnostic_report(answer, None, request_id="req-1")
        assert report["id"] == answer["id"]
        assert report["identifier"] == [{"system": INTERPRETATION_ID_SYSTEM, "value": answer["id"]}]

    def test_without_record_or_request_id_each_report_has_its_own_uuid(self, worked_example_answer):
        from service.adapters.fhir import interpretation_to_diagnostic_report

        one, two = (interpretation_to_diagnostic_report(worked_example_answer, None) for _ in range(2))
        assert one["identifier"][0]["system"] == "urn:ietf:rfc:3986"
        assert one["identifier"][0]["value"].startswith("urn:uuid:")
        assert one["identifier"] != two["identifier"]


class TestRiskDataAbsent:
    """A risk model without a group: not-applicable when it does not apply, unknown when it applies but
    data not given leave its group open."""

    def test_models_that_do_not_apply_are_not_applicable(self, worked_example_answer):
        from service.adapters.fhir import interpretation_to_diagnostic_report

        risk = worked_example_answer["risk"]
        assert risk["smm_mayo_2018"]["applies"] is False and risk["smm_imwg_2020"]["applies"] is False
        assert risk["mgus_mayo_2005"]["applies"] is True and risk["mgus_mayo_2005"]["group"] is None
        report = interpretation_to_diagnostic_report(worked_example_answer, None)
        DiagnosticReport.model_validate(report)
        reason = {
            obs["id"]: obs["dataAbsentReason"]["coding"][0]["code"]
            for obs in report["contained"]
            if obs["id"].startswith("risk-")
        }
        assert reason == {
            "risk-mgus-mayo-2005": "unknown",
            "risk-smm-mayo-2018": "not-applicable",
            "risk-smm-imwg-2020": "not-applicable",
        }

    def test_an_open_smm_score_is_unknown_and_the_mgus_model_not_applicable(self, lab_client):
        report = fhir_report(lab_client, smm_bundle())
        imwg = contained(report, "risk-smm-imwg-2020")
        assert imwg["dataAbsentReason"]["coding"][0]["code"] == "unknown"
        mgus = contained(report, "risk-mgus-mayo-2005")
        assert mgus["dataAbsentReason"]["coding"][0]["code"] == "not-applicable"


class TestScoreExactAnswers:
    """An exact score (the cytogenetics given) stays a plain number in both answers."""

    def test_exact_score_stays_nm_and_without_comparator(self, lab_client, app_answer_scored):
        from service.adapters.fhir import interpretation_to_diagnostic_report
        from service.adapters.hl7v2 import build_oru_response, parse_oru

        ctx = parse_oru(oru())
        text = build_oru_response(ctx, app_answer_scored)
        segments = [line.split("|") for line in text.split("\r") if line]
        score = obx(segments, "RISK_SMM_IMWG_2020_SCORE")
        assert score[2] == "NM" and score[5] == str(app_answer_scored["risk"]["smm_imwg_2020"]["score"])
        report = interpretation_to_diagnostic_report(app_answer_scored, None)
        quantity_out = contained(report, "risk-smm-imwg-2020")["component"][0]["valueQuantity"]
        assert "comparator" not in quantity_out


@pytest.fixture
def worked_example_answer() -> dict[str, Any]:
    """An engine answer to the worked example (with a flag, the isotype and the risk models)."""
    import json

    return json.loads((SAMPLES / "worked-example-s6-response.json").read_text())


@pytest.fixture
def app_answer_scored(lab_client) -> dict[str, Any]:
    answer = lab_client.post("/v1/interpretations", json=copy.deepcopy(SMM_SCORED_JSON)).get_json()
    assert answer["risk"]["smm_imwg_2020"]["score_is_lower_bound"] is False
    return answer
