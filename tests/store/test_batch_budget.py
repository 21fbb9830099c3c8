"""With the records store on, a batch keeps its time budget (MGI_BATCH_TIME_BUDGET): what it stored
before the deadline is answered 201 with ids, the rest 503 to be sent again, never a worker timeout."""

from __future__ import annotations

import json
import time

from service.api import records as records_module

from .conftest import ROOT_DIR

PANEL = json.loads(open(f"{ROOT_DIR}/examples/worked-example-s6.json").read())


def _batch(n: int) -> dict:
    return {"items": [dict(PANEL, specimen_id=f"S{i}") for i in range(n)]}


def test_a_stored_batch_out_of_time_answers_what_it_stored_and_marks_the_rest(app, monkeypatch):
    app.extensions["mgi_admission"].budget = 2.5
    start = time.perf_counter()
    ticks = iter(range(10_000))
    # The clock moves one second per chunk: the 2.5 s budget runs out before the fourth chunk.
    monkeypatch.setattr(records_module, "perf_counter", lambda: start + next(ticks))
    n = records_module.STORE_BATCH_CHUNK * 5
    resp = app.test_client().post("/v1/interpretations/batch", json=_batch(n))
    assert resp.status_code == 200
    body = resp.get_json()
    statuses = [r["status"] for r in body["results"]]
    assert [r["index"] for r in body["results"]] == list(range(n))
    done = statuses.index(503)
    assert done == 3 * records_module.STORE_BATCH_CHUNK
    assert set(statuses[:done]) == {201} and set(statuses[done:]) == {503}
    assert all(r["interpretation"]["id"] for r in body["results"][:done])
    assert body["succeeded"] == done and body["failed"] == n - done
    assert "MGI_BATCH_TIME_BUDGET" in body["results"][done]["error"]["message"]
    assert resp.headers["Retry-After"] == "3"
    listed = app.test_client().get("/v1/interpretations?limit=200").get_json()
    assert len(listed["items"]) == done  # nothing past the deadline was stored


def test_a_stored_batch_within_its_budget_stores_every_item(app):
    resp = app.test_client().post("/v1/interpretations/batch", json=_batch(3))
    assert resp.status_code == 200 and "Retry-After" not in resp.headers
    assert [r["status"] for r in resp.get_json()["results"]] == [201, 201, 201]
