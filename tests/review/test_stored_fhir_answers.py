"""The stored answer as a DiagnosticReport (GET /v1/interpretations/{id}/fhir): its contained Observations
are released with it, and the record's id is its business identifier."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.diagnosticreport import DiagnosticReport

from .conftest import AUTH, body, post


@pytest.fixture
def client(app):
    return app.test_client()


def stored_report(client, rid: str) -> dict:
    report = client.get(f"/v1/interpretations/{rid}/fhir", headers=AUTH).get_json()
    DiagnosticReport.model_validate(report)
    return report


def contained_statuses(report: dict) -> set[str]:
    return {obs["status"] for obs in report["contained"]}


def test_observations_of_a_report_waiting_for_review_are_preliminary(client):
    rid = post(client, body("mgus"))["id"]
    report = stored_report(client, rid)
    assert report["status"] == "preliminary"
    assert contained_statuses(report) == {"preliminary"}


@pytest.mark.parametrize(("decision", "status"), [("approve", "final"), ("amend", "amended")])
def test_observations_of_a_reviewed_report_take_its_status(client, decision, status):
    rid = post(client, body("mgus"))["id"]
    review = {"decision": decision, "reviewer": "Dr Rita Ng"}
    if decision == "amend":
        review |= {"comment": "IgG-kappa MGUS, low risk.", "reason": "Local wording"}
    assert client.post(f"/v1/interpretations/{rid}/reviews", json=review, headers=AUTH).status_code == 201
    report = stored_report(client, rid)
    assert report["status"] == status
    assert contained_statuses(report) == {status}


def test_the_stored_report_is_identified_by_its_record(client):
    from service.adapters.fhir import INTERPRETATION_ID_SYSTEM, RULESET_VERSION_EXTENSION

    first, second = (post(client, body(name)) for name in ("mgus", "negative"))
    reports = [stored_report(client, answer["id"]) for answer in (first, second)]
    for answer, report in zip((first, second), reports, strict=True):
        assert report["id"] == answer["id"]
        assert report["identifier"] == [{"system": INTERPRETATION_ID_SYSTEM, "value": answer["id"]}]
        assert report["extension"] == [
            {"url": RULESET_VERSION_EXTENSION, "valueString": answer["ruleset_version"]}
        ]


def test_a_fhir_answer_stored_as_a_record_is_identified_by_it(client):
    from service.adapters.fhir import INTERPRETATION_ID_SYSTEM

    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "33358-3"}]},
                    "effectiveDateTime": "2024-07-20",
                    "valueQuantity": {
                        "value": 12,
                        "unit": "g/L",
                        "system": "http://unitsofmeasure.org",
                        "code": "g/L",
                    },
                }
            }
        ],
    }
    reply = client.post(
        "/v1/fhir/interpretations", json=bundle, content_type="application/fhir+json", headers=AUTH
    )
    assert reply.status_code == 200, reply.get_data(as_text=True)
    report = reply.get_json()
    assert report["id"] and report["identifier"] == [
        {"system": INTERPRETATION_ID_SYSTEM, "value": report["id"]}
    ]
