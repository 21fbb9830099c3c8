"""A record answers every key that retried it: an Idempotency-Key first sent with a retry of a record
that already has a key of its own (found by its patient, specimen and body, or an HL7 message's or FHIR
Bundle's own retry key) is bound to that record, so the key with another body is a 422 naming the
header and the key with the same body replays the record, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from service.store.models import RecordKey

from .test_fhir_identity import bundle
from .test_hl7_identity import message, obx
from .test_interface_idempotency_key import fhir, hl7, names_the_header

BODY = {
    "spep": {"m_protein": {"value": 12, "unit": "g/L"}},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
    "collected_on": "2025-01-10",
    "patient_ref": "MRN-KEYS",
    "specimen_id": "SP-KEYS",
}
OTHER = {**BODY, "specimen_id": "SP-OTHER", "spep": {"m_protein": {"value": 14, "unit": "g/L"}}}


def key(k: str) -> dict[str, str]:
    return {"Idempotency-Key": k}


def record_id(r) -> str:
    assert r.status_code == 200, r.get_data(as_text=True)
    (rid,) = obx(r.get_data(as_text=True), "RECORD_ID")
    return rid


def test_json_a_second_key_retrying_a_keyed_record_is_bound_to_it(client, store):
    first = client.post("/v1/interpretations", json=BODY, headers=key("K1"))
    again = client.post("/v1/interpretations", json=BODY, headers=key("K2"))
    assert first.status_code == again.status_code == 201
    assert again.json["id"] == first.json["id"] and again.headers["Idempotent-Replayed"] == "true"
    r = client.post("/v1/interpretations", json=OTHER, headers=key("K2"))
    assert names_the_header(r) and "another request body" in r.json["message"]
    assert store.count() == 1
    for k in ("K2", "K1"):
        r = client.post("/v1/interpretations", json=BODY, headers=key(k))
        assert r.status_code == 201 and r.json["id"] == first.json["id"]
        assert r.headers["Idempotent-Replayed"] == "true"
    assert store.count() == 1


def test_hl7_a_key_first_sent_with_a_resent_message_is_bound_to_its_record(client, store):
    m = message("CTL-77", "20250110", "1.0")
    r1 = record_id(hl7(client, m))
    replay = hl7(client, m, key("K"))
    assert record_id(replay) == r1 and replay.headers["Idempotent-Replayed"] == "true"
    r = hl7(client, message("CTL-78", "20250110", "1.3"), key("K"))
    assert names_the_header(r) and "used for another request body" in r.json["message"]
    assert store.count() == 1
    again = hl7(client, m, key("K"))
    assert record_id(again) == r1 and again.headers["Idempotent-Replayed"] == "true"
    assert store.count() == 1


def test_fhir_a_bundle_sent_again_with_a_key_after_a_keyless_send_is_the_same_record(client, store):
    """No patient and no specimen: only the Bundle's own retry key (identifier and bytes) names it."""
    b = bundle("2025-01-10", 10.0, bundle_id="B-DUP")
    first = fhir(client, b)
    again = fhir(client, b, key("dup-k1"))
    assert first.status_code == again.status_code == 200
    assert again.json["id"] == first.json["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert store.count() == 1
    r = fhir(client, bundle("2025-01-10", 15.0, bundle_id="B-DUP2"), key("dup-k1"))
    assert names_the_header(r) and store.count() == 1
    r = fhir(client, b, key("dup-k1"))
    assert r.json["id"] == first.json["id"] and r.headers["Idempotent-Replayed"] == "true"


def test_hl7_a_message_without_pid_sent_again_with_a_key_is_the_same_record(client, store):
    m = message("CTL-90", "20250110", "1.0", pid3=None)
    r1 = record_id(hl7(client, m))
    replay = hl7(client, m, key("K"))
    assert record_id(replay) == r1 and replay.headers["Idempotent-Replayed"] == "true"
    assert names_the_header(hl7(client, message("CTL-91", "20250110", "1.3", pid3=None), key("K")))
    assert record_id(hl7(client, m, key("K"))) == r1 and store.count() == 1


def test_a_key_on_another_message_with_the_same_control_id_is_a_new_record(client, store):
    """Another message under an earlier message's control ID (another MSH-7): its own key names no
    record, and the header's key makes a record of its own."""
    r1 = record_id(hl7(client, message("CTL-92", "20250110", "1.0", pid3=None)))
    other = hl7(client, message("CTL-92", "20250110", "1.0", pid3=None, msh_time="20250501120001"), key("K9"))
    assert record_id(other) != r1 and "Idempotent-Replayed" not in other.headers
    assert store.count() == 2


def test_concurrent_header_retries_after_a_keyless_send_make_one_record(app, store):
    b = bundle("2025-01-10", 10.0, bundle_id="B-RACE")
    first = fhir(app.test_client(), b).json["id"]

    def send(_: int):
        r = fhir(app.test_client(), b, key("race-k"))
        return r.status_code, r.json["id"], r.headers.get("Idempotent-Replayed")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(16)))
    assert set(answers) == {(200, first, "true")}
    assert store.count() == 1
    r = fhir(app.test_client(), bundle("2025-01-10", 15.0, bundle_id="B-RACE2"), key("race-k"))
    assert names_the_header(r) and store.count() == 1


@pytest.mark.parametrize("deletion", ["erase", "purge"])
def test_a_deleted_record_frees_its_keys(client, store, deletion):
    """Erasure of a patient and retention delete a record's bound keys with it: each key is free again,
    and can be bound to the next record it retries."""
    first = client.post("/v1/interpretations", json=BODY, headers=key("K1")).json["id"]
    assert client.post("/v1/interpretations", json=BODY, headers=key("K2")).json["id"] == first
    if deletion == "erase":
        assert store.erase(store.patient_key(BODY["patient_ref"])) == [first]
    else:
        assert store.purge(datetime.now(UTC) + timedelta(days=1)) == 1
    with store.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(RecordKey.__table__)) == 0
    second = client.post("/v1/interpretations", json=BODY, headers=key("K2"))
    assert second.status_code == 201 and "Idempotent-Replayed" not in second.headers
    third = client.post("/v1/interpretations", json=BODY, headers=key("K3"))
    assert third.json["id"] == second.json["id"] and third.headers["Idempotent-Replayed"] == "true"
    assert names_the_header(client.post("/v1/interpretations", json=OTHER, headers=key("K3")))
    assert store.count() == 1


def test_a_message_sent_with_a_key_then_without_is_the_same_record(client, store):
    """The record of a message sent with the header answers the message's own key too: the message
    resent without the header (no patient, no specimen to find it by) is that record."""
    b = bundle("2025-01-10", 10.0, bundle_id="B-REV")
    first = fhir(client, b, key("rev-k"))
    again = fhir(client, b)
    assert again.json["id"] == first.json["id"] and again.headers["Idempotent-Replayed"] == "true"
    m = message("CTL-REV", "20250110", "1.0", pid3=None)
    r1 = record_id(hl7(client, m, key("rev-h")))
    resent = hl7(client, m)
    assert record_id(resent) == r1 and resent.headers["Idempotent-Replayed"] == "true"
    assert store.count() == 2
