"""FHIR Bundles in the records store: the Patient identifier (type MR, else the first; or the
results' subject identifier) is the patient reference of serial memory, and a Bundle with an
identifier sent again is the same record."""

from __future__ import annotations

import json
from typing import Any

import pytest

from service.adapters import fhir

FHIR = "application/fhir+json"
LOINC = "http://loinc.org"
MRN = {"system": "urn:hosp:mrn", "value": "12345", "type": {"coding": [{"code": "MR"}]}}


def observations(on: str, g_l: float, subject: dict | None = None) -> list[dict[str, Any]]:
    base: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "effectiveDateTime": f"{on}T10:00:00Z",
    }
    if subject is not None:
        base["subject"] = subject
    return [
        {
            **base,
            "code": {"coding": [{"system": LOINC, "code": "33358-3"}]},
            "valueQuantity": {
                "value": g_l,
                "unit": "g/L",
                "system": "http://unitsofmeasure.org",
                "code": "g/L",
            },
        },
        {**base, "code": {"coding": [{"system": LOINC, "code": "25700-6"}]}, "valueString": "IgG kappa"},
    ]


def bundle(
    on: str,
    g_l: float,
    identifiers: list[dict] | None = None,
    subject: dict | None = None,
    bundle_id: str | None = None,
) -> dict[str, Any]:
    resources = observations(on, g_l, subject)
    if identifiers is not None:
        resources.insert(0, {"resourceType": "Patient", "identifier": identifiers, "gender": "female"})
    out: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }
    if bundle_id is not None:
        out["identifier"] = {"system": "urn:lis:bundle", "value": bundle_id}
    return out


def post(client, b: dict) -> dict:
    r = client.post("/v1/fhir/interpretations", data=json.dumps(b), content_type=FHIR)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.json


def records(client, ref: str) -> list[dict]:
    return client.get("/v1/interpretations", query_string={"patient_ref": ref}).json["items"]


def test_the_patient_identifier_links_the_patients_panels_as_history(client):
    post(client, bundle("2025-01-10", 10, [MRN]))
    post(client, bundle("2025-07-10", 15, [MRN]))
    items = records(client, "12345^^^urn:hosp:mrn")
    assert len(items) == 2
    later = client.get(f"/v1/interpretations/{items[0]['id']}").json
    assert later["interpretation"]["history_used"] == [
        {"collected_on": "2025-01-10", "source": "store", "id": items[1]["id"]}
    ]
    assert "EVOLVING_M_PROTEIN" in {f["code"] for f in later["interpretation"]["flags"]}


def test_the_mr_identifier_is_chosen_and_another_system_is_another_patient(client):
    other = {"system": "urn:nhs", "value": "9990001"}
    post(client, bundle("2025-01-10", 10, [other, MRN]))
    assert len(records(client, "12345^^^urn:hosp:mrn")) == 1
    post(client, bundle("2025-07-10", 15, [{"system": "urn:otherhosp:mrn", "value": "12345"}]))
    assert len(records(client, "12345^^^urn:hosp:mrn")) == 1
    assert len(records(client, "12345^^^urn:otherhosp:mrn")) == 1


def test_without_a_patient_the_subject_identifier_is_the_patient(client):
    subject = {"identifier": {"system": "urn:hosp:mrn", "value": "777"}}
    post(client, bundle("2025-01-10", 10, subject=subject))
    assert len(records(client, "777^^^urn:hosp:mrn")) == 1


def test_a_patient_named_only_by_reference_is_not_linked(client, store):
    post(client, bundle("2025-01-10", 10, subject={"reference": "Patient/p1"}))
    later = post(client, bundle("2025-07-10", 15, subject={"reference": "Patient/p1"}))
    assert store.count() == 2
    items = client.get("/v1/interpretations").json["items"]
    rec = client.get(f"/v1/interpretations/{items[0]['id']}").json
    assert rec["interpretation"]["history_used"] == []
    assert later["resourceType"] == "DiagnosticReport"


def test_an_unusable_identifier_is_said_and_the_panel_stored_without_patient(client, store):
    long_id = {"system": "urn:" + "x" * 60, "value": "1"}
    report = post(client, bundle("2025-01-10", 10, [long_id]))
    assert "not a usable patient reference" in json.dumps(report)
    assert store.count() == 1


def test_a_bundle_with_an_identifier_sent_again_is_one_record_and_without_one_is_two(client, store):
    b = bundle("2025-01-10", 10, bundle_id="B-1")
    post(client, b)
    post(client, b)
    assert store.count() == 1
    anonymous = bundle("2025-01-10", 10)
    post(client, anonymous)
    post(client, anonymous)
    assert store.count() == 3


@pytest.mark.parametrize(
    ("identifiers", "expected"),
    [
        ([MRN], "12345^^^urn:hosp:mrn"),
        ([{"value": "42"}], None),  # no system: no number space, so no link
        ([{"value": "42"}, {"system": "urn:b", "value": "7"}], "7^^^urn:b"),
        ([{"system": "urn:a", "value": " "}, {"system": "urn:b", "value": "7"}], "7^^^urn:b"),
        ([{"system": "urn:a"}], None),
        ([{"system": "urn:h", "value": '""'}], None),  # the HL7 null passed through a bridge
        ([{"system": "b", "value": "V^^^a"}], None),  # a '^' could make two identifiers one
        ([{"system": "a^^^b", "value": "V"}], None),
        ([{"system": " urn:h ", "value": " 5 "}], "5^^^urn:h"),  # spaces around are padding
        ([{"system": "urn:h", "value": "5\t"}], None),  # a control character
        ([{"system": "s" * 58, "value": "123"}], "123^^^" + "s" * 58),  # 64 characters
        ([{"system": "s" * 59, "value": "123"}], None),  # 65
    ],
)
def test_record_identity_of_a_bundle(identifiers, expected):
    identity, _ = fhir.record_identity(bundle("2025-01-10", 10, identifiers))
    assert identity.get("patient_ref") == expected


def test_the_stateless_report_is_unchanged_by_the_identity():
    from service.api import create_app

    app = create_app({"TESTING": True, "DEV_MODE": True, "STORE": "off"})
    long_id = {"system": "urn:" + "x" * 60, "value": "1"}
    r = app.test_client().post(
        "/v1/fhir/interpretations", data=json.dumps(bundle("2025-01-10", 10, [long_id])), content_type=FHIR
    )
    assert r.status_code == 200
    assert "patient reference" not in r.get_data(as_text=True)


def test_an_identifier_without_system_is_said_and_links_nothing(client, store):
    report = post(client, bundle("2025-01-10", 10, [{"value": "42"}]))
    assert "the patient identifier has no system" in json.dumps(report)
    post(client, bundle("2025-07-10", 15, [{"value": "42"}]))
    items = client.get("/v1/interpretations").json["items"]
    assert len(items) == 2
    rec = client.get(f"/v1/interpretations/{items[0]['id']}").json
    assert rec["interpretation"]["history_used"] == []
