"""The Idempotency-Key header on the HL7 v2 and FHIR endpoints (as on POST /v1/interpretations): with
the records store on, a request sent again with the same key is the same record, a key used for another
body is a 422 naming the header, a malformed key is a 422 whether the store is on or off, and a batch
(JSON or HL7) refuses the header rather than ignoring it."""

from __future__ import annotations

import json

import pytest

from service.api import create_app

from .test_fhir_identity import FHIR, MRN, bundle
from .test_hl7_identity import HL7, message, obx

KEY = {"Idempotency-Key": "lis-2025-0001"}


def hl7(client, raw: bytes, headers: dict | None = None):
    return client.post("/v1/hl7v2", data=raw, content_type=HL7, headers=headers or {})


def fhir(client, b: dict, headers: dict | None = None):
    return client.post(
        "/v1/fhir/interpretations", data=json.dumps(b), content_type=FHIR, headers=headers or {}
    )


def names_the_header(r) -> bool:
    return r.status_code == 422 and "header.Idempotency-Key" in r.json["errors"]


def test_hl7_the_same_key_is_the_same_record_even_under_another_control_id(client, store):
    # No PID: without the key nothing but the message's own identity (sender, MSH-10, bytes) links the two.
    first = hl7(client, message("C1", "20250110", "1.0", pid3=None), KEY)
    again = hl7(client, message("C2", "20250110", "1.0", pid3=None), KEY)  # resent under a new MSH-10
    assert first.status_code == again.status_code == 200
    (record_id,) = obx(first.get_data(as_text=True), "RECORD_ID")
    assert obx(again.get_data(as_text=True), "RECORD_ID") == [record_id]
    assert store.count() == 1
    other = hl7(client, message("C3", "20250110", "1.0", pid3=None), {"Idempotency-Key": "lis-2025-0002"})
    assert obx(other.get_data(as_text=True), "RECORD_ID") != [record_id] and store.count() == 2


def test_hl7_a_key_used_for_another_message_body_is_a_422_and_stores_nothing(client, store):
    assert hl7(client, message("C1", "20250110", "1.0"), KEY).status_code == 200
    r = hl7(client, message("C2", "20250110", "1.5"), KEY)
    assert names_the_header(r) and "another request body" in r.json["message"]
    assert store.count() == 1


def test_fhir_the_same_key_is_the_same_record_and_another_body_is_a_422(client, store):
    # No patient identifier: without the key, two Bundle identifiers are two records.
    first = fhir(client, bundle("2025-01-10", 10.0, bundle_id="B1"), KEY)
    again = fhir(client, bundle("2025-01-10", 10.0, bundle_id="B2"), KEY)
    assert first.status_code == again.status_code == 200
    assert first.json["id"] == again.json["id"] and store.count() == 1
    assert first.json["resourceType"] == "DiagnosticReport"
    assert client.get(f"/v1/interpretations/{first.json['id']}").status_code == 200
    r = fhir(client, bundle("2025-01-10", 15.0), KEY)
    assert names_the_header(r) and store.count() == 1
    fhir(client, bundle("2025-01-10", 10.0, bundle_id="B3"))
    assert store.count() == 2


@pytest.mark.parametrize("bad", ["", "x" * 256, "caf\u00e9"])
def test_a_malformed_key_is_a_422_naming_the_header_with_the_store_on(client, store, bad):
    headers = {"Idempotency-Key": bad}
    assert names_the_header(hl7(client, message("C1", "20250110", "1.0"), headers))
    assert names_the_header(fhir(client, bundle("2025-01-10", 10.0, [MRN]), headers))
    assert store.count() == 0


@pytest.mark.parametrize("key", ["x", "x" * 255])
def test_keys_of_1_and_255_characters_are_taken(client, store, key):
    assert hl7(client, message("C1", "20250110", "1.0"), {"Idempotency-Key": key}).status_code == 200


def test_a_batch_refuses_the_header_naming_it(client, store):
    batch_hl7 = (
        b"FHS|^~\\&|LIS|LAB\rBHS|^~\\&|LIS|LAB\r" + message("C1", "20250110", "1.0") + b"BTS|1\rFTS|1\r"
    )
    r = hl7(client, batch_hl7, KEY)
    assert names_the_header(r) and "batch" in r.json["message"]
    j = client.post("/v1/interpretations/batch", json={"items": [{"spep": {}}]}, headers=KEY)
    assert names_the_header(j)
    assert store.count() == 0
    assert hl7(client, batch_hl7).status_code == 200  # without the header the batch is read


