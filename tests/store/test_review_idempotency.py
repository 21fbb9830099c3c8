"""Idempotency-Key on POST /v1/interpretations/{id}/reviews: a double-clicked or retried sign-off is one
review. The same key (of the same API key) with the same body for the same record returns the first
review again (201, Idempotent-Replayed: true); the key with another body, or for another record, is a
422 naming the header; concurrent retries make one review (a unique constraint decides)."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, inspect, select

from service.review.models import Review
from service.store import RecordStore, migrate

from .conftest import store_app

SPIKE = {
    "spep": {"m_protein": {"value": 1.2, "unit": "g/dL"}},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
}
APPROVE = {"decision": "approve", "reviewer": "Dr Rita Ng"}
AMEND = {"decision": "amend", "reviewer": "Dr Rita Ng", "comment": "Corrected.", "reason": "Marrow report."}


def reviews(store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Review)).scalar_one()


def sign(client, rid: str, body: dict, key: str | None = "sign-off-1", **headers: str):
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(f"/v1/interpretations/{rid}/reviews", json=body, headers=headers)


def test_the_same_key_and_body_again_is_the_same_review(client, store):
    rid = client.post("/v1/interpretations", json=SPIKE).json["id"]
    first = sign(client, rid, APPROVE)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = sign(client, rid, APPROVE)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json and again.headers["Location"] == first.headers["Location"]
    assert reviews(store) == 1
    record = client.get(f"/v1/interpretations/{rid}").json
    assert len(record["reviews"]) == 1 and record["status"] == "reviewed"


def test_a_replayed_amendment_answers_as_the_first_even_after_a_later_review(client, store):
    rid = client.post("/v1/interpretations", json=SPIKE).json["id"]
    first = sign(client, rid, AMEND, key="amend-1")
    assert first.status_code == 201 and first.json["status"] == "amended"
    assert sign(client, rid, APPROVE, key="approve-2").status_code == 201
    again = sign(client, rid, AMEND, key="amend-1")
    assert again.status_code == 201 and again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert reviews(store) == 2


def test_the_same_key_with_another_body_is_a_422_naming_the_header(client, store):
    rid = client.post("/v1/interpretations", json=SPIKE).json["id"]
    assert sign(client, rid, APPROVE).status_code == 201
    other = sign(client, rid, {**APPROVE, "reviewer": "Dr B"})
    assert other.status_code == 422
    assert other.json["errors"] == {"header.Idempotency-Key": ["Already used for a different request body."]}
    assert reviews(store) == 1


def test_the_same_key_for_another_record_is_a_422_naming_the_header(client, store):
    first = client.post("/v1/interpretations", json=SPIKE).json["id"]
    second = client.post("/v1/interpretations", json={**SPIKE, "specimen_id": "S-2"}).json["id"]
    assert sign(client, first, APPROVE).status_code == 201
    other = sign(client, second, APPROVE)
    assert other.status_code == 422 and list(other.json["errors"]) == ["header.Idempotency-Key"]
    assert "another interpretation" in other.json["errors"]["header.Idempotency-Key"][0]
    assert reviews(store) == 1
    assert client.get(f"/v1/interpretations/{second}").json["reviews"] == []


def test_without_a_key_or_with_other_keys_each_sign_off_is_a_review(client, store):
    rid = client.post("/v1/interpretations", json=SPIKE).json["id"]
    assert sign(client, rid, APPROVE, key=None).status_code == 201
    assert sign(client, rid, APPROVE, key=None).status_code == 201
    assert sign(client, rid, APPROVE, key="k-1").status_code == 201
    assert sign(client, rid, APPROVE, key="k-2").status_code == 201
    assert reviews(store) == 4


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "a\tb"])
def test_a_malformed_key_is_a_422_naming_the_header(client, store, key):
    rid = client.post("/v1/interpretations", json=SPIKE).json["id"]
    r = sign(client, rid, APPROVE, key=key)
    assert r.status_code == 422 and list(r.json["errors"]) == ["header.Idempotency-Key"]
    assert reviews(store) == 0


def test_a_key_on_an_unknown_record_is_a_404(client, store):
    assert sign(client, "0" * 32, APPROVE).status_code == 404
    assert reviews(store) == 0


def test_concurrent_retries_make_one_review(app, store):
    rid = app.test_client().post("/v1/interpretations", json=SPIKE).json["id"]

    def attempt(_: int):
        r = sign(app.test_client(), rid, APPROVE, key="double-click")
        return r.status_code, r.headers.get("Idempotent-Replayed"), r.json["review"]["reviewed_at"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(16)))
    assert {status for status, _, _ in results} == {201}
    assert sum(replayed is None for _, replayed, _ in results) == 1
    assert len({at for _, _, at in results}) == 1
    assert reviews(store) == 1


def test_keys_are_per_api_key(database_url, tmp_path):
    keys = {"lis-a": "key-a-" + "0" * 30, "lis-b": "key-b-" + "0" * 30}
    app = store_app(
        database_url,
        tmp_path,
        DEV_MODE=False,
        API_KEYS={name: hashlib.sha256(k.encode()).hexdigest() for name, k in keys.items()},
    )
    try:
        client = app.test_client()
        auth = {name: {"Authorization": f"Bearer {k}"} for name, k in keys.items()}
        rid = client.post("/v1/interpretations", json=SPIKE, headers=auth["lis-a"]).json["id"]
        a = sign(client, rid, APPROVE, key="same", **auth["lis-a"])
        b = sign(client, rid, {**APPROVE, "reviewer": "Dr B"}, key="same", **auth["lis-b"])
        assert a.status_code == b.status_code == 201 and "Idempotent-Replayed" not in b.headers
        assert reviews(app.extensions["mgi.store"].store) == 2
    finally:
        app.extensions["mgi.store"].store.dispose()


def test_reviews_of_the_previous_release_survive_the_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'previous.sqlite3'}"
    engine = RecordStore.from_url(url).engine
    migrate.upgrade(engine, "0003_lz4_bodies")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO reviews (interpretation_id, decision, reviewer, reviewed_at, status_before, via)"
            " VALUES ('" + "a" * 32 + "', 'approve', 'Dr A', '2026-01-01 00:00:00', 'review_required', 'api')"
        )
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    with engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT reviewer, idempotency_key, request_hash FROM reviews").one()
    assert tuple(row) == ("Dr A", None, None)
    names = {u["name"] for u in inspect(engine).get_unique_constraints("reviews")}
    assert "uq_reviews_api_key_name_idempotency_key" in names
    migrate.downgrade(engine, "0003_lz4_bodies")
    assert "idempotency_key" not in {c["name"] for c in inspect(engine).get_columns("reviews")}
    engine.dispose()


def test_an_amendment_repeating_the_answer_as_it_stands_is_refused_without_a_review(client, store):
    rid = client.post("/v1/interpretations", json=SPIKE).json["id"]
    assert sign(client, rid, AMEND, key=None).status_code == 201
    again = sign(client, rid, AMEND, key="another-key")  # not a retry: a second, identical amendment
    assert again.status_code == 422 and again.json["errors"]["comment"][0].startswith("Nothing was changed")
    assert reviews(store) == 1
