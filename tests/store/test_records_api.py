"""Stored interpretations over HTTP: 201 with id and Location, reading back, the list, retries."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from service.store.models import Interpretation

SPIKE = {
    "spep": {"m_protein": {"value": 1.2, "unit": "g/dL"}},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
}


def panel(**extra):
    return {**SPIKE, **extra}


def rows(store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Interpretation)).scalar_one()


def test_a_stored_interpretation_is_created_with_its_id_and_location(client, store):
    r = client.post("/v1/interpretations", json=panel(patient_ref="MRN-1", specimen_id="S-1"))
    assert r.status_code == 201
    rid = r.json["id"]
    assert r.headers["Location"] == f"/v1/interpretations/{rid}"
    assert r.json["classification"]["code"] == "MGUS_NON_IGM"
    assert r.json["history_used"] == []
    assert rows(store) == 1


def test_a_stored_interpretation_reads_back_with_its_request_without_the_patient_ref(client):
    body = panel(patient_ref="MRN-1", specimen_id="S-1", collected_on="2025-03-01")
    created = client.post("/v1/interpretations", json=body).json
    got = client.get(f"/v1/interpretations/{created['id']}")
    assert got.status_code == 200
    rec = got.json
    assert rec["id"] == created["id"]
    assert rec["specimen_id"] == "S-1"
    assert rec["collected_on"] == "2025-03-01"
    assert rec["source"] == "json"
    assert rec["api_key_name"] == "dev"
    assert rec["request_id"]
    assert rec["ruleset_version"] == created["ruleset_version"]
    assert "patient_ref" not in rec["request"]
    assert rec["request"]["spep"] == body["spep"]
    assert rec["interpretation"]["classification"] == created["classification"]
    assert "MRN-1" not in got.get_data(as_text=True)


def test_the_patient_ref_is_kept_only_as_its_keyed_hash(client, store):
    client.post("/v1/interpretations", json=panel(patient_ref="MRN-SECRET-77", specimen_id="S-1"))
    with store.engine.connect() as conn:
        dumped = repr(tuple(conn.execute(select(Interpretation.__table__)).one()))
    assert "MRN-SECRET-77" not in dumped
    assert store.patient_key("MRN-SECRET-77") in dumped


def test_an_unknown_id_is_a_404_in_the_standard_body(client):
    r = client.get("/v1/interpretations/0123456789abcdef0123456789abcdef")
    assert r.status_code == 404
    assert set(r.json) == {"code", "status", "message", "errors"}


def test_the_same_patient_specimen_and_body_again_is_the_same_record(client, store):
    body = panel(patient_ref="MRN-2", specimen_id="S-9")
    first = client.post("/v1/interpretations", json=body)
    again = client.post("/v1/interpretations", json=dict(reversed(list(body.items()))))  # key order differs
    assert again.status_code == 201
    assert again.json["id"] == first.json["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert rows(store) == 1


def test_another_body_for_the_same_specimen_is_a_new_record(client, store):
    client.post("/v1/interpretations", json=panel(patient_ref="MRN-2", specimen_id="S-9"))
    corrected = panel(patient_ref="MRN-2", specimen_id="S-9", patient={"age_years": 60})
    r = client.post("/v1/interpretations", json=corrected)
    assert "Idempotent-Replayed" not in r.headers
    assert rows(store) == 2


def test_a_request_without_patient_ref_is_stored_each_time(client, store):
    client.post("/v1/interpretations", json=panel())
    client.post("/v1/interpretations", json=panel())
    assert rows(store) == 2


def test_the_same_idempotency_key_is_the_same_record(client, store):
    h = {"Idempotency-Key": "lis-msg-000123"}
    first = client.post("/v1/interpretations", json=panel(), headers=h)
    again = client.post("/v1/interpretations", json=panel(), headers=h)
    assert again.json["id"] == first.json["id"]
    assert rows(store) == 1


def test_an_idempotency_key_reused_for_another_body_is_a_422_naming_the_header(client, store):
    h = {"Idempotency-Key": "lis-msg-000124"}
    client.post("/v1/interpretations", json=panel(), headers=h)
    r = client.post("/v1/interpretations", json=panel(patient={"age_years": 50}), headers=h)
    assert r.status_code == 422
    assert "header.Idempotency-Key" in r.json["errors"]
    assert rows(store) == 1


@pytest.mark.parametrize(
    ("first_ref", "second_ref"),
    [("MRN-A", "MRN-B"), ("MRN-A", None), (None, "MRN-B")],
)
def test_an_idempotency_key_reused_for_another_patient_is_a_422_never_the_other_patients_record(
    client, store, first_ref, second_ref
):
    """The body's hash leaves patient_ref out: the same results of another patient under the same
    key must not be answered with the first patient's record (and its history)."""
    h = {"Idempotency-Key": "lis-msg-000125"}

    def body(ref):
        return {**panel(), **({"patient_ref": ref, "specimen_id": "S-1"} if ref else {})}

    first = client.post("/v1/interpretations", json=body(first_ref), headers=h)
    assert first.status_code == 201
    r = client.post("/v1/interpretations", json=body(second_ref), headers=h)
    assert r.status_code == 422 and "header.Idempotency-Key" in r.json["errors"], r.json
    assert rows(store) == 1
    assert client.post("/v1/interpretations", json=body(first_ref), headers=h).json["id"] == first.json["id"]


