"""An answer sent back at once over HL7 v2 or FHIR says whether it is released: P / preliminary while
the laboratory's release policy holds it for review, F / final when the policy releases it itself."""

from __future__ import annotations

import json

import pytest

from service.api import create_app

HL7 = "x-application/hl7-v2+er7"
MSH = "MSH|^~\\&|LIS|LAB|MGI|HOSP|20240501120000||ORU^R01^ORU_R01|MSG1|P|2.5.1\r"
PID = "PID|1||123^^^HOSP^MR||Doe^Jane||19700115|F\r"
OBR = "OBR|1|ORD1|FIL1|MG^MG^L|||20240501083000\r"
MGUS = (
    MSH
    + PID
    + OBR
    + (
        "OBX|1|NM|33358-3^Protein.monoclonal^LN||12|g/L|||||F\r"
        "OBX|2|TX|25700-6^Immunofixation^LN||IgG kappa||||||F\r"
    )
)
NEGATIVE = (
    MSH
    + PID
    + OBR
    + (
        "OBX|1|NM|33358-3^Protein.monoclonal^LN||0|g/L|||||F\r"
        "OBX|2|TX|25700-6^Immunofixation^LN||Negative||||||F\r"
        "OBX|3|NM|36916-5^Kappa free^LN||12|mg/L|||||F\r"
        "OBX|4|NM|33944-0^Lambda free^LN||14|mg/L|||||F\r"
    )
)


@pytest.fixture
def client():
    return create_app({"TESTING": True, "DEV_MODE": True}).test_client()


def _obx11(reply: str) -> set[str]:
    return {seg.split("|")[11] for seg in reply.split("\r") if seg.startswith("OBX|")}


def test_an_mgus_held_for_review_is_sent_preliminary_in_every_obx(client):
    resp = client.post("/v1/hl7v2", data=MGUS, content_type=HL7)
    assert resp.status_code == 200, resp.data
    assert _obx11(resp.data.decode()) == {"P"}


def test_a_complete_negative_screen_released_automatically_is_sent_final(client):
    resp = client.post("/v1/hl7v2", data=NEGATIVE, content_type=HL7)
    assert resp.status_code == 200, resp.data
    assert _obx11(resp.data.decode()) == {"F"}


def _bundle(m_protein: float, ife: str) -> dict:
    def obs(code: str, **value) -> dict:
        return {
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                **value,
            }
        }

    def mass(value: float, unit: str) -> dict:
        return {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}

    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            obs("33358-3", valueQuantity=mass(m_protein, "g/L")),
            obs("25700-6", valueString=ife),
            obs("36916-5", valueQuantity=mass(12, "mg/L")),
            obs("33944-0", valueQuantity=mass(14, "mg/L")),
        ],
    }


@pytest.mark.parametrize(
    ("m_protein", "ife", "status"), [(12, "IgG kappa", "preliminary"), (0, "Negative", "final")]
)
def test_the_fhir_report_is_preliminary_until_released(client, m_protein, ife, status):
    resp = client.post(
        "/v1/fhir/interpretations",
        data=json.dumps(_bundle(m_protein, ife)),
        content_type="application/fhir+json",
    )
    assert resp.status_code == 200, resp.data
    assert resp.get_json()["status"] == status
