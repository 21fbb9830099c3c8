"""Haemoglobin and creatinine in mmol/L through HL7 v2 and FHIR need the laboratory's reference limits in
mmol/L, exactly as the JSON request does (clinical-reference §1.1): mmol/L overlaps g/dL and mg/dL, so a
mislabelled unit passes any value window and only the limits can expose it."""

from __future__ import annotations

from typing import Any

import pytest

from service.api import create_app

HL7 = "x-application/hl7-v2+er7"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


@pytest.fixture(scope="module")
def client():
    return create_app({"TESTING": True, "DEV_MODE": True}).test_client()


# The review's base: a man of 60, IgG-kappa 10 g/L, kappa 15 / lambda 12 mg/L, calcium normal.
BASE_OBX = [
    ("NM", "33358-3", "10", "g/L", ""),
    ("CWE", "25700-6", "IgG kappa", "", ""),
    ("NM", "36916-5", "15", "mg/L", "3.3-19.4"),
    ("NM", "33944-0", "12", "mg/L", "5.7-26.3"),
    ("NM", "2000-8", "2.4", "mmol/L", "2.15-2.55"),
]


def oru(extra: list[tuple[str, str, str, str, str]]) -> str:
    segs = [
        "MSH|^~\\&|LAB|HOSP|MGI|HOSP|202611011200||ORU^R01^ORU_R01|MSG1|P|2.5.1",
        "PID|1||12345^^^HOSP^MR||Doe^John||19660315|M",
        "OBR|1|ORD1|FIL1|24351-9^SPEP panel^LN|||202611010830",
    ]
    for n, (vt, code, value, unit, rng) in enumerate([*BASE_OBX, *extra], 1):
        segs.append(f"OBX|{n}|{vt}|{code}^^LN||{value}|{unit}|{rng}||||F")
    return "\r".join(segs) + "\r"


def post_hl7(client, extra):
    resp = client.post("/v1/hl7v2", data=oru(extra).encode(), content_type=HL7)
    return resp.status_code, resp.data.decode()


def err_locations(reply: str) -> list[str]:
    return [seg.split("|")[2] for seg in reply.split("\r") if seg.startswith("ERR|") and "|E|" in seg]


def observation(n: int, code: str, value: float, unit: str, rng: tuple[Any, Any, str] | None = None):
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"o{n}",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2026-11-01",
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }
    if rng is not None:
        low, high, range_unit = rng
        obs["referenceRange"] = [
            {
                "low": {"value": low, "unit": range_unit, "system": UCUM, "code": range_unit},
                "high": {"value": high, "unit": range_unit, "system": UCUM, "code": range_unit},
            }
        ]
    return obs


def bundle(extra: list[dict[str, Any]]) -> dict[str, Any]:
    base = [
        observation(1, "33358-3", 10, "g/L"),
        observation(2, "36916-5", 15, "mg/L", (3.3, 19.4, "mg/L")),
        observation(3, "33944-0", 12, "mg/L", (5.7, 26.3, "mg/L")),
        observation(4, "2000-8", 2.4, "mmol/L", (2.15, 2.55, "mmol/L")),
    ]
    ife = {
        "resourceType": "Observation",
        "id": "o5",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "25700-6"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2026-11-01",
        "valueCodeableConcept": {"text": "IgG kappa"},
    }
    patient = {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1966-03-15"}
    entries = [patient, *base, ife, *extra]
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in entries]}


def post_fhir(client, extra):
    resp = client.post("/v1/fhir/interpretations", json=bundle(extra), content_type="application/fhir+json")
    return resp.status_code, resp.get_json()


def errors_of(outcome: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in outcome["issue"] if i["severity"] == "error"]


# --- HL7 v2 ------------------------------------------------------------------------------------------


class TestHl7:
    def test_haemoglobin_9_mmol_l_without_limits_is_an_ae_at_obx_7(self, client):
        status, reply = post_hl7(client, [("NM", "59260-0", "9.0", "mmol/L", "")])
        assert status == 422, reply
        assert "\rMSA|AE|MSG1|" in reply
        assert err_locations(reply) == ["OBX^6^7"]
        assert "labs.hemoglobin.reference_range" in reply

    def test_creatinine_0_2_mmol_l_without_limits_is_an_ae_at_obx_7(self, client):
        status, reply = post_hl7(client, [("NM", "14682-9", "0.2", "mmol/L", "")])
        assert status == 422, reply
        assert err_locations(reply) == ["OBX^6^7"]
        assert "labs.creatinine.reference_range" in reply

    def test_a_range_in_another_unit_counts_as_no_limits(self, client):
        status, reply = post_hl7(client, [("NM", "59260-0", "9.0", "mmol/L", "130-170 g/L")])
        assert status == 422, reply
        assert err_locations(reply) == ["OBX^6^7"]
        assert "is in 'g/L', the value in 'mmol/L'; ignored" in reply  # the note says why

    def test_haemoglobin_in_mmol_l_with_plausible_limits_is_interpreted(self, client):
        status, reply = post_hl7(client, [("NM", "59260-0", "9.0", "mmol/L", "8.5-11.0")])
        assert status == 200, reply
        assert "MGUS_NON_IGM" in reply

    def test_creatinine_in_mmol_l_with_plausible_limits_is_interpreted(self, client):
        status, reply = post_hl7(client, [("NM", "14682-9", "0.09", "mmol/L", "0.04-0.11 mmol/L")])
        assert status == 200, reply
        assert "MGUS_NON_IGM" in reply

    def test_limits_of_a_g_dl_range_sent_as_mmol_l_are_refused_as_implausible(self, client):
        # 13.5-17.5 "mmol/L" would be 217-282 g/L: a g/dL range with a mmol/L unit (§1.1 windows).
        status, reply = post_hl7(client, [("NM", "59260-0", "14.0", "mmol/L", "13.5-17.5")])
        assert status == 422, reply
        assert err_locations(reply) == ["OBX^6^7"]
        assert "labs.hemoglobin.reference_range" in reply

    def test_creatinine_limits_in_mg_dl_figures_under_mmol_l_are_refused(self, client):
        # 0.7-1.3 "mmol/L" = 700-1300 umol/L: outside the 20-90 / 60-150 windows (§1.1).
        status, reply = post_hl7(client, [("NM", "14682-9", "1.0", "mmol/L", "0.7-1.3")])
        assert status == 422, reply
        assert err_locations(reply) == ["OBX^6^7"]

    def test_haemoglobin_6_mmol_l_with_limits_is_anaemia(self, client):
        # ref: §1 6.0 mmol/L x 16.11 = 96.66 g/L; §2.1 anaemia < 100 g/L
        status, reply = post_hl7(client, [("NM", "59260-0", "6.0", "mmol/L", "8.5-11.0")])
        assert status == 200, reply
        assert "MGUS_NON_IGM" not in reply


