"""Admission control: batches are bounded per API key and in total (429 with Retry-After beyond), a batch
answers what it finished within its time budget, and single interpretations are never held back."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from service.api import create_app
from service.api import views as views_module
from service.api.admission import Slots
from service.api.security import hash_key

from .server import ROOT, Gunicorn

PANEL = json.loads((ROOT / "examples" / "worked-example-s6.json").read_text())
LIS, ARCHIVE = "lis-key-" + "a" * 32, "archive-key-" + "b" * 32


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def app(tmp_path):
    return create_app(
        {
            "TESTING": True,
            "API_KEYS": {"lis": hash_key(LIS), "archive": hash_key(ARCHIVE)},
            "RUNTIME_DIR": str(tmp_path),
            "BATCH_CONCURRENCY": 2,
            "BATCH_CONCURRENCY_PER_KEY": 1,
        }
    )


def batch(n: int = 3) -> dict:
    return {"items": [PANEL] * n}


def assert_429(resp, limit_variable: str) -> None:
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "5"
    body = resp.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == 429 and body["status"] == "Too Many Requests"
    assert limit_variable in body["message"]


def test_a_batch_beyond_the_key_s_limit_is_429_while_other_keys_and_single_panels_go_on(app, tmp_path):
    held = Slots(str(tmp_path), "batch-key-lis", 1).try_acquire()  # another worker runs lis's batch
    client = app.test_client()
    assert_429(client.post("/v1/interpretations/batch", json=batch(), headers=auth(LIS)), "PER_KEY")
    assert client.post("/v1/interpretations", json=PANEL, headers=auth(LIS)).status_code == 200
    assert client.post("/v1/interpretations/batch", json=batch(), headers=auth(ARCHIVE)).status_code == 200
    Slots.release(held)
    assert client.post("/v1/interpretations/batch", json=batch(), headers=auth(LIS)).status_code == 200


def test_a_batch_beyond_the_total_limit_is_429_whatever_its_key(app, tmp_path):
    total = Slots(str(tmp_path), "batch", 2)
    held = [total.try_acquire(), total.try_acquire()]  # two batches run in other workers
    assert None not in held and total.try_acquire() is None
    client = app.test_client()
    assert_429(client.post("/v1/interpretations/batch", json=batch(), headers=auth(ARCHIVE)), "CONCURRENCY")
    assert client.post("/v1/interpretations", json=PANEL, headers=auth(ARCHIVE)).status_code == 200
    Slots.release(held.pop())
    assert client.post("/v1/interpretations/batch", json=batch(), headers=auth(ARCHIVE)).status_code == 200


def test_a_finished_or_failed_batch_gives_its_slots_back(app):
    client = app.test_client()
    for _ in range(3):  # per key 1: each would be refused if the previous one had kept its slot
        assert client.post("/v1/interpretations/batch", json=batch(), headers=auth(LIS)).status_code == 200
        assert (
            client.post("/v1/interpretations/batch", json={"items": []}, headers=auth(LIS)).status_code == 422
        )


def test_a_slot_held_by_a_killed_process_is_free_again(tmp_path):
    slots = Slots(str(tmp_path), "batch", 1)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a worker holding a batch slot, then SIGKILLed by the arbiter
        slots.try_acquire()
        os.write(write, b"x")
        time.sleep(60)
        os._exit(0)
    os.read(read, 1)
    assert slots.try_acquire() is None and slots.held() == 1
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    fd = slots.try_acquire()
    assert fd is not None
    Slots.release(fd)


def test_a_batch_out_of_time_answers_what_it_finished_and_marks_the_rest(app, monkeypatch):
    app.config["TESTING"] = True
    app.extensions["mgi_admission"].budget = 2.5
    start = time.perf_counter()
    ticks = iter(range(10_000))
    # The batch's clock moves one second between chunks: the 2.5 s budget runs out at the third or fourth.
    monkeypatch.setattr(views_module, "perf_counter", lambda: start + next(ticks))
    client = app.test_client()
    with client:
        resp = client.post("/v1/interpretations/batch", json=batch(40), headers=auth(LIS))
    assert resp.status_code == 200
    body = resp.get_json()
    statuses = [r["status"] for r in body["results"]]
    assert [r["index"] for r in body["results"]] == list(range(40))
    done = statuses.index(503)
    assert done > 0 and done % views_module.BATCH_CHUNK == 0
    assert set(statuses[:done]) == {200} and set(statuses[done:]) == {503}
    assert body["count"] == 40 and body["succeeded"] == done and body["failed"] == 40 - done
    error = body["results"][done]["error"]
    assert set(error) == {"code", "status", "message", "errors"} and error["code"] == 503
    assert f"from index {done} on" in error["message"] and "MGI_BATCH_TIME_BUDGET" in error["message"]
    assert resp.headers["Retry-After"] == "3"


def test_a_batch_within_its_budget_has_no_retry_after(app):
    resp = app.test_client().post("/v1/interpretations/batch", json=batch(), headers=auth(LIS))
    assert resp.status_code == 200 and "Retry-After" not in resp.headers
    assert {r["status"] for r in resp.get_json()["results"]} == {200}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MGI_BATCH_CONCURRENCY", "0"),
        ("MGI_BATCH_CONCURRENCY_PER_KEY", "two"),
        ("MGI_BATCH_TIME_BUDGET", "-1"),
    ],
)
def test_a_bad_admission_setting_stops_start_up_naming_it(monkeypatch, tmp_path, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(RuntimeError, match=variable):
        create_app({"DEV_MODE": True, "RUNTIME_DIR": str(tmp_path)})


def test_under_gunicorn_the_slots_are_shared_by_every_worker(tmp_path):
    runtime = tmp_path / "run"
    env = {
        "MGI_DEV_MODE": "1",
        "MGI_RUNTIME_DIR": str(runtime),
        "MGI_BATCH_CONCURRENCY": "1",
    }
    with Gunicorn(tmp_path, env, workers=3) as server:
        held = Slots(str(runtime), "batch", 1).try_acquire()  # as if a worker ran a batch
        answers = [server.post("/v1/interpretations/batch", batch()) for _ in range(6)]
        assert {status for status, _, _ in answers} == {429}
        assert all(headers["Retry-After"] == "5" for _, headers, _ in answers)
        assert server.post("/v1/interpretations", PANEL)[0] == 200
        Slots.release(held)
        assert server.post("/v1/interpretations/batch", batch())[0] == 200


def test_the_master_makes_its_runtime_directory_and_removes_it_at_exit(monkeypatch):
    import runpy
    from types import SimpleNamespace

    from .server import CONF

    for name in ("MGI_RUNTIME_DIR", "MGI_RUNTIME_DIR_OWNED"):
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    conf = runpy.run_path(str(CONF))
    server = SimpleNamespace(log=SimpleNamespace(error=print))
    conf["_make_runtime_dir"](server)
    made = os.environ["MGI_RUNTIME_DIR"]
    assert os.path.isdir(made) and (not os.path.isdir("/dev/shm") or made.startswith("/dev/shm/"))
    conf["on_exit"](server)
    assert not os.path.exists(made)
