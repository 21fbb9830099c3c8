"""The shipped proxy configuration (deploy/nginx/) in front of the service, on loopback.

Used by tests/ops/test_proxy.py and bench/slow_clients.py. ``render`` copies the shipped nginx files
with only what a loopback run must change: the listen ports (ephemeral), the upstream address (the
gunicorn started here), the certificate paths (a throwaway self-signed pair from
deploy/tls/make-self-signed.sh), the access log and the pid/temporary paths (a temporary directory).
Each of these substitutions must match exactly as often as expected, so a change to the shipped files
that this rendering no longer understands fails loudly instead of testing something else.

``Stack`` starts gunicorn (gunicorn.conf.py, sync workers, a real API key) and Debian's nginx, each in
its own process group, and kills both groups on exit. ``slow_clients`` and ``probe`` are the
slow-client attack and the measurement of what a well-behaved client sees meanwhile.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "deploy" / "nginx"
MAKE_CERT = ROOT / "deploy" / "tls" / "make-self-signed.sh"
HOST = "127.0.0.1"
KEY = "proxy-probe-key-Zq4Lm8Xv2Nc7Bt1Kd9Rf3Ws6Yh0Pj5"
EXAMPLE = ROOT / "examples" / "worked-example-s6.json"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _sub(text: str, old: str, new: str, count: int, where: str) -> str:
    found = text.count(old)
    if found != count:
        raise ValueError(f"{where}: expected {count} x {old!r} in the shipped config, found {found}")
    return text.replace(old, new)


SYSTEMD_UPSTREAM = ROOT / "deploy" / "systemd" / "mgi-upstream.conf"


def render(
    work: Path, https_port: int, http_port: int, upstream: str, tls_dir: Path, host_install: bool = False
) -> Path:
    """Write the shipped config, rendered for loopback, under ``work``; return the main file's path.

    ``upstream`` is ``host:port``, or ``unix:/path`` with ``host_install`` (the systemd site's
    upstream file, deploy/systemd/mgi-upstream.conf, in place of the container one)."""
    conf_d = work / "conf.d"
    conf_d.mkdir(parents=True, exist_ok=True)
    main = (SHIPPED / "nginx.conf").read_text()
    main = _sub(main, "pid /tmp/nginx.pid;", f"pid {work}/nginx.pid;", 1, "nginx.conf")
    main = _sub(main, "_temp_path /tmp/", f"_temp_path {work}/", 5, "nginx.conf")
    main = _sub(main, "include /etc/nginx/conf.d/*.conf;", f"include {conf_d}/*.conf;", 1, "nginx.conf")
    if os.geteuid() == 0:
        # As root, nginx would hand its workers to an unprivileged user that cannot enter the
        # temporary directory; the shipped container runs nginx unprivileged throughout.
        main = "user root;\n" + main
    site = (SHIPPED / "conf.d" / "mgi.conf").read_text()
    site = _sub(site, "listen 8443 ssl;", f"listen {HOST}:{https_port} ssl;", 1, "mgi.conf")
    site = _sub(site, "listen 8080;", f"listen {HOST}:{http_port};", 1, "mgi.conf")
    site = _sub(site, "/etc/nginx/tls/", f"{tls_dir}/", 2, "mgi.conf")
    site = _sub(site, "/var/log/nginx/access.log", f"{work}/access.log", 2, "mgi.conf")
    site = _sub(site, "/var/log/nginx/error.log", f"{work}/error.log", 2, "mgi.conf")
    if host_install:
        upstream_conf = SYSTEMD_UPSTREAM.read_text()
        upstream_conf = _sub(
            upstream_conf, "server unix:/run/mgi/gunicorn.sock;", f"server {upstream};", 1, "systemd upstream"
        )
    else:
        upstream_conf = (SHIPPED / "conf.d" / "mgi-upstream.conf").read_text()
        upstream_conf = _sub(upstream_conf, "server mgi:8000;", f"server {upstream};", 1, "mgi-upstream.conf")
    names = sorted(p.name for p in (SHIPPED / "conf.d").glob("*.conf"))
    if names != ["mgi-upstream.conf", "mgi.conf"]:
        raise ValueError(f"deploy/nginx/conf.d holds {names}: teach bench/proxy_stack.py about them")
    (conf_d / "mgi.conf").write_text(site)
    (conf_d / "mgi-upstream.conf").write_text(upstream_conf)
    path = work / "nginx.conf"
    path.write_text(main)
    return path


def make_certificate(tls_dir: Path) -> None:
    subprocess.run(
        ["sh", str(MAKE_CERT), "localhost", str(tls_dir)], check=True, capture_output=True, timeout=60
    )


def tls_context(tls_dir: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(tls_dir / "tls.crt"))
    ctx.check_hostname = False  # the certificate names localhost; we connect to 127.0.0.1 by address
    return ctx


@dataclass
class Stack:
    """gunicorn (gunicorn.conf.py) behind nginx (the shipped config), both on loopback."""

    work: Path
    workers: int = 2
    # As deploy/systemd/ installs it: gunicorn on a Unix socket, the systemd site's upstream file.
    unix_socket: bool = False
    gunicorn_port: int = 0
    https_port: int = 0
    http_port: int = 0
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def tls_dir(self) -> Path:
        return self.work / "tls"

    def __enter__(self) -> Stack:
        nginx = nginx_binary()
        if nginx is None:
            raise RuntimeError("nginx is not installed (apt-get install -y nginx)")
        self.work.mkdir(parents=True, exist_ok=True)
        make_certificate(self.tls_dir)
        self.gunicorn_port, self.https_port, self.http_port = free_port(), free_port(), free_port()
        env = {
            k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR", "MGI_API_KEYS_FILE")
        }
        socket_path = self.work / "gunicorn.sock"
        bind = f"unix:{socket_path}" if self.unix_socket else f"{HOST}:{self.gunicorn_port}"
        env.update(
            MGI_BIND=bind,
            MGI_WORKERS=str(self.workers),
            MGI_WORKER_CLASS="sync",
            MGI_DEV_MODE="0",
            MGI_API_KEYS="probe:" + hashlib.sha256(KEY.encode()).hexdigest(),
            MGI_GUNICORN_LOG_LEVEL="warning",
        )
        try:
            self._spawn(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "service.wsgi:app"],
                env,
                "gunicorn.log",
            )
            if self.unix_socket:
                self._wait(socket_path.exists, "gunicorn")
            else:
                self._wait(lambda: self.get(self.direct("/healthz"))[0] == 200, "gunicorn")
            conf = render(
                self.work / "nginx", self.https_port, self.http_port, bind, self.tls_dir, self.unix_socket
            )
            check = subprocess.run(
                [nginx, "-e", "stderr", "-p", str(conf.parent), "-c", str(conf), "-t"],
                capture_output=True,
                text=True,
                timeout=30,
            )
            if check.returncode != 0:
                raise RuntimeError(f"nginx -t refused the rendered config:\n{check.stderr}")
            self._spawn(
                [nginx, "-e", "stderr", "-p", str(conf.parent), "-c", str(conf), "-g", "daemon off;"],
                os.environ.copy(),
                "nginx.log",
            )
            self._wait(lambda: self.get(self.https("/healthz"))[0] == 200, "nginx")
        except BaseException:
            self.__exit__()
            raise
        return self

    def _spawn(self, cmd: list[str], env: dict[str, str], log_name: str) -> None:
        with open(self.work / log_name, "wb") as log:
            self.procs.append(
                subprocess.Popen(
                    cmd,
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )

    def _wait(self, ready, name: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError(f"{name} exited at start:\n{self.logs()}")
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{name} not ready after {timeout} s:\n{self.logs()}")

    def logs(self) -> str:
        out = []
        for name in ("gunicorn.log", "nginx.log"):
            path = self.work / name
            if path.exists():
                out.append(f"--- {name}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(out)

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self.procs.clear()

    # --- clients ---------------------------------------------------------------------------------

    def https(self, path: str) -> str:
        return f"https://{HOST}:{self.https_port}{path}"

    def http(self, path: str) -> str:
        return f"http://{HOST}:{self.http_port}{path}"

    def direct(self, path: str) -> str:
        return f"http://{HOST}:{self.gunicorn_port}{path}"

    def get(self, url: str, **kw) -> tuple[int, dict[str, str], bytes]:
        return self.request("GET", url, **kw)

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body); status 0 when the connection failed or timed out."""
        scheme, _, rest = url.partition("://")
        hostport, _, path = rest.partition("/")
        host, _, port = hostport.partition(":")
        conn: http.client.HTTPConnection
        if scheme == "https":
            conn = http.client.HTTPSConnection(
                host, int(port), timeout=timeout, context=tls_context(self.tls_dir)
            )
        else:
            conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        try:
            conn.request(method, "/" + path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        except (OSError, http.client.HTTPException):
            return 0, {}, b""
        finally:
            conn.close()

    def interpret(self, url: str, timeout: float = 5.0) -> tuple[int, str | None]:
        status, _, body = self.request(
            "POST",
            url,
            EXAMPLE.read_bytes(),
            {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"},
            timeout,
        )
        code = json.loads(body)["classification"]["code"] if status == 200 else None
        return status, code


# --- the slow-client attack and what a good client sees meanwhile ---------------------------------


@dataclass
class SlowClients:
    """``n`` sockets, each sending a request one header line per second; reopened when closed."""

    port: int
    n: int = 20
    context: ssl.SSLContext | None = None
    opened: int = 0
    closed_by_server: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((HOST, self.port), timeout=5)
        if self.context is not None:
            sock = self.context.wrap_socket(sock)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        self.opened += 1
        return sock

    def _run(self, i: int) -> None:
        sock = None
        line = 0
        while not self._stop.is_set():
            try:
                if sock is None:
                    sock = self._connect()
                line += 1
                sock.sendall(f"X-Slow-{i}-{line}: 1\r\n".encode())
            except OSError:
                if sock is not None:
                    self.closed_by_server += 1
                    sock.close()
                sock = None
            self._stop.wait(1.0)
        if sock is not None:
            sock.close()

    def __enter__(self) -> SlowClients:
        for i in range(self.n):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self._threads.append(t)
        time.sleep(1.5)  # every socket connected and trickling before anything is measured
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)


@dataclass
class Probe:
    """What a well-behaved client saw: /healthz and real interpretations, alternately."""

    healthz: list[tuple[int, float]] = field(default_factory=list)
    interpretations: list[tuple[int, float]] = field(default_factory=list)

    @staticmethod
    def _summary(samples: list[tuple[int, float]]) -> dict:
        ok = sorted(t for status, t in samples if status == 200)
        return {
            "sent": len(samples),
            "answered_200": len(ok),
            "p50_s": round(ok[len(ok) // 2], 3) if ok else None,
            "max_s": round(ok[-1], 3) if ok else None,
        }

    def summary(self) -> dict:
        return {
            "healthz": self._summary(self.healthz),
            "interpretations": self._summary(self.interpretations),
        }


def probe(stack: Stack, base: str, seconds: float, timeout: float = 2.0, interval: float = 0.5) -> Probe:
    """Alternate GET /healthz and POST /v1/interpretations against ``base`` for ``seconds``."""
    result = Probe()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        status, _, _ = stack.get(base + "/healthz", timeout=timeout)
        result.healthz.append((status, time.monotonic() - t0))
        t0 = time.monotonic()
        status, code = stack.interpret(base + "/v1/interpretations", timeout=timeout)
        ok = status == 200 and code == "MGUS_NON_IGM"
        result.interpretations.append((200 if ok else status or 0, time.monotonic() - t0))
        time.sleep(max(0.0, interval - (time.monotonic() - t0)))
    return result
