"""Run the service under gunicorn with the shipped gunicorn.conf.py on a free loopback port (tests only)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "gunicorn.conf.py"
# Variables of the developer's shell that would change what a test server does.
SCRUBBED = (
    "MGI_API_KEYS",
    "MGI_API_KEYS_FILE",
    "MGI_DEV_MODE",
    "MGI_CODEMAP_FILE",
    "MGI_METRICS_TOKEN",
    "MGI_METRICS_TOKEN_SHA256",
    "MGI_RUNTIME_DIR",
    "PROMETHEUS_MULTIPROC_DIR",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(
    url: str, *, method: str = "GET", body: bytes | None = None, headers: dict | None = None, timeout=20
) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


class Gunicorn:
    """``with Gunicorn(tmp_path, env) as g: g.get("/healthz")``; ``g.output()`` is everything it printed."""

    def __init__(self, tmp_path: Path, env: dict[str, str], *, app: str = "service.wsgi:app", workers=2):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"gunicorn-{self.port}.log"
        self.env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
        self.env.update({"MGI_BIND": f"127.0.0.1:{self.port}", "MGI_WORKERS": str(workers)})
        self.env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
        self.env.update(env)
        self.app = app
        self.cwd = tmp_path
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in __exit__
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(CONF), self.app],
            cwd=self.cwd,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.wait_until_up()
        return self

    def wait_until_up(self, timeout: float = 40) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.get("/healthz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            assert self.proc is not None
            assert self.proc.poll() is None, f"gunicorn exited:\n{self.output()[-3000:]}"
            assert time.monotonic() < deadline, f"gunicorn did not come up:\n{self.output()[-3000:]}"
            time.sleep(0.1)

    def get(self, path: str, headers: dict | None = None, timeout=20) -> tuple[int, dict, bytes]:
        return request(self.base + path, headers=headers, timeout=timeout)

    def post(self, path: str, body, headers: dict | None = None, timeout=30) -> tuple[int, dict, bytes]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        return request(self.base + path, method="POST", body=data, headers=hdrs, timeout=timeout)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __exit__(self, *exc) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