def test_an_idempotency_key_of_256_characters_is_refused_and_255_accepted(client):
    assert (
        client.post("/v1/interpretations", json=panel(), headers={"Idempotency-Key": "k" * 256}).status_code
        == 422
    )
    assert (
        client.post("/v1/interpretations", json=panel(), headers={"Idempotency-Key": "k" * 255}).status_code
        == 201
    )


def test_concurrent_retries_make_one_record(app, store):
    body = panel(patient_ref="MRN-RACE", specimen_id="S-RACE")

    def send(_):
        with app.test_client() as c:
            r = c.post("/v1/interpretations", json=body)
            return r.status_code, r.json["id"]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(16)))
    assert {s for s, _ in answers} == {201}
    assert len({i for _, i in answers}) == 1
    assert rows(store) == 1


def test_the_list_is_newest_first_and_paginated_by_cursor(client):
    ids = [
        client.post("/v1/interpretations", json=panel(patient_ref="MRN-L", specimen_id=f"S{i}")).json["id"]
        for i in range(5)
    ]
    client.post("/v1/interpretations", json=panel(patient_ref="MRN-OTHER", specimen_id="S0"))
    page1 = client.get("/v1/interpretations?patient_ref=MRN-L&limit=2").json
    page2 = client.get(f"/v1/interpretations?patient_ref=MRN-L&limit=2&cursor={page1['next_cursor']}").json
    page3 = client.get(f"/v1/interpretations?patient_ref=MRN-L&limit=2&cursor={page2['next_cursor']}").json
    seen = [i["id"] for p in (page1, page2, page3) for i in p["items"]]
    assert seen == list(reversed(ids))
    assert page3["next_cursor"] is None


def test_the_list_filters_by_status_and_since(client):
    status = client.post("/v1/interpretations", json=panel()).json["release"]["status"]
    assert len(client.get(f"/v1/interpretations?status={status}").json["items"]) == 1
    assert client.get("/v1/interpretations?status=reviewed").json["items"] == []
    assert len(client.get("/v1/interpretations?since=2000-01-01").json["items"]) == 1
    assert client.get("/v1/interpretations?since=2999-01-01T00:00:00Z").json["items"] == []


def test_list_parameters_are_checked_and_named(client):
    r = client.get("/v1/interpretations?patient_rf=x&limit=201&status=done&since=yesterday&cursor=nope")
    assert r.status_code == 422
    assert {"query.patient_rf", "query.limit", "query.status", "query.since"} <= set(r.json["errors"])
    assert client.get("/v1/interpretations?cursor=nope").json["errors"] == {
        "query.cursor": ["Not a cursor this service returned."]
    }
    assert client.get("/v1/interpretations?limit=200").status_code == 200


