"""Load-and-fault run: the service under gunicorn on loopback, a graceful reload and a worker kill mid-run.

Run by hand (takes a minute or two; pytest does not collect it, see conftest.py)::

    .venv/bin/python tests/load/load_and_fault.py                  # 20,000 requests, 16 clients, 3 workers
    .venv/bin/python tests/load/load_and_fault.py --requests 2000 --concurrency 8 --workers 2

What it does:

1. generates a fresh random API key (as ``python -m service.api.security hash-key`` does) and starts
   ``gunicorn -c gunicorn.conf.py service.wsgi:app`` with ``MGI_API_KEYS`` (authentication on, no
   development mode) on a free 127.0.0.1 port, in its own process group;
2. waits for ``/healthz``; sends each ``examples/*.json`` body (``batch.json`` excepted) once to learn
   its expected classification code and the ruleset version;
3. drives ``--requests`` POST /v1/interpretations requests, the bodies in a fixed rotation, from
   ``--concurrency`` client threads (http.client, one connection each, reopened after an error);
4. when a third of the requests have been issued it sends SIGHUP to the gunicorn master (graceful
   reload: new workers, old ones finish their request and exit); at two thirds it SIGKILLs one worker;
5. counts every request as answered (HTTP 200) - correct or wrong (other classification code, or
   ruleset_version missing/changed) - or failed (connection error, timeout, non-200). A failure
   observed within +/-``--kill-window`` s of the SIGKILL is counted as "in flight on the killed worker";
6. after the load: ``/healthz`` answers, an authenticated request is correct, a request without a key
   and one with an unknown key get 401;
7. stops gunicorn (SIGTERM to its process group, SIGKILL after a grace period) - also on Ctrl-C.

Exit status 0 only if every request was sent, nothing was wrong, no failure fell outside the kill
window, both faults were delivered and the post-fault checks passed; 1 otherwise; 2 if the server
did not start.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
HOST = "127.0.0.1"  # loopback only, by design
PATH = "/v1/interpretations"
KEY_NAME = "load-test"


# --------------------------------------------------------------------------- helpers


def hash_key(key: str) -> str:
    """The service's own digest function (falls back to the same SHA-256 if it cannot be imported)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        from service.api.security import hash_key as service_hash_key
    except ImportError:
        return hashlib.sha256(key.encode("utf-8")).hexdigest()
    return service_hash_key(key)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def children(pid: int) -> set[int]:
    """Direct children of a process (the gunicorn workers of the master)."""
    out: set[int] = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out.update(int(p) for p in fh.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return out


def call(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def check_answer(data: bytes, expected_code: str, ruleset: str) -> str:
    """'' if a 200 body is right, else what is wrong with it."""
    try:
        doc = json.loads(data)
    except ValueError:
        return "body is not JSON"
    if not isinstance(doc, dict):
        return "body is not an object"
    got_ruleset = doc.get("ruleset_version")
    if not got_ruleset:
        return "ruleset_version missing"
    if got_ruleset != ruleset:
        return f"ruleset_version {got_ruleset!r} != {ruleset!r}"
    classification = doc.get("classification")
    code = classification.get("code") if isinstance(classification, dict) else None
    if code != expected_code:
        return f"classification {code!r} != {expected_code!r}"
    return ""


def load_mix() -> list[tuple[str, bytes]]:
    files = sorted(p for p in EXAMPLES.glob("*.json") if p.name != "batch.json")
    if not files:
        raise SystemExit(f"no request bodies in {EXAMPLES}")
    # Re-serialised compactly: the same content, fewer bytes on the wire.
    return [(p.name, json.dumps(json.loads(p.read_text()), separators=(",", ":")).encode()) for p in files]


# --------------------------------------------------------------------------- the server


class Server:
    def __init__(self, workers: int, worker_class: str, key_digest: str, workdir: Path):
        self.port = free_port()
        self.workers = workers
        self.log_path = workdir / "gunicorn.log"
        env = dict(os.environ)
        for name in ("MGI_DEV_MODE", "MGI_API_KEYS_FILE", "MGI_THREADS", "MGI_TIMEOUT", "MGI_WORKER_CLASS"):
            env.pop(name, None)
        env.update(
            {
                "MGI_BIND": f"{HOST}:{self.port}",
                "MGI_WORKERS": str(workers),
                "MGI_WORKER_CLASS": worker_class,
                "MGI_API_KEYS": f"{KEY_NAME}:{key_digest}",
                "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prometheus"),  # as deployed
                "PYTHONUNBUFFERED": "1",
            }
        )
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "service.wsgi:app"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own session and process group: killpg reaches master + workers
        )
        self.pid = self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def workers_now(self) -> set[int]:
        return children(self.pid)

    def wait_healthy(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return False
            try:
                if call(self.port, "GET", "/healthz", timeout=2)[0] == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.2)
        return False

    def stop(self, grace: float = 20.0) -> None:
        if self.alive():
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        # Workers orphaned by a master that died first: same process group, stop them too.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()

    def log_lines(self, *needles: str, limit: int = 10) -> tuple[int, list[str]]:
        count, shown = 0, []
        with open(self.log_path, errors="replace") as fh:
            for line in fh:
                if any(n in line for n in needles):
                    count += 1
                    if len(shown) < limit:
                        shown.append(line.rstrip()[:200])
        return count, shown


