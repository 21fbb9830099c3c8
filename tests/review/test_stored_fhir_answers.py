"""The stored answer as a DiagnosticReport (GET /v1/interpretations/{id}/fhir): its contained Observations
are released with it."""

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