def test_the_patient_ref_is_never_logged(client, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    client.post("/v1/interpretations", json=panel(patient_ref="MRN-LOGME-1", specimen_id="S-1"))
    client.post("/v1/interpretations", json=panel(patient_ref="MRN-LOGME-2\n", specimen_id="S-1"))
    client.get("/v1/interpretations?patient_ref=MRN-LOGME-3")
    client.get("/v1/interpretations?patient_ref=" + "MRN-LOGME-4" * 10)
    text = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert "LOGME" not in text


def test_patient_ref_and_specimen_id_are_checked_at_their_bounds(client):
    def status(**ids):
        return client.post("/v1/interpretations", json=panel(**ids)).status_code

    assert status(patient_ref="x" * 64, specimen_id="s" * 64) == 201
    r = client.post("/v1/interpretations", json=panel(patient_ref="x" * 65, specimen_id="s" * 65))
    assert r.status_code == 422 and {"patient_ref", "specimen_id"} <= set(r.json["errors"])
    r = client.post("/v1/interpretations", json=panel(patient_ref="", specimen_id=""))
    assert r.status_code == 422 and {"patient_ref", "specimen_id"} <= set(r.json["errors"])
    r = client.post("/v1/interpretations", json=panel(patient_ref="MRN\t1"))
    assert r.json["errors"] == {
        "patient_ref": ["Must contain printable characters only (no control characters)."]
    }
    assert status(patient_ref=7) == 422


@pytest.mark.parametrize("ref", [" ", "   "])
def test_a_blank_patient_ref_is_refused_naming_the_field(client, ref):
    r = client.post("/v1/interpretations", json=panel(patient_ref=ref, specimen_id="S-BLANK"))
    assert r.status_code == 422
    assert "patient_ref" in r.json["errors"]


def _cursor(raw: str) -> str:
    import base64

    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "raw",
    ["s9223372036854775808", "s99999999999999999999", "s061", "s", "s\u0666\u0661", "s1 "],
    ids=["past_bigint", "20_digits", "leading_zero", "no_number", "arabic_indic", "trailing_blank"],
)
def test_a_cursor_not_in_the_form_the_service_writes_is_refused_on_every_paged_endpoint(client, raw):
    """Never passed to the database: a number beyond its 64-bit range was a 500 there (and half a JSON
    document from the streamed ruleset impact)."""
    c = _cursor(raw)
    for r in (
        client.get(f"/v1/interpretations?cursor={c}"),
        client.get(f"/v1/audit?cursor={c}"),
        client.post("/v1/ruleset-impact", json={"cursor": c}),
    ):
        assert r.status_code == 422, (r.status_code, r.get_data()[:200])
        assert any(k.endswith("cursor") for k in r.json["errors"])


def test_the_largest_cursor_is_read(client):
    assert client.get(f"/v1/interpretations?cursor={_cursor('s9223372036854775807')}").status_code == 200


@pytest.mark.parametrize("rid", ["%00", "abc%00", "0" * 31 + "g", "A" * 32])
def test_an_id_no_record_can_have_is_not_found_never_a_500(client, rid):
    for path in ("", "/hl7", "/fhir"):
        assert client.get(f"/v1/interpretations/{rid}{path}").status_code == 404
    r = client.post(f"/v1/interpretations/{rid}/reviews", json={"decision": "approve", "reviewer": "dr.k"})
    assert r.status_code == 404
    audit = client.get(f"/v1/audit?interpretation_id={rid}")
    assert audit.status_code in (200, 422) and audit.json.get("items", []) == []


def test_a_specimen_id_with_a_control_character_is_refused_naming_it(client):
    r = client.post("/v1/interpretations", json=panel(patient_ref="MRN-N", specimen_id="a\u0000b"))
    assert r.status_code == 422
    assert list(r.json["errors"]) == ["specimen_id"]


def test_a_whole_number_written_with_a_fraction_is_the_same_body(client):
    """12 and 12.0 are one JSON number: a client whose serializer writes one or the other retries the
    same request, never makes a second record."""
    first = client.post(
        "/v1/interpretations",
        json=panel(patient_ref="MRN-W", specimen_id="W1", spep={"m_protein": {"value": 12, "unit": "g/L"}}),
    )
    again = client.post(
        "/v1/interpretations",
        json=panel(patient_ref="MRN-W", specimen_id="W1", spep={"m_protein": {"value": 12.0, "unit": "g/L"}}),
    )
    assert first.status_code == 201 and again.status_code == 201
    assert again.json["id"] == first.json["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = client.post(
        "/v1/interpretations",
        json=panel(patient_ref="MRN-W", specimen_id="W1", spep={"m_protein": {"value": 12.5, "unit": "g/L"}}),
    )
    assert other.json["id"] != first.json["id"]


def test_a_blank_specimen_id_is_refused_naming_it(client):
    r = client.post("/v1/interpretations", json=panel(patient_ref="MRN-N", specimen_id="   "))
    assert r.status_code == 422
    assert r.json["errors"] == {
        "specimen_id": ["Must not be blank: send the specimen's identifier, or leave specimen_id out."]
    }