# --------------------------------------------------------------------------- the load


@dataclass
class Failure:
    t_start: float
    t_end: float
    what: str
    request_id: str


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    issued: int = 0
    correct: int = 0
    wrong: list[tuple[str, str]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    slowest: tuple[float, float] = (0.0, 0.0)  # (latency, monotonic end time) of the slowest answer


class Load:
    def __init__(
        self,
        port: int,
        key: str,
        mix: list[tuple[str, bytes, str]],
        ruleset: str,
        total: int,
        concurrency: int,
        timeout: float,
        deadline: float,
    ):
        self.port, self.key, self.mix, self.ruleset = port, key, mix, ruleset
        self.total, self.concurrency, self.timeout, self.deadline = total, concurrency, timeout, deadline
        self.stats = Stats()
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._client, args=(n,), daemon=True, name=f"client-{n}")
            for n in range(concurrency)
        ]

    def issued(self) -> int:
        with self.stats.lock:
            return self.stats.issued

    def _take(self) -> int | None:
        if self.stop.is_set() or time.monotonic() > self.deadline:
            return None
        with self.stats.lock:
            if self.stats.issued >= self.total:
                return None
            self.stats.issued += 1
            return self.stats.issued - 1

    def _client(self, n: int) -> None:
        conn: http.client.HTTPConnection | None = None
        base = {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}
        while (i := self._take()) is not None:
            _, body, expected = self.mix[i % len(self.mix)]
            rid = f"load-{i}"
            if conn is None:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
            t0 = time.monotonic()
            try:
                conn.request("POST", PATH, body=body, headers={**base, "X-Request-ID": rid})
                resp = conn.getresponse()
                data = resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException) as exc:
                t1 = time.monotonic()
                conn.close()
                conn = None  # reconnect for the next request
                with self.stats.lock:
                    self.stats.failures.append(Failure(t0, t1, type(exc).__name__, rid))
                continue
            t1 = time.monotonic()
            if status != 200:
                with self.stats.lock:
                    self.stats.failures.append(Failure(t0, t1, f"HTTP {status}", rid))
                continue
            problem = check_answer(data, expected, self.ruleset)
            with self.stats.lock:
                self.stats.latencies.append(t1 - t0)
                if t1 - t0 > self.stats.slowest[0]:
                    self.stats.slowest = (t1 - t0, t1)
                if problem:
                    self.stats.wrong.append((rid, problem))
                else:
                    self.stats.correct += 1
        if conn is not None:
            conn.close()

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def running(self) -> bool:
        return any(t.is_alive() for t in self.threads)

    def join(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, end - time.monotonic()))


# --------------------------------------------------------------------------- the faults


