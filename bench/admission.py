"""Concurrent worst-case batches beside single requests, under gunicorn with the shipped gunicorn.conf.py.

    .venv/bin/python bench/admission.py [--batches 15] [--keys 3] [--singles 4] [--out FILE.json]

Starts ``gunicorn -c gunicorn.conf.py service.wsgi:app`` on a free 127.0.0.1 port with API keys (no
development mode) and its default workers, timeout and admission settings, then at once:

* ``--batches`` clients (spread over ``--keys`` API keys) each send one worst-case batch: 1,000 panels
  with 5 history entries each (the 5,000-entry batch limit), about 2.9 MiB of JSON.
  A 429 is waited out (its Retry-After) and the batch sent again; items a batch did not start (status
  503, time budget) are sent again as a smaller batch. Every batch is retried until all its items are
  interpreted, or 240 s have passed.
* ``--singles`` clients send single interpretations (the bench panel mix) back to back until the
  batches are done; one client probes /healthz every 0.2 s.

Prints and writes (JSON) status counts, 5xx and client timeouts (both must be 0), gunicorn worker
timeouts in the server log, single-request latency p50/p99/max, /healthz max, and per-batch time to
completion. The machine is shared: figures vary with its load (the load average is recorded).
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py would shadow the standard library's http package: this directory off the path first.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import copy  # noqa: E402
import hashlib  # noqa: E402
import http.client  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402

ROOT = _HERE.parent
_spec = importlib.util.spec_from_file_location("bench_panels", _HERE / "panels.py")
assert _spec is not None and _spec.loader is not None
panels = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(panels)
BODIES, MGUS_WITH_HISTORY = panels.BODIES, panels.MGUS_WITH_HISTORY

HOST = "127.0.0.1"


def worst_item() -> dict:
    item = copy.deepcopy(MGUS_WITH_HISTORY)
    extra = copy.deepcopy(item["history"][:2])
    extra[0]["collected_on"], extra[1]["collected_on"] = "2022-03-01", "2022-09-01"
    item["history"] = extra + item["history"]  # 5 entries: 1,000 items reach the 5,000-entry limit
    for entry in item["history"]:  # each earlier FLC result with the lab's range, as the current one
        entry["flc"]["kappa"]["reference_range"] = {"low": 3.3, "high": 19.4}
        entry["flc"]["lambda"]["reference_range"] = {"low": 5.7, "high": 26.3}
    return item


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def post(port: int, path: str, body: bytes, key: str, timeout: float) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(
            "POST", path, body, {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        )
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def get(port: int, path: str, timeout: float) -> int:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=15)
    ap.add_argument("--keys", type=int, default=3)
    ap.add_argument("--singles", type=int, default=4)
    ap.add_argument("--deadline", type=float, default=240.0)
    ap.add_argument(
        "--store",
        choices=["sqlite", "off"],
        default="sqlite",
        help="records store of the server: the embedded SQLite file (the default deployment) or off",
    )
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "admission.json"))
    args = ap.parse_args(argv)

    keys = [secrets.token_urlsafe(32) for _ in range(args.keys)]
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="mgi-bench-admission-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MGI_") and "PROMETHEUS" not in k}
    env.update(
        {
            "MGI_BIND": f"{HOST}:{port}",
            "MGI_API_KEYS": ",".join(
                f"bench{i}:{hashlib.sha256(k.encode()).hexdigest()}" for i, k in enumerate(keys)
            ),
            "PYTHONPATH": str(ROOT),
        }
    )
    if args.store == "off":
        env["MGI_STORE"] = "off"
    else:  # every interpretation stored, as in the default deployment
        env.update({"MGI_DATA_DIR": str(workdir / "data"), "MGI_PATIENT_KEY_SECRET": secrets.token_hex(32)})
        subprocess.run([sys.executable, "-m", "service", "db", "upgrade"], cwd=ROOT, env=env, check=True)
    log_path = workdir / "gunicorn.log"
    log = open(log_path, "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "service.wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(port, "/readyz", 2) == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                print(log_path.read_text()[-3000:])
                return 2
            time.sleep(0.2)

        item = worst_item()
        batch_items = [item] * 1000
        body = json.dumps({"items": batch_items}).encode()  # json.dumps's default spacing, as a LIS sends
        statuses: Counter[str] = Counter()
        lock = threading.Lock()
        done = threading.Event()
        singles_ms: list[float] = []
        health_ms: list[float] = []
        batch_s: list[float] = []
        retried_items = [0]
        t_start = time.monotonic()

        def note(kind: str, status: int | str) -> None:
            with lock:
                statuses[f"{kind} {status}"] += 1

        def batch_client(n: int) -> None:
            key = keys[n % len(keys)]
            start = time.monotonic()
            pending = body
            while time.monotonic() - t_start < args.deadline:
                try:
                    status, headers, data = post(port, "/v1/interpretations/batch", pending, key, 60)
                except TimeoutError:
                    note("batch", "timeout")
                    return
                except OSError as exc:
                    note("batch", type(exc).__name__)
                    return
                note("batch", status)
                if status == 429:
                    time.sleep(float(headers.get("Retry-After", "1")))
                    continue
                if status != 200:
                    return
                answer = json.loads(data)
                left = [r["index"] for r in answer["results"] if r["status"] == 503]
                if not left:
                    with lock:
                        batch_s.append(time.monotonic() - start)
                    return
                with lock:
                    retried_items[0] += len(left)
                items = json.loads(pending)["items"]
                pending = json.dumps({"items": [items[i] for i in left]}).encode()
            note("batch", "gave-up")

        def single_client(n: int) -> None:
            i = n
            while not done.is_set():
                t = time.perf_counter()
                try:
                    status, _, _ = post(port, "/v1/interpretations", BODIES[i % len(BODIES)], keys[0], 10)
                except TimeoutError:
                    note("single", "timeout")
                    continue
                except OSError as exc:
                    note("single", type(exc).__name__)
                    continue
                ms = (time.perf_counter() - t) * 1000
                note("single", status)
                with lock:
                    singles_ms.append(ms)
                i += 1

        def health_client() -> None:
            while not done.is_set():
                t = time.perf_counter()
                try:
                    status = get(port, "/healthz", 10)
                except OSError as exc:
                    note("healthz", type(exc).__name__)
                else:
                    note("healthz", status)
                    with lock:
                        health_ms.append((time.perf_counter() - t) * 1000)
                time.sleep(0.2)

        batches = [threading.Thread(target=batch_client, args=(n,)) for n in range(args.batches)]
        others = [threading.Thread(target=single_client, args=(n,)) for n in range(args.singles)]
        others.append(threading.Thread(target=health_client))
        for t in others + batches:
            t.start()
        for t in batches:
            t.join(args.deadline + 70)
        wall = time.monotonic() - t_start
        done.set()
        for t in others:
            t.join(15)
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
    server_log = log_path.read_text(errors="replace")
    five_xx = sum(n for k, n in statuses.items() if k.split()[1].startswith("5"))
    failures = sum(n for k, n in statuses.items() if not k.split()[1].isdigit())
    result = {
        "what": "15 concurrent worst-case batches beside single requests, shipped gunicorn.conf.py, loopback",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cores": len(os.sched_getaffinity(0)),
        "load_average_1_5_15_min_at_end": os.getloadavg(),
        "note": "shared, noisy machine: latencies vary with other users' load",
        "batch_body_bytes": len(body),
        "batches": args.batches,
        "keys": args.keys,
        "single_clients": args.singles,
        "store": args.store,
        "wall_seconds": round(wall, 1),
        "statuses": dict(sorted(statuses.items())),
        "http_5xx": five_xx,
        "client_timeouts_or_errors": failures,
        "worker_timeouts_in_log": server_log.count("WORKER TIMEOUT"),
        "batches_completed": len(batch_s),
        "batch_seconds_to_complete": {"min": min(batch_s, default=None), "max": max(batch_s, default=None)},
        "items_resent_after_budget": retried_items[0],
        "single_ms": {
            "n": len(singles_ms),
            "p50": round(pct(singles_ms, 0.5), 1),
            "p99": round(pct(singles_ms, 0.99), 1),
            "max": round(max(singles_ms, default=float("nan")), 1),
        },
        "healthz_ms_max": round(max(health_ms, default=float("nan")), 1),
    }
    text = json.dumps(result, indent=2)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    ok = (
        five_xx == 0
        and failures == 0
        and result["worker_timeouts_in_log"] == 0
        and len(batch_s) == args.batches
        and result["single_ms"]["p99"] < 1000
    )
    print("PASS" if ok else "FAIL", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
