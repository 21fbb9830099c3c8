"""A record answers every key that retried it: an Idempotency-Key first sent with a retry of a record
that already has a key of its own (found by its patient, specimen and body, or an HL7 message's or FHIR
Bundle's own retry key) is bound to that record, so the key with another body is a 422 naming the
header and the key with the same body replays the record, on SQLite and PostgreSQL."""

from __future__ import annotations

from .test_hl7_identity import message, obx
from .test_interface_idempotency_key import hl7, names_the_header

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
