"""gunicorn.conf.py: every setting is one gunicorn knows, env overrides work, and a real
gunicorn with two workers serves the extensions with metrics aggregated across workers."""

from __future__ import annotations

import os
import runpy
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
from gunicorn.config import KNOWN_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "gunicorn.conf.py"
HOOKS = {"on_starting", "when_ready", "child_exit", "post_fork"}


def load_conf(monkeypatch, **env) -> dict:
    for name in ("MGI_BIND", "MGI_WORKERS", "MGI_WORKER_CLASS", "MGI_THREADS", "MGI_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return {k: v for k, v in runpy.run_path(str(CONF)).items() if not k.startswith("_")}


def test_every_name_in_the_config_file_is_a_gunicorn_setting(monkeypatch):
    known = {s.name for s in KNOWN_SETTINGS}
    settings = {k for k, v in load_conf(monkeypatch).items() if not callable(v) or k in HOOKS} - {
        "glob",
        "os",
    }
    assert settings - known == set()
    assert HOOKS <= settings


def test_the_defaults_are_the_documented_ones(monkeypatch):
    conf = load_conf(monkeypatch)
    assert conf["bind"] == "0.0.0.0:8000"
    assert conf["worker_class"] == "sync"
    assert 1 <= conf["workers"] <= 8
    assert conf["accesslog"] is None
    assert conf["preload_app"] is False
    assert conf["max_requests"] > 0 and conf["max_requests_jitter"] > 0
    assert conf["graceful_timeout"] < 20  # docker-compose stop_grace_period


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str, *args) -> None:
        self.lines.append("info: " + msg % args)

    def warning(self, msg: str, *args) -> None:
        self.lines.append("warning: " + msg % args)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc allocator settings")
def test_each_worker_sets_the_allocator_to_keep_and_reuse_request_memory(monkeypatch):
    # glibc accepts both settings (mallopt returns 1); a refusal would be logged as a warning.
    conf = runpy.run_path(str(CONF))
    log = _Log()
    conf["_tune_malloc"](log)
    assert log.lines == []
    assert conf["_MALLOC_MMAP_THRESHOLD"] <= 32 * 1024 * 1024  # glibc's own maximum (HEAP_MAX/2)
    assert conf["_MALLOC_TRIM_THRESHOLD"] >= conf["_MALLOC_MMAP_THRESHOLD"]


@pytest.mark.parametrize("value", ["0", "false", "OFF", " no "])
def test_the_allocator_tuning_can_be_turned_off(monkeypatch, value):
    monkeypatch.setenv("MGI_MALLOC_TUNING", value)
    conf = runpy.run_path(str(CONF))
    called = []
    monkeypatch.setattr("ctypes.CDLL", lambda *a, **k: called.append(a))
    conf["_tune_malloc"](_Log())
    assert called == []


@pytest.mark.parametrize(("worker_class", "threads"), [("gthread", 4), ("sync", 4)])
def test_threaded_workers_keep_the_allocator_defaults(monkeypatch, worker_class, threads):
    # glibc keeps a heap per thread and the trim threshold applies to each: a threaded worker would
    # keep up to 64 MiB of freed memory per thread. (gunicorn runs gthread when threads > 1.)
    from gunicorn.config import Config

    conf = runpy.run_path(str(CONF))
    cfg = Config()
    cfg.set("worker_class", worker_class)
    cfg.set("threads", threads)
    called = []
    monkeypatch.setattr("ctypes.CDLL", lambda *a, **k: called.append(a))
    log = _Log()
    conf["post_fork"](type("Server", (), {"cfg": cfg, "log": log})(), None)
    assert called == [] and log.lines == ["info: mgi: gthread workers: glibc allocator defaults kept"]


def test_a_sync_worker_tunes_the_allocator(monkeypatch):
    from gunicorn.config import Config

    conf = runpy.run_path(str(CONF))
    calls = []

    class Libc:
        def mallopt(self, param, value):
            calls.append((param, value))
            return 1

    monkeypatch.setattr("ctypes.CDLL", lambda *a, **k: Libc())
    log = _Log()
    conf["post_fork"](type("Server", (), {"cfg": Config(), "log": log})(), None)
    assert calls == [(-3, 32 * 1024 * 1024), (-1, 64 * 1024 * 1024)] and log.lines == []


@pytest.mark.parametrize(
    ("env", "key", "expected"),
    [
        ({"MGI_BIND": "127.0.0.1:9001"}, "bind", "127.0.0.1:9001"),
        ({"MGI_WORKERS": "3"}, "workers", 3),
        ({"MGI_WORKERS": ""}, "workers", None),
        ({"MGI_WORKER_CLASS": "gthread", "MGI_THREADS": "8"}, "threads", 8),
        ({"MGI_TIMEOUT": "30"}, "timeout", 30),
    ],
)
def test_environment_variables_override_the_defaults(monkeypatch, env, key, expected):
    value = load_conf(monkeypatch, **env)[key]
    if expected is None:
        assert isinstance(value, int) and value >= 1
    else:
        assert value == expected