# --- FHIR --------------------------------------------------------------------------------------------


class TestFhir:
    def test_haemoglobin_9_mmol_l_without_reference_range_is_an_operation_outcome(self, client):
        status, outcome = post_fhir(client, [observation(6, "59260-0", 9.0, "mmol/L")])
        assert status == 422, outcome
        (issue,) = errors_of(outcome)
        assert issue["expression"] == ["labs.hemoglobin.reference_range", "Bundle.entry[6].resource"]

    def test_creatinine_0_2_mmol_l_without_reference_range_is_refused(self, client):
        status, outcome = post_fhir(client, [observation(6, "14682-9", 0.2, "mmol/L")])
        assert status == 422, outcome
        (issue,) = errors_of(outcome)
        assert issue["expression"] == ["labs.creatinine.reference_range", "Bundle.entry[6].resource"]

    def test_a_reference_range_in_another_unit_is_refused(self, client):
        obs = observation(6, "59260-0", 9.0, "mmol/L", (130, 170, "g/L"))
        status, outcome = post_fhir(client, [obs])
        assert status == 422, outcome
        assert "Bundle.entry[6].resource" in errors_of(outcome)[0]["expression"]

    def test_haemoglobin_in_mmol_l_with_plausible_limits_is_interpreted(self, client):
        status, report = post_fhir(client, [observation(6, "59260-0", 9.0, "mmol/L", (8.5, 11.0, "mmol/L"))])
        assert status == 200, report
        assert report["conclusionCode"][0]["coding"][0]["code"] == "MGUS_NON_IGM"

    def test_creatinine_in_mmol_l_with_plausible_limits_is_interpreted(self, client):
        obs = observation(6, "14682-9", 0.09, "mmol/L", (0.04, 0.11, "mmol/L"))
        status, report = post_fhir(client, [obs])
        assert status == 200, report
        assert report["conclusionCode"][0]["coding"][0]["code"] == "MGUS_NON_IGM"

    def test_implausible_haemoglobin_limits_are_refused_naming_the_observation(self, client):
        obs = observation(6, "59260-0", 14.0, "mmol/L", (13.5, 17.5, "mmol/L"))
        status, outcome = post_fhir(client, [obs])
        assert status == 422, outcome
        expressions = [e for i in errors_of(outcome) for e in i["expression"]]
        assert "Bundle.entry[6].resource" in expressions
        assert any(e.startswith("labs.hemoglobin.reference_range") for e in expressions)


# --- a laboratory's own code for the same analytes ----------------------------------------------------


LAB_MAP = """
observations:
  - {code: CREA, system: "99LAB", target: labs.creatinine,
     units: {"mmol/L": "umol/L * 1000", "umol/L": "umol/L"}}
  - {code: HB, system: "99LAB", target: labs.hemoglobin, units: {"mmol/L": "g/L * 16.11", "g/L": "g/L"}}
"""


@pytest.fixture(scope="module")
def lab_client(tmp_path_factory):
    path = tmp_path_factory.mktemp("codemap") / "lab.yaml"
    path.write_text(LAB_MAP)
    return create_app({"TESTING": True, "DEV_MODE": True, "CODEMAP_FILE": str(path)}).test_client()


def local_oru(code: str, value: str, unit: str, rng: str) -> str:
    text = oru([])
    return text + f"OBX|6|NM|{code}^^99LAB||{value}|{unit}|{rng}||||F\r"


class TestLabCodes:
    @pytest.mark.parametrize(
        ("code", "value", "field"), [("CREA", "0.2", "creatinine"), ("HB", "9.0", "hemoglobin")]
    )
    def test_a_local_code_converting_mmol_l_still_needs_the_limits(self, lab_client, code, value, field):
        resp = lab_client.post(
            "/v1/hl7v2", data=local_oru(code, value, "mmol/L", "").encode(), content_type=HL7
        )
        reply = resp.data.decode()
        assert resp.status_code == 422, reply
        assert err_locations(reply) == ["OBX^6^7"]
        assert f"labs.{field}.reference_range" in reply

    def test_a_local_code_in_mmol_l_with_its_limits_is_interpreted(self, lab_client):
        text = local_oru("HB", "9.0", "mmol/L", "8.5-11.0")
        resp = lab_client.post("/v1/hl7v2", data=text.encode(), content_type=HL7)
        assert resp.status_code == 200, resp.data

    def test_a_local_code_in_g_l_needs_no_limits(self, lab_client):
        resp = lab_client.post("/v1/hl7v2", data=local_oru("HB", "145", "g/L", "").encode(), content_type=HL7)
        assert resp.status_code == 200, resp.data