def test_stateless_the_header_is_checked_and_a_batch_refuses_it():
    c = create_app({"TESTING": True, "DEV_MODE": True, "STORE": "off"}).test_client()
    assert names_the_header(hl7(c, message("C1", "20250110", "1.0"), {"Idempotency-Key": ""}))
    assert names_the_header(fhir(c, bundle("2025-01-10", 10.0, [MRN]), {"Idempotency-Key": "x" * 256}))
    assert hl7(c, message("C1", "20250110", "1.0"), KEY).status_code == 200
    assert fhir(c, bundle("2025-01-10", 10.0, [MRN]), KEY).status_code == 200
    assert names_the_header(c.post("/v1/interpretations/batch", json={"items": [{"spep": {}}]}, headers=KEY))


def test_a_replayed_record_says_so_in_the_reply_headers_as_for_json(client, store):
    raw = message("R1", "20250110", "1.0", pid3=None)
    first = hl7(client, raw, KEY)
    assert "Idempotent-Replayed" not in first.headers
    assert (
        hl7(client, message("R2", "20250110", "1.0", pid3=None), KEY).headers["Idempotent-Replayed"] == "true"
    )
    plain = message("R3", "20250210", "1.0", pid3=None)
    assert "Idempotent-Replayed" not in hl7(client, plain).headers
    assert hl7(client, plain).headers["Idempotent-Replayed"] == "true"  # the same message again
    b = bundle("2025-01-10", 10.0, bundle_id="RB1")
    assert "Idempotent-Replayed" not in fhir(client, b).headers
    assert fhir(client, b).headers["Idempotent-Replayed"] == "true"
    batch_hl7 = b"FHS|^~\\&|LIS|LAB\rBHS|^~\\&|LIS|LAB\r" + plain + b"BTS|1\rFTS|1\r"
    assert "Idempotent-Replayed" not in hl7(client, batch_hl7).headers  # a batch answers per message


def test_a_batch_file_after_blank_lines_is_still_a_batch(client, store):
    batch_hl7 = b"\r\n" * 10 + b"FHS|^~\\&|LIS|LAB\rBHS|^~\\&|LIS|LAB\r" + message("BL1", "20250110", "1.0")
    batch_hl7 += b"BTS|1\rFTS|1\r"
    assert names_the_header(hl7(client, batch_hl7, KEY))
    r = hl7(client, batch_hl7)
    assert r.status_code == 200 and r.get_data(as_text=True).startswith("FHS|"), r.get_data(as_text=True)


def test_a_message_of_a_batch_file_sent_again_on_its_own_is_the_same_record(client, store):
    alone = message("INB1", "20250110", "1.0", pid3=None)
    batch_hl7 = b"FHS|^~\\&|LIS|LAB\rBHS|^~\\&|LIS|LAB\r" + alone + b"BTS|1\rFTS|1\r"
    assert hl7(client, batch_hl7).status_code == 200
    assert store.count() == 1
    r = hl7(client, alone)
    assert r.status_code == 200 and r.headers.get("Idempotent-Replayed") == "true"
    assert store.count() == 1
    assert hl7(client, alone.rstrip(b"\r")).headers.get("Idempotent-Replayed") == "true"
    assert store.count() == 1


def test_a_key_first_sent_with_a_retry_of_an_earlier_record_is_bound_to_it(client, store):
    """A request with a new key that is a retry of a record stored without one (the same patient,
    specimen and body) replays that record, and the key is then that record's: the same key with
    another body is a 422 naming the header, as for a key that made its record."""
    body = {
        "spep": {"m_protein": {"value": 12, "unit": "g/L"}},
        "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
        "collected_on": "2025-01-10",
        "patient_ref": "MRN-BIND",
        "specimen_id": "SP-BIND",
    }
    first = client.post("/v1/interpretations", json=body)
    again = client.post("/v1/interpretations", json=body, headers={"Idempotency-Key": "bind-1"})
    assert first.status_code == again.status_code == 201
    assert again.json["id"] == first.json["id"] and again.headers["Idempotent-Replayed"] == "true"
    other = {**body, "specimen_id": "SP-OTHER", "spep": {"m_protein": {"value": 14, "unit": "g/L"}}}
    r = client.post("/v1/interpretations", json=other, headers={"Idempotency-Key": "bind-1"})
    assert names_the_header(r), r.json
    # the key still replays its record
    r = client.post("/v1/interpretations", json=body, headers={"Idempotency-Key": "bind-1"})
    assert r.status_code == 201 and r.json["id"] == first.json["id"]
