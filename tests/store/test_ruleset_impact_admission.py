"""POST /v1/ruleset-impact is batch work: it takes a batch slot (429 with Retry-After and the standard
error body when none is free), holds it until its streamed report has been sent, and stops at the batch
time budget with a whole report whose next_cursor continues, never running into the worker timeout."""

from __future__ import annotations

import json
import time

import pytest

from service.api import impact as impact_module
from service.api.admission import Slots

from .conftest import ROOT_DIR, store_app

PANEL = json.loads(open(f"{ROOT_DIR}/examples/worked-example-s6.json").read())


@pytest.fixture
def app(database_url, tmp_path):
    application = store_app(
        database_url,
        tmp_path,
        RUNTIME_DIR=str(tmp_path / "run"),
        BATCH_CONCURRENCY=2,
        BATCH_CONCURRENCY_PER_KEY=1,
    )
    yield application
    application.extensions["mgi.store"].store.dispose()


def _store(client, n: int) -> None:
    for i in range(n):
        assert client.post("/v1/interpretations", json=dict(PANEL, specimen_id=f"I{i}")).status_code == 201


def _free(app, name: str = "batch", size: int = 2) -> int:
    """How many of these slots can be taken now (taken and given back at once)."""
    slots = Slots(app.extensions["mgi_admission"].directory, name, size)
    fds = [fd for fd in (slots.try_acquire() for _ in range(size)) if fd is not None]
    for fd in fds:
        Slots.release(fd)
    return len(fds)


def test_a_run_with_every_batch_slot_taken_is_refused_with_429_and_retry_after(app, tmp_path):
    directory = app.extensions["mgi_admission"].directory
    held = [Slots(directory, "batch", 2).try_acquire() for _ in range(2)]  # two batches elsewhere
    client = app.test_client()
    _store(client, 1)  # single interpretations are never held back
    resp = client.post("/v1/ruleset-impact", json={})
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "5"
    body = resp.get_json()
    assert set(body) == {"code", "status", "message", "errors"} and body["code"] == 429
    assert (
        body["message"].startswith("ruleset impact not started")
        and "MGI_BATCH_CONCURRENCY" in body["message"]
    )
    for fd in held:
        Slots.release(fd)
    assert client.post("/v1/ruleset-impact", json={}).status_code == 200


def test_a_run_holds_its_slot_until_its_report_is_sent(app):
    client = app.test_client()
    _store(client, 2)
    resp = client.post("/v1/ruleset-impact", json={}, buffered=False)
    assert resp.status_code == 200
    body = iter(resp.response)
    first = next(body)  # the report has begun: the run is under way
    assert _free(app) == 1 and _free(app, "batch-key-dev", 1) == 0
    # A batch of the same key waits for the run to end.
    assert client.post("/v1/interpretations/batch", json={"items": [PANEL]}).status_code == 429
    report = json.loads(first + b"".join(body))
    resp.close()
    assert report["summary"]["examined"] == 2 and report["stopped"] is None
    assert _free(app) == 2 and _free(app, "batch-key-dev", 1) == 1


def test_a_closed_report_gives_its_slot_back(app):
    client = app.test_client()
    resp = client.post("/v1/ruleset-impact", json={}, buffered=False)
    assert _free(app) == 1
    resp.close()  # the client went away before reading anything
    assert _free(app) == 2


def test_a_run_out_of_time_ends_its_report_whole_with_the_cursor_to_continue(app, monkeypatch):
    client = app.test_client()
    _store(client, 6)
    app.extensions["mgi_admission"].budget = 2.5
    start = time.perf_counter()
    ticks = iter(range(10_000))
    # The clock moves one second per record examined: the 2.5 s budget runs out after the third.
    monkeypatch.setattr(impact_module, "perf_counter", lambda: start + next(ticks))
    resp = client.post("/v1/ruleset-impact", json={"max_records": 20_000})
    assert resp.status_code == 200
    report = json.loads(resp.get_data())  # a whole JSON document
    assert report["summary"]["examined"] == 3
    assert report["stopped"] == "time_budget" and report["next_cursor"]
    monkeypatch.undo()
    rest = json.loads(client.post("/v1/ruleset-impact", json={"cursor": report["next_cursor"]}).get_data())
    assert rest["summary"]["examined"] == 3
    assert rest["stopped"] is None and rest["next_cursor"] is None


def test_max_records_is_named_as_what_stopped_a_run(app):
    client = app.test_client()
    _store(client, 3)
    first = json.loads(client.post("/v1/ruleset-impact", json={"max_records": 2}).get_data())
    assert first["stopped"] == "max_records" and first["next_cursor"]
    # Exactly max_records left: the last page ends the run.
    last = json.loads(
        client.post("/v1/ruleset-impact", json={"max_records": 1, "cursor": first["next_cursor"]}).get_data()
    )
    assert last["summary"]["examined"] == 1 and last["stopped"] is None and last["next_cursor"] is None
