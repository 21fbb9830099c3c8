"""A metrics-storage fault (read-only, full or missing PROMETHEUS_MULTIPROC_DIR) costs the metrics, never an
answer: interpretations and /healthz stay 200, the access log is still written, the fault is logged once."""

from __future__ import annotations

import errno
import json
import os
import runpy
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from .conftest import KEY, METRICS_TOKEN, bearer, build_app
from .server import CONF, ROOT, Gunicorn

PANEL = json.loads((ROOT / "examples" / "worked-example-s6.json").read_text())


def test_a_failing_metric_write_never_touches_the_answer_and_is_logged_once(log_lines):
    app = build_app()
    metrics = app.extensions["mgi_observability"].metrics

    def broken(*_):
        raise OSError(errno.EROFS, "Read-only file system")

    metrics.requests.labels = broken
    client = app.test_client()
    for _ in range(3):
        assert client.post("/v1/interpretations", json={}, headers=bearer(KEY)).status_code == 200
    access = log_lines.json("mgi.access")
    assert [line["status"] for line in access] == [200, 200, 200]
    faults = [line for line in log_lines.json("mgi.metrics")]
    assert len(faults) == 1 and faults[0]["level"] == "ERROR" and "OSError" in faults[0]["msg"]
    text = client.get("/metrics", headers=bearer(METRICS_TOKEN)).get_data(as_text=True)
    assert "mgi_metrics_storage_faults_total 6.0" in text  # 3 requests and their 3 interpretations


def test_a_missing_metrics_directory_turns_metrics_off_not_the_service(tmp_path):
    script = textwrap.dedent(
        f"""
        from service.api import create_app
        client = create_app({{"DEV_MODE": True}}).test_client()
        answer = client.post("/v1/interpretations", json={PANEL!r})
        print(client.get("/healthz").status_code, answer.status_code)
        """
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "absent"), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["200", "200"]
    assert "metrics storage failed" in out.stderr


def test_a_dead_worker_is_marked_and_a_read_only_directory_does_not_stop_the_master(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    conf = runpy.run_path(str(CONF))
    live = tmp_path / "gauge_livesum_4242.db"
    live.write_bytes(b"\0" * 8)
    logged = []
    server = SimpleNamespace(log=SimpleNamespace(warning=lambda *a: logged.append(a)))
    conf["child_exit"](server, SimpleNamespace(pid=4242))
    assert not live.exists()  # prometheus_client.multiprocess.mark_process_dead ran

    def refuse(_pid, _path=None):
        raise PermissionError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("prometheus_client.multiprocess.mark_process_dead", refuse)
    conf["child_exit"](server, SimpleNamespace(pid=4243))
    assert logged and "not tidied" in logged[0][0]


def test_the_metrics_directory_is_emptied_when_the_service_starts(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "counter_999.db").write_bytes(b"stale")
    conf = runpy.run_path(str(CONF))
    server = SimpleNamespace(
        cfg=SimpleNamespace(bind=["127.0.0.1:1"]), log=SimpleNamespace(info=print, error=print)
    )
    conf["on_starting"](server)
    assert not (tmp_path / "counter_999.db").exists()


# ----------------------------------------------------------------------------- under gunicorn


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 1 MiB tmpfs: filled, or remounted read-only, it is the faulty metrics storage."""
    mnt = tmp_path / "prom"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"needs a small tmpfs (root with mount rights): {done.stderr.decode().strip()[:200]}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(directory: Path) -> None:
    with open(directory / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_under_gunicorn_a_faulty_metrics_directory_costs_no_answer(tmp_path, small_tmpfs, fault):
    if fault == "full":
        _fill(small_tmpfs)
    else:
        subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    env = {"MGI_DEV_MODE": "1", "PROMETHEUS_MULTIPROC_DIR": str(small_tmpfs)}
    with Gunicorn(tmp_path, env, workers=2) as server:
        answers = [server.post("/v1/interpretations", PANEL)[0] for _ in range(20)]
        health = [server.get("/healthz")[0] for _ in range(5)]
        assert server.alive()
    assert answers == [200] * 20 and health == [200] * 5
    output = server.output()
    access = [line for line in output.splitlines() if '"logger":"mgi.access"' in line]
    assert sum('"route":"/v1/interpretations","status":200' in line for line in access) == 20
    faults = output.count("metrics storage failed")
    assert 1 <= faults <= 2, output[-3000:]  # once per worker that answered
    for death in ("SIGBUS", "was sent", "exited with code", "WORKER TIMEOUT"):
        assert death not in output, output[-3000:]
