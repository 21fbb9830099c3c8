"""Shared plumbing for the bench scripts: gunicorn servers on 127.0.0.1, the wrk driver (Lua script
rotating through the panel mix) and a bounded Python fallback generator.

Import it as ``from harness import ...`` after ``bench_path()`` (see http.py): the bench directory holds a
module named ``http`` that would shadow the standard library's package if the directory stayed on
sys.path, so the scripts drop it and import ``bench.harness`` / ``bench.panels`` from the repo root.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
GUNICORN = os.path.join(VENV_BIN, "gunicorn")
HOST = "127.0.0.1"
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer x"}


# --- servers ---------------------------------------------------------------------------------------


def mean_us(fn: Callable[[Any], Any], arg: Any, number: int) -> float:
    """Mean µs of ``number`` calls of ``fn(arg)``."""
    t0 = time.perf_counter()
    for _ in range(number):
        fn(arg)
    return (time.perf_counter() - t0) / number * 1e6


def best_us(fn: Callable[[Any], Any], arg: Any, number: int, repeat: int = 5) -> float:
    """The best of ``repeat`` rounds of ``mean_us``: the least disturbed by other work on the machine."""
    return min(mean_us(fn, arg, number) for _ in range(repeat))


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A gunicorn master started in its own process group (killed as a group)."""

    name: str
    app: str
    workers: int
    extra_args: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen | None = None
    log_path: str = ""

    def start(self, log_dir: str, timeout: float = 30.0) -> Server:
        self.port = free_port()
        env = dict(os.environ)
        env.update(
            {
                "MGI_WORKERS": str(self.workers),
                "MGI_BIND": f"{HOST}:{self.port}",
                "MGI_DEV_MODE": "1",
                "MGI_GUNICORN_LOG_LEVEL": "warning",
            }
        )
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env.update(self.extra_env)
        self.log_path = os.path.join(log_dir, f"{self.name}.log")
        cmd = [GUNICORN, "-c", "gunicorn.conf.py", *self.extra_args, self.app]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name}: gunicorn exited ({self.proc.returncode}); see "
                    f"{self.log_path}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name}: not ready after {timeout}s; see {self.log_path}")

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, n: int = 2000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def worker_pids(self) -> list[int]:
        """Children of the gunicorn master (its workers)."""
        assert self.proc is not None
        master = self.proc.pid
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == master:
                pids.append(int(entry))
        return sorted(pids)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = self.proc.pid  # start_new_session: the master leads its own process group
        try:
            os.killpg(pgid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        except ProcessLookupError:
            pass
        # stray workers of the group, if any, get a KILL
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def vm_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def post(url: str, path: str, body: bytes, timeout: float = 120.0) -> tuple[int, bytes]:
    """One POST (outside the timed part)."""
    req = urllib.request.Request(url + path, data=body, headers=HEADERS, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# --- load generators -------------------------------------------------------------------------------


@dataclass
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non200: int
    socket_errors: int
    generator: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _lua_long_string(s: str) -> str:
    level = 1
    while f"]{'=' * level}]" in s:
        level += 1
    eq = "=" * level
    return f"[{eq}[{s}]{eq}]"


LUA_TEMPLATE = """
-- generated by bench/harness.py: rotate through the panel mix; count non-200 answers
local bodies = {%(bodies)s}
local path = %(path)s
local reqs = {}
local idx = 0
local threads = {}
non200 = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for k, b in ipairs(bodies) do
    reqs[k] = wrk.format("POST", path, {["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer x", ["X-Panel"] = tostring(k - 1)}, b)
  end
  idx = math.random(#reqs) - 1
end

function request()
  idx = idx %% #reqs + 1
  return reqs[idx]
end

function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("non200") or 0) end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, "non200": %%d, ' ..
    '"socket_errors": %%d, "status_errors": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), bad,
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def write_lua(bodies: list[bytes], path: str, directory: str, tag: str = "mix") -> str:
    """A wrk script rotating through these bodies (each thread starts at a random one)."""
    lua = LUA_TEMPLATE % {
        "bodies": ",\n".join(_lua_long_string(b.decode()) for b in bodies),
        "path": json.dumps(path),
    }
    script = os.path.join(directory, f"{tag}.lua")
    with open(script, "w") as f:
        f.write(lua)
    return script


def run_wrk(
    url: str, script: str, seconds: float, connections: int, threads: int = 1, timeout_s: int = 30
) -> LoadResult:
    cmd = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        f"{timeout_s}s",
        "-s",
        script,
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + timeout_s + 30)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    d = json.loads(line[len("WRKJSON ") :])
    return LoadResult(
        d["requests"],
        d["duration_us"] / 1e6,
        d["p50_us"] / 1000,
        d["p99_us"] / 1000,
        max(d["non200"], d["status_errors"]),
        d["socket_errors"],
        "wrk",
    )


def run_python(
    url: str, path: str, bodies: list[bytes], seconds: float, connections: int, limit: int = 0
) -> LoadResult:
    """Bounded fallback: `connections` threads, http.client keep-alive (reconnecting when the server
    closes), stop after `seconds` or `limit` requests in all."""
    host, port = url.removeprefix("http://").split(":")
    lock = threading.Lock()
    latencies: list[float] = []
    counts = {"sent": 0, "non200": 0, "errors": 0}
    stop_at = time.perf_counter() + seconds

    def worker(offset: int) -> None:
        conn: http.client.HTTPConnection | None = None
        i = offset
        local: list[float] = []
        bad = errs = 0
        while time.perf_counter() < stop_at:
            with lock:
                if limit and counts["sent"] >= limit:
                    break
                counts["sent"] += 1
            k = i % len(bodies)
            i += 1
            headers = dict(HEADERS, **{"X-Panel": str(k)})
            t0 = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, int(port), timeout=30)
                conn.request("POST", path, body=bodies[k], headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    bad += 1
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                errs += 1
                if conn is not None:
                    conn.close()
                conn = None
                continue
            local.append(time.perf_counter() - t0)
        if conn is not None:
            conn.close()
        with lock:
            latencies.extend(local)
            counts["non200"] += bad
            counts["errors"] += errs

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(connections)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=seconds + 60)
    elapsed = time.perf_counter() - t0
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000 if latencies else 0.0

    return LoadResult(len(latencies), elapsed, pct(50), pct(99), counts["non200"], counts["errors"], "python")


class LoadGen:
    """One load generator for a whole run (wrk if installed, else the Python one)."""

    def __init__(
        self, bodies: list[bytes], path: str, workdir: str, force_python: bool = False, wrk_threads: int = 1
    ) -> None:
        self.bodies = bodies
        self.path = path
        self.workdir = workdir
        self.use_wrk = have_wrk() and not force_python
        self.wrk_threads = wrk_threads
        self._script: str | None = None

    @property
    def name(self) -> str:
        return f"wrk (-t{self.wrk_threads}, Lua mix)" if self.use_wrk else "python (threads, http.client)"

    def run(self, url: str, seconds: float, connections: int) -> LoadResult:
        if self.use_wrk:
            if self._script is None:
                self._script = write_lua(
                    self.bodies, self.path, self.workdir, tag=f"mix-{abs(hash(self.path))}"
                )
            threads = min(self.wrk_threads, connections)
            return run_wrk(url, self._script, seconds, connections, threads)
        return run_python(url, self.path, self.bodies, seconds, connections)


def workdir() -> str:
    return tempfile.mkdtemp(prefix="mgi-bench-")


def machine() -> dict[str, Any]:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "python": sys.version.split()[0],
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def banner(title: str) -> None:
    m = machine()
    print(
        f"== {title} | nproc={m['nproc']} cpu={m['cpu']} python={m['python']} "
        f"loadavg={m['load']} (other processes on the machine skew the figures)",
        flush=True,
    )