WSGI = textwrap.dedent(
    """
    from flask import Flask, g
    from service.api.observability import init_observability, mark_ready
    from service.api.security import init_security

    app = Flask("gunicorn_smoke")
    app.config["API_KEYS"] = {"smoke": "%s"}
    init_observability(app)
    init_security(app)

    @app.get("/v1/ping")
    def ping():
        g.classification_code = "MGUS_NON_IGM"
        return {"pong": True}

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    mark_ready(app)
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_gunicorn_serves_the_app_with_metrics_aggregated_over_workers(tmp_path):
    import hashlib

    key = "smoke-test-key-0123456789abcdefghijklmnopq"
    (tmp_path / "smoke_wsgi.py").write_text(WSGI % hashlib.sha256(key.encode()).hexdigest())
    metrics_dir = tmp_path / "prom"
    port = _free_port()
    env = {
        **os.environ,
        "MGI_BIND": f"127.0.0.1:{port}",
        "MGI_WORKERS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "MGI_METRICS_TOKEN": "smoke-metrics-token-0123456789",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
    }
    env.pop("MGI_API_KEYS", None)
    env.pop("MGI_DEV_MODE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(CONF), "smoke_wsgi:app"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(base + "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, "gunicorn did not become ready"
            time.sleep(0.1)
        auth = {"Authorization": f"Bearer {key}"}
        statuses = [_get(base + "/v1/ping", auth)[0] for _ in range(40)]
        assert statuses == [200] * 40
        assert _get(base + "/v1/ping")[0] == 401
        assert _get(base + "/metrics", auth)[0] == 401  # an API key does not open the metrics
        status, text = _get(base + "/metrics", {"Authorization": "Bearer smoke-metrics-token-0123456789"})
        assert status == 200
        assert 'mgi_http_requests_total{method="GET",route="/v1/ping",status="200"} 40.0' in text
        assert 'mgi_interpretations_total{classification="MGUS_NON_IGM"} 40.0' in text
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, output
    assert "mgi: gunicorn ready" in output
    assert '"logger":"mgi.access"' in output
    assert key not in output


def _chunked_post(port: int, path: str, ctype: str, data: bytes) -> tuple[int, bytes]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.putrequest("POST", path)
    conn.putheader("Content-Type", ctype)
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for i in range(0, len(data), 65536):
        part = data[i : i + 65536]
        conn.send(b"%x\r\n" % len(part) + part + b"\r\n")
    conn.send(b"0\r\n\r\n")
    resp = conn.getresponse()
    return resp.status, resp.read()


def _raw_post(port: int, head_and_body: bytes, *, close_send: bool = False) -> tuple[int, bytes]:
    """Send bytes as they are (malformed framing included); the status and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(head_and_body)
        if close_send:  # the client stops sending: the server sees the end of the body
            s.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


MALFORMED_CHUNKED = [
    b"zz\r\nhi\r\n0\r\n\r\n",  # chunk size not hex
    b"-5\r\nhi\r\n0\r\n\r\n",  # negative chunk size
    b"2\r\nhiXX0\r\n\r\n",  # no CRLF after the chunk
]


def test_a_chunked_body_over_the_limit_is_413_never_a_truncated_interpretation():
    port = _free_port()
    env = {
        **os.environ,
        "MGI_BIND": f"127.0.0.1:{port}",
        "MGI_WORKERS": "1",
        "MGI_DEV_MODE": "1",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(CONF), "service.wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(f"http://127.0.0.1:{port}/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        hl7 = (ROOT / "tests" / "adapters" / "samples" / "oru_basic_lf.hl7").read_bytes()
        assert _chunked_post(port, "/v1/hl7v2", "text/plain", hl7)[0] == 200
        big_hl7 = hl7 + b"NTE|1||" + b"x" * 300_000 + b"\n"
        status, body = _chunked_post(port, "/v1/hl7v2", "text/plain", big_hl7)
        assert status == 413, body[:200]
        small = b'{"serum_ife": {"result": "negative"}}'
        assert _chunked_post(port, "/v1/interpretations", "application/json", small)[0] == 200
        big = b'{"serum_ife": {"result": "negative"}, "pad": "' + b"x" * 300_000 + b'"}'
        status, body = _chunked_post(port, "/v1/interpretations", "application/json", big)
        assert status == 413 and b'"code": 413' in body
        # Malformed chunked framing is the client's: a 400 with the standard body, never a 500.
        head = (
            b"POST /v1/interpretations HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        for framing in MALFORMED_CHUNKED:
            status, body = _raw_post(port, head + framing)
            assert status == 400, (framing, body[:300])
            assert b'"code": 400' in body and b"chunked" in body
        # A body cut short of its Content-Length is refused, never interpreted as if it were whole.
        cut = hl7[: hl7.index(b"OBX|5")]
        short = (
            b"POST /v1/hl7v2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: text/plain\r\n"
            b"Content-Length: %d\r\n\r\n" % len(hl7)
        ) + cut
        status, body = _raw_post(port, short, close_send=True)
        assert status == 400 and b"Content-Length" in body, body[:300]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


@pytest.mark.parametrize(
    "bind_args",
    [
        ["--bind", "0.0.0.0:{port}"],
        ["--bind", "127.0.0.1:{port}", "--bind", "0.0.0.0:{other}"],
    ],
)
def test_development_mode_refuses_an_address_the_network_can_reach(bind_args):
    port, other = _free_port(), _free_port()
    env = {**os.environ, "MGI_BIND": f"127.0.0.1:{port}", "MGI_WORKERS": "1", "MGI_DEV_MODE": "1"}
    env["PYTHONPATH"] = str(ROOT)
    args = [a.format(port=port, other=other) for a in bind_args]
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(CONF), *args, "service.wsgi:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "MGI_DEV_MODE=1 (authentication off) is refused on 0.0.0.0:" in done.stderr
    assert "Booting worker" not in done.stderr


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1:8000", True),
        ("127.1.2.3:8000", True),
        ("localhost:8000", True),
        ("[::1]:8000", True),
        ("unix:/run/mgi.sock", True),
        ("0.0.0.0:8000", False),
        ("[::]:8000", False),
        ("10.0.0.5:8000", False),
        (":8000", False),
    ],
)
def test_only_loopback_addresses_count_as_loopback(address, loopback):
    conf = runpy.run_path(str(CONF))
    assert conf["_loopback"](address) is loopback