@dataclass
class Faults:
    t_hup: float | None = None
    hup_at_request: int = 0
    reload_seconds: float | None = None  # until every old worker is gone and the count is back
    workers_before_hup: set[int] = field(default_factory=set)
    workers_after_hup: set[int] = field(default_factory=set)
    t_kill: float | None = None
    kill_at_request: int = 0
    killed_pid: int | None = None
    respawn_seconds: float | None = None
    errors: list[str] = field(default_factory=list)


def wait_until(predicate, timeout: float, stop: threading.Event) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end and not stop.is_set():
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def drive_faults(server: Server, load: Load, faults: Faults) -> None:
    """Runs in a thread: HUP at 1/3 of the issued requests, SIGKILL of one worker at 2/3."""
    n = load.total
    horizon = max(0.0, load.deadline - time.monotonic())
    if not wait_until(lambda: load.issued() >= n // 3, horizon, load.stop):
        faults.errors.append("the load ended before the HUP point")
        return
    faults.workers_before_hup = server.workers_now()
    faults.hup_at_request = load.issued()
    faults.t_hup = time.monotonic()
    os.kill(server.pid, signal.SIGHUP)
    reloaded = wait_until(
        lambda: (
            (w := server.workers_now()) and not (w & faults.workers_before_hup) and len(w) == server.workers
        ),
        30,
        load.stop,
    )
    if reloaded:
        faults.reload_seconds = time.monotonic() - faults.t_hup
        faults.workers_after_hup = server.workers_now()
    else:
        faults.errors.append(f"old workers still present 30 s after HUP: {sorted(server.workers_now())}")

    horizon = max(0.0, load.deadline - time.monotonic())
    if not wait_until(lambda: load.issued() >= 2 * n // 3, horizon, load.stop):
        faults.errors.append("the load ended before the kill point")
        return
    current = sorted(server.workers_now())
    if not current:
        faults.errors.append("no worker to kill")
        return
    victim = current[len(current) // 2]
    faults.kill_at_request = load.issued()
    faults.t_kill = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    faults.killed_pid = victim
    if wait_until(
        lambda: victim not in (w := server.workers_now()) and len(w) == server.workers, 30, load.stop
    ):
        faults.respawn_seconds = time.monotonic() - faults.t_kill
    else:
        faults.errors.append("the killed worker was not replaced within 30 s")


# --------------------------------------------------------------------------- main


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def post_fault_checks(
    port: int, key: str, body: bytes, expected: str, ruleset: str
) -> list[tuple[str, bool, str]]:
    checks: list[tuple[str, bool, str]] = []

    def attempt(name: str, fn) -> None:
        try:
            ok, detail = fn()
        except (OSError, http.client.HTTPException) as exc:
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        checks.append((name, ok, detail))

    def healthz():
        status, _ = call(port, "GET", "/healthz")
        return status == 200, f"HTTP {status}"

    def authenticated():
        status, data = call(
            port, "POST", PATH, body, {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        )
        problem = check_answer(data, expected, ruleset) if status == 200 else f"HTTP {status}"
        return not problem, problem or f"HTTP 200, {expected}"

    def no_key():
        status, _ = call(port, "POST", PATH, body, {"Content-Type": "application/json"})
        return status == 401, f"HTTP {status}"

    def unknown_key():
        status, _ = call(
            port,
            "POST",
            PATH,
            body,
            {"Content-Type": "application/json", "Authorization": f"Bearer {secrets.token_urlsafe(32)}"},
        )
        return status == 401, f"HTTP {status}"

    attempt("GET /healthz -> 200", healthz)
    attempt("POST /v1 with the key -> 200, right code", authenticated)
    attempt("POST /v1 without a key -> 401", no_key)
    attempt("POST /v1 with an unknown key -> 401", unknown_key)
    return checks


def run(args: argparse.Namespace) -> int:
    key = secrets.token_urlsafe(32)  # what `python -m service.api.security hash-key` generates
    workdir = Path(tempfile.mkdtemp(prefix="mgi-load-"))
    server = Server(args.workers, args.worker_class, hash_key(key), workdir)
    load: Load | None = None
    keep_log = args.keep_log
    try:
        print(
            f"gunicorn master pid {server.pid} on {HOST}:{server.port}, {args.workers} {args.worker_class} "
            f"workers, log {server.log_path}"
        )
        if not server.wait_healthy(args.startup_timeout):
            keep_log = True
            print("the server did not become healthy; last log lines:")
            with open(server.log_path, errors="replace") as fh:
                print("".join(fh.readlines()[-30:]))
            return 2

        # Expected answers, learned once from the running service before any fault.
        auth = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        mix: list[tuple[str, bytes, str]] = []
        ruleset = ""
        for name, body in load_mix():
            status, data = call(server.port, "POST", PATH, body, auth)
            if status != 200:
                print(f"baseline {name}: HTTP {status}: {data[:300]!r}")
                return 2
            doc = json.loads(data)
            ruleset = ruleset or doc["ruleset_version"]
            mix.append((name, body, doc["classification"]["code"]))
        print(
            f"ruleset {ruleset}; {len(mix)} bodies: "
            + ", ".join(f"{name.removesuffix('.json')}={code}" for name, _, code in mix)
        )

        t0 = time.monotonic()
        load = Load(
            server.port,
            key,
            mix,
            ruleset,
            args.requests,
            args.concurrency,
            args.timeout,
            deadline=t0 + args.max_seconds,
        )
        faults = Faults()
        fault_thread = threading.Thread(target=drive_faults, args=(server, load, faults), daemon=True)
        load.start()
        fault_thread.start()
        while load.running() and time.monotonic() < t0 + args.max_seconds + args.timeout + 5:
            load.join(0.5)  # short joins: Ctrl-C is delivered promptly
        load.stop.set()
        load.join(args.timeout + 5)
        elapsed = time.monotonic() - t0
        fault_thread.join(35)
        master_alive = server.alive()
        checks = post_fault_checks(server.port, key, mix[0][1], mix[0][2], ruleset) if master_alive else []
        workers_end = server.workers_now()
        return report(args, server, load.stats, faults, checks, elapsed, master_alive, workers_end)
    except KeyboardInterrupt:
        print("\ninterrupted: stopping the server")
        return 130
    finally:
        if load is not None:
            load.stop.set()
        server.stop()
        if keep_log:
            print(f"gunicorn log kept: {server.log_path}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def report(
    args,
    server: Server,
    stats: Stats,
    faults: Faults,
    checks,
    elapsed: float,
    master_alive: bool,
    workers_end: set[int],
) -> int:
    with stats.lock:
        issued, correct = stats.issued, stats.correct
        wrong, failures, lat = list(stats.wrong), list(stats.failures), sorted(stats.latencies)
        slowest_end = stats.slowest[1]
    answered = correct + len(wrong)
    window = args.kill_window

    def in_kill_window(f: Failure) -> bool:
        return faults.t_kill is not None and abs(f.t_end - faults.t_kill) <= window

    in_window = [f for f in failures if in_kill_window(f)]
    outside = [f for f in failures if not in_kill_window(f)]
    unaccounted = issued - answered - len(failures)

    def rel(t: float | None) -> str:
        return "-" if t is None else f"t+{t - (faults.t_hup or t):.2f}s"

    rows = [
        ("requests planned", f"{args.requests:,}"),
        ("requests sent", f"{issued:,}"),
        ("answered (HTTP 200)", f"{answered:,}"),
        ("  correct", f"{correct:,}"),
        ("  wrong (counts as failure)", f"{len(wrong):,}"),
        ("failed (no HTTP 200)", f"{len(failures):,}"),
        (f"  in flight on the killed worker (+/-{window:g} s)", f"{len(in_window):,}"),
        ("  outside the kill window", f"{len(outside):,}"),
        ("duration", f"{elapsed:.1f} s ({issued / elapsed:,.0f} req/s)" if elapsed else "-"),
        (
            "latency of answers p50 / p99 / max",
            f"{percentile(lat, 0.5) * 1e3:.1f} / {percentile(lat, 0.99) * 1e3:.1f} / "
            f"{(lat[-1] if lat else float('nan')) * 1e3:.0f} ms (slowest ended {rel(slowest_end)} after HUP)",
        ),
        (
            "SIGHUP (graceful reload)",
            f"at request {faults.hup_at_request:,}; workers {sorted(faults.workers_before_hup)} -> "
            f"{sorted(faults.workers_after_hup)} in {faults.reload_seconds or float('nan'):.2f} s"
            if faults.t_hup is not None
            else "NOT SENT",
        ),
        (
            "SIGKILL (one worker)",
            f"pid {faults.killed_pid} at request {faults.kill_at_request:,} "
            f"({rel(faults.t_kill)} after HUP); replaced in {faults.respawn_seconds or float('nan'):.2f} s"
            if faults.t_kill is not None
            else "NOT SENT",
        ),
        (
            "workers at the end",
            f"{len(workers_end)} {sorted(workers_end)}; master {'alive' if master_alive else 'DEAD'}",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print("\n=== load-and-fault summary " + "=" * 40)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    for name, ok, detail in checks:
        print(f"{'after faults: ' + name:<{width}}  {'ok' if ok else 'FAILED'} ({detail})")

    if failures:
        print("\nfailures (time relative to the SIGKILL):")
        for f in failures[:20]:
            since = f"{f.t_end - faults.t_kill:+.3f} s" if faults.t_kill is not None else "?"
            print(
                f"  {f.request_id:<12} {f.what:<24} ended {since}, took {f.t_end - f.t_start:.3f} s, "
                f"{'in kill window' if in_kill_window(f) else 'OUTSIDE kill window'}"
            )
        if len(failures) > 20:
            print(f"  ... {len(failures) - 20} more")
    if wrong:
        print("\nwrong answers:")
        for rid, problem in wrong[:20]:
            print(f"  {rid:<12} {problem}")

    n, lines = server.log_lines("Traceback", "[ERROR]", "[CRITICAL]", "WORKER TIMEOUT", '"level":"ERROR"')
    print(f"\ngunicorn/app log: {n} error line(s)" + (":" if lines else ""))
    for line in lines:
        print(f"  {line}")

    problems = list(faults.errors)
    if issued < args.requests:
        problems.append(f"only {issued:,} of {args.requests:,} requests sent (time limit)")
    if unaccounted:
        problems.append(f"{unaccounted} request(s) neither answered nor failed (client thread stuck?)")
    if wrong:
        problems.append(f"{len(wrong)} wrong answer(s)")
    if outside:
        problems.append(f"{len(outside)} failure(s) outside the kill window")
    if faults.t_hup is None or faults.t_kill is None:
        problems.append("a fault was not delivered")
    if not master_alive:
        problems.append("the gunicorn master died")
    problems += [f"post-fault check failed: {name}" for name, ok, _ in checks if not ok]
    print("\nRESULT: " + ("PASS" if not problems else "FAIL - " + "; ".join(problems)))
    return 0 if not problems else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000, help="requests to send (default 20000)")
    parser.add_argument("--concurrency", type=int, default=16, help="client threads (default 16)")
    parser.add_argument("--workers", type=int, default=3, choices=range(2, 5), help="gunicorn workers (2-4)")
    parser.add_argument("--worker-class", default="sync", choices=("sync", "gthread"))
    parser.add_argument("--timeout", type=float, default=15.0, help="per-request client timeout, s")
    parser.add_argument(
        "--max-seconds", type=float, default=600.0, help="stop issuing requests after this long (default 600)"
    )
    parser.add_argument(
        "--kill-window",
        type=float,
        default=1.0,
        help="failures this close to the SIGKILL count as in flight on the killed worker",
    )
    parser.add_argument("--startup-timeout", type=float, default=60.0)
    parser.add_argument("--keep-log", action="store_true", help="keep the gunicorn log directory")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 1_000_000 or not 1 <= args.concurrency <= 256:
        parser.error("--requests must be 1..1000000 and --concurrency 1..256")

    def on_term(signum, frame):  # a SIGTERM to this script stops the server like Ctrl-C does
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
