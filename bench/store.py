"""The records store's cost, in one run on 127.0.0.1, against PostgreSQL (or SQLite with --sqlite).

    MGI_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/store.py [--records 1000000] [--seconds 10] [--connections 8] [--rounds 2]

A database of its own is created on the server MGI_TEST_DATABASE_URL names (dropped at the end), migrated,
and filled with ``--records`` stored interpretations (bulk COPY of the bench mix's real answers, one
patient per ~10 records), then vacuumed as a database in service would be. Two gunicorn servers with
the same settings (gunicorn.conf.py with its default worker count, 2 x cores + 1, unless --workers) run
side by side: store off, and store on over that database. Then:

  (1) throughput of POST /v1/interpretations, store on / store off, interleaved rounds, the bench
      panel mix; store-on bodies carry a patient_ref and a unique specimen_id, so every request is a
      new record and looks up its patient's stored history (target >= 0.7); --load says whose panels
      they are (see drive()): same-day (500 patients, the default), serial, new-patient
  (2) GET /v1/interpretations/{id} p99 over random ids of the filled database, one connection
      (target <= 10 ms)
  (3) GET /v1/interpretations?patient_ref=... p99 over random patients, one connection (target <= 20 ms)
  (4) ruleset impact: records re-interpreted per second by ``python -m service ruleset-impact`` with
      one process and with two, on a sample of the database; the time for 1,000,000 records on 2
      cores is extrapolated from it (target <= 10 min)

Figures are printed and written to bench/results/store-<backend>.json. The machine is shared: the load
average is recorded with the figures.
"""

from __future__ import annotations

import os
import sys

_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _BENCH]
sys.path.insert(0, os.path.dirname(_BENCH))

import argparse  # noqa: E402
import hashlib  # noqa: E402
import hmac  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

from bench.harness import ROOT, Server, banner, machine, workdir  # noqa: E402
from bench.panels import BODIES  # noqa: E402

SECRET = "bench-secret-" + "0" * 40
PATH = "/v1/interpretations"
PATIENTS_LOAD = 500
# "serial" load: a filled patient's panels are 30 days apart from FILL_START; a new one a month after
# the tenth (per_patient=10) has all ten in its 12-month window.
FILL_START = date(2020, 1, 1)
SERIAL_DATE = FILL_START + timedelta(days=300)
SERIAL_PATIENTS = [1]  # patients of the filled database, set by fill()
SERIAL_NEXT = [0]  # the next of them, across rounds: each gets one new panel in a run
RESULTS = os.path.join(ROOT, "bench", "results")


@contextmanager
def database(args: argparse.Namespace):
    """A fresh database for the run: PostgreSQL (created and dropped) or a SQLite file."""
    from sqlalchemy import create_engine, make_url, text

    if args.sqlite:
        path = os.path.join(workdir(), "bench.sqlite3")
        yield f"sqlite:///{path}"
        return
    base = os.environ.get("MGI_TEST_DATABASE_URL")
    if not base:
        raise SystemExit(
            "set MGI_TEST_DATABASE_URL (a PostgreSQL server to create a database on) or --sqlite"
        )
    url = make_url(base)
    name = f"mgi_bench_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def server_settings(url: str) -> dict[str, str]:
    """The PostgreSQL settings that weigh on the figures (none for SQLite)."""
    if not url.startswith("postgresql"):
        return {}
    from sqlalchemy import create_engine, text

    eng = create_engine(url)
    try:
        with eng.connect() as c:
            return {
                name: str(c.execute(text(f"SHOW {name}")).scalar_one())
                for name in ("server_version", "shared_buffers", "wal_compression", "synchronous_commit")
            }
    finally:
        eng.dispose()


def answers() -> list[tuple[dict, dict]]:
    """(request, answer) of each bench panel, from the service itself (store off)."""
    os.environ["MGI_STORE"] = "off"
    from service.api import create_app

    client = create_app({"TESTING": True, "DEV_MODE": True, "STORE": "off"}).test_client()
    out = []
    for body in BODIES:
        req = json.loads(body)
        out.append((req, client.post(PATH, json=req).json))
    return out


def fill(url: str, n: int, per_patient: int = 10) -> tuple[list[str], list[str]]:
    """``n`` records of the bench mix (bulk insert); some ids and patient refs to read back."""
    from service.store import RecordStore, canonical_hash, migrate
    from service.store.repository import findings_of

    store = RecordStore.from_url(url)
    migrate.upgrade(store.engine)
    mix = answers()
    cols = (
        "id received_at collected_on patient_key specimen_id source api_key_name request_id idempotency_key "
        "request_hash ruleset_version classification_code status request store_history response findings"
    ).split()
    sample_ids: list[str] = []
    patients = max(1, n // per_patient)
    SERIAL_PATIENTS[0] = patients
    sample_refs = [f"P{random.randrange(patients)}" for _ in range(500)]
    now = datetime.now(UTC)
    texts = [
        (json.dumps(req), json.dumps(ans), json.dumps(findings_of(ans)), canonical_hash(req))
        for req, ans in mix
    ]
    keys = {}
    t0 = time.perf_counter()
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        pg = url.startswith("postgresql")
        batch: list[tuple] = []
        for i in range(n):
            p = i % patients
            key = keys.get(p)
            if key is None:
                key = hmac.new(SECRET.encode(), f"P{p}".encode(), hashlib.sha256).hexdigest()
                if len(keys) < 200_000:
                    keys[p] = key
            req, ans, fnd, h = texts[i % len(texts)]
            rid = uuid.uuid4().hex
            if random.random() < 500 / n:
                sample_ids.append(rid)
            on = FILL_START + timedelta(days=(i // patients) * 30)
            answer = mix[i % len(mix)][1]
            code = answer["classification"]["code"]
            row = (
                rid,
                now,
                on,
                key,
                f"S{i}",
                "json",
                "lis",
                None,
                None,
                h,
                answer["ruleset_version"],
                code,
                "auto",
                req,
                None,
                ans,
                fnd,
            )
            batch.append(row)
            if len(batch) >= 5000 or i == n - 1:
                if pg:
                    with cur.copy(f"COPY interpretations ({', '.join(cols)}) FROM STDIN") as cp:  # type: ignore[attr-defined]
                        for r in batch:
                            cp.write_row(r)
                else:
                    marks = ", ".join("?" * len(cols))
                    cur.executemany(
                        f"INSERT INTO interpretations ({', '.join(cols)}) VALUES ({marks})",
                        [(*r[:1], r[1].isoformat(), r[2].isoformat(), *r[3:]) for r in batch],
                    )
                raw.commit()
                batch.clear()
                if (i + 1) % 100_000 == 0:
                    print(f"   {i + 1:,} records ({time.perf_counter() - t0:.0f} s)", flush=True)
        if pg:
            # A database in service has been vacuumed since its rows arrived; without this the
            # autovacuum of the freshly copied rows would run during (and be charged to) the rounds.
            pg_conn = raw.driver_connection
            pg_conn.autocommit = True  # type: ignore[union-attr]
            pg_conn.execute("VACUUM (ANALYZE) interpretations")  # type: ignore[union-attr]
    finally:
        raw.close()
        store.dispose()
    print(f"   filled {n:,} records in {time.perf_counter() - t0:.0f} s", flush=True)
    return sample_ids or [], sample_refs


def shifted(body: dict[str, Any], to: date) -> dict[str, Any]:
    """``body`` collected on ``to``, its own history entries moved by as many days."""
    delta = to - date.fromisoformat(body.get("collected_on", to.isoformat()))
    out = {**body, "collected_on": to.isoformat()}
    if "history" in body:
        out["history"] = [
            {**h, "collected_on": (date.fromisoformat(h["collected_on"]) + delta).isoformat()}
            for h in body["history"]
        ]
    return out


def drive(
    port: int, seconds: float, connections: int, store_on: bool, seed: int, load: str = "same-day"
) -> tuple[int, float, list[float], int]:
    """POST the mix for ``seconds`` on ``connections`` threads: (2xx answers, seconds, latencies, others).

    Store-on bodies by ``load``: "same-day", 500 patients on the mix's own dates, so each patient-day
    gathers dozens of records over a run; "serial", each request a new panel of a filled patient, a
    month after its last stored one (its ten stored panels in the 12-month window); "new-patient",
    each request a patient with no stored panel."""
    counter = [seed * 10_000_000]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds
    lat: list[float] = []
    bad = [0]
    bases = [json.loads(b) for b in BODIES]

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local = []
        i = k
        while time.perf_counter() < stop:
            body = bases[i % len(bases)]
            i += 1
            if store_on:
                with lock:
                    counter[0] += 1
                    c = counter[0]
                if load == "serial":
                    body = shifted(body, SERIAL_DATE)
                    with lock:
                        SERIAL_NEXT[0] += 1
                        ref = f"P{SERIAL_NEXT[0] % SERIAL_PATIENTS[0]}"
                elif load == "new-patient":
                    ref = f"N{c}"
                else:
                    ref = f"L{c % PATIENTS_LOAD}"
                body = {**body, "patient_ref": ref, "specimen_id": f"X{c}"}
            data = json.dumps(body).encode()
            t0 = time.perf_counter()
            try:
                conn.request("POST", PATH, body=data, headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                with lock:
                    bad[0] += 1
                continue
            local.append(time.perf_counter() - t0)
            if r.status >= 300:
                with lock:
                    bad[0] += 1
        conn.close()
        with lock:
            lat.extend(local)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    return len(lat) - bad[0], time.perf_counter() - t0, lat, bad[0]


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (and their waited-for children), in seconds."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / TICK


def postgres_pids() -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() in ("postgres", "postmaster"):
                        out.append(int(entry))
            except OSError:
                pass
    return out


def p(lat: list[float], q: float) -> float:
    s = sorted(lat)
    return s[min(len(s) - 1, int(q / 100 * len(s)))] * 1000 if s else float("nan")


def gets(port: int, paths: list[str]) -> tuple[list[float], int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    lat, bad = [], 0
    for path in paths:
        t0 = time.perf_counter()
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        lat.append(time.perf_counter() - t0)
        bad += r.status != 200
    conn.close()
    return lat, bad


def impact_rate(url: str, processes: int, since_records: int) -> tuple[int, float, float]:
    """(records examined, seconds) of the command line over the last ``since_records`` records."""
    from sqlalchemy import create_engine, text

    eng = create_engine(url)
    with eng.connect() as c:
        cutoff = c.execute(text("SELECT max(seq) FROM interpretations")).scalar_one() - since_records
    eng.dispose()
    env = dict(os.environ, MGI_DATABASE_URL=url, MGI_STORE="on")
    done = subprocess.run(
        [sys.executable, "-c", _IMPACT_SNIPPET, url, str(cutoff), str(processes)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    n, elapsed, cpu = done.stdout.split()
    # from the first query to the last record (imports excluded); CPU seconds of the impact processes
    return int(n), float(elapsed), float(cpu)


# The impact loop of service.api.impact over the records after a seq, sharded over processes as the
# command line shards them (the command line itself scans everything or a received_at window).
_IMPACT_SNIPPET = """
import sys, time
from concurrent.futures import ProcessPoolExecutor
import service.api.impact, service.store
def shard(a):
    url, after, k, n = a
    from service.store import RecordStore
    from service.api.impact import Tally, run
    s = RecordStore.from_url(url); t = Tally()
    for _ in run(s.scan(after=after, shard=(k, n)), t, 0): pass
    s.dispose(); return t.examined
url, after, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
jobs = [(url, after, k, n) for k in range(n)]
import resource
t0 = time.perf_counter(); c0 = time.process_time()
if n == 1:
    total = shard(jobs[0])
    cpu = time.process_time() - c0
else:
    with ProcessPoolExecutor(n) as p:
        total = sum(p.map(shard, jobs))
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ru.ru_utime + ru.ru_stime
print(total, time.perf_counter() - t0, cpu)
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--gets", type=int, default=2000)
    ap.add_argument("--impact-sample", type=int, default=20_000)
    ap.add_argument("--sqlite", action="store_true")
    ap.add_argument(
        "--load",
        choices=("same-day", "serial", "new-patient"),
        default="same-day",
        help="whose panels the store-on requests are (see drive())",
    )
    ap.add_argument("--out", default="", help="results file (default bench/results/store-<backend>.json)")
    ap.add_argument(
        "--worker-class", default="sync", help="gunicorn worker class of both servers (sync, gthread)"
    )
    ap.add_argument("--threads", type=int, default=1, help="threads per worker (gthread)")
    ap.add_argument(
        "--workers",
        type=int,
        default=0,
        help="gunicorn workers of both servers (default: gunicorn.conf.py's own, 2 x cores + 1, at most 8)",
    )
    args = ap.parse_args()
    backend = "sqlite" if args.sqlite else "postgresql"
    banner(f"records store ({backend}, {args.records:,} records)")
    started = machine()
    with database(args) as url:
        settings = server_settings(url)
        print(f"-- filling {args.records:,} records", flush=True)
        ids, refs = fill(url, args.records)
        logs = workdir()
        gun = {"MGI_WORKER_CLASS": args.worker_class, "MGI_THREADS": str(args.threads)}
        env_on = {"MGI_STORE": "on", "MGI_DATABASE_URL": url, "MGI_PATIENT_KEY_SECRET": SECRET, **gun}
        workers = args.workers or min(2 * (os.cpu_count() or 1) + 1, 8)
        off = Server(
            "store-off", "service.wsgi:app", workers, ["--max-requests", "0"], {"MGI_STORE": "off", **gun}
        )
        on = Server("store-on", "service.wsgi:app", workers, ["--max-requests", "0"], env_on)
        with off.start(logs), on.start(logs):
            for srv, flag in ((off, False), (on, True)):
                drive(srv.port, 1.5, args.connections, flag, 99, args.load)  # warm-up
            tput: dict[str, list[float]] = {"off": [], "on": []}
            p99s: dict[str, list[float]] = {"off": [], "on": []}
            cpu_ms: dict[str, list[float]] = {"off": [], "on": []}
            pg_ms: list[float] = []
            for r in range(args.rounds):
                for name, srv, flag in (("off", off, False), ("on", on, True)):
                    pids = srv.worker_pids() + (postgres_pids() if flag else [])
                    pg = postgres_pids() if flag else []
                    c0, p0 = cpu_seconds(pids), cpu_seconds(pg)
                    ok, secs, lat, bad = drive(
                        srv.port, args.seconds, args.connections, flag, r + 1, args.load
                    )
                    cpu_ms[name].append((cpu_seconds(pids) - c0) / max(1, ok) * 1000)
                    if flag:
                        pg_ms.append((cpu_seconds(pg) - p0) / max(1, ok) * 1000)
                    if bad:
                        print(f"   {name}: {bad} failed or non-2xx answers", flush=True)
                    tput[name].append(ok / secs)
                    p99s[name].append(p(lat, 99))
                    print(
                        f"   round {r + 1} store {name:3}: {ok / secs:7.1f} req/s  p99 {p(lat, 99):6.1f} ms",
                        flush=True,
                    )
            random.shuffle(ids)
            get_paths = [f"{PATH}/{ids[i % len(ids)]}" for i in range(args.gets)]
            gets(on.port, get_paths[:200])  # warm-up
            get_lat, get_bad = gets(on.port, get_paths)
            list_paths = [f"{PATH}?patient_ref={refs[i % len(refs)]}" for i in range(args.gets)]
            gets(on.port, list_paths[:200])
            list_lat, list_bad = gets(on.port, list_paths)
        print(f"-- ruleset impact on the last {args.impact_sample:,} records", flush=True)
        imp = {}
        imp_cpu_ms = 0.0
        for procs in (1, 2):
            pg0 = cpu_seconds(postgres_pids())
            n, secs, cpu = impact_rate(url, procs, args.impact_sample)
            pg_cpu = cpu_seconds(postgres_pids()) - pg0
            imp[procs] = n / secs
            imp_cpu_ms = (cpu + pg_cpu) / n * 1000
            print(
                f"   {procs} process(es): {n:,} records in {secs:.1f} s = {n / secs:,.0f} records/s; "
                f"CPU {cpu / n * 1000:.3f} ms/record (+ PostgreSQL {pg_cpu / n * 1000:.3f})",
                flush=True,
            )
    if args.load == "serial" and SERIAL_NEXT[0] >= SERIAL_PATIENTS[0]:
        print(
            f"   note: {SERIAL_NEXT[0]:,} serial requests for {SERIAL_PATIENTS[0]:,} patients: some patients "
            "had two panels on the same day (use more --records)",
            flush=True,
        )
    on_off = statistics.mean(tput["on"]) / statistics.mean(tput["off"])
    million_min = 1_000_000 / imp[2] / 60
    results: dict[str, Any] = {
        "backend": backend,
        "records": args.records,
        "gunicorn": {"workers": workers, "worker_class": args.worker_class, "threads": args.threads},
        "connections": args.connections,
        "load": args.load,
        "database_settings": settings,
        "machine_at_start": started,
        "machine_at_end": machine(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "throughput_req_s": {k: [round(x, 1) for x in v] for k, v in tput.items()},
        "post_p99_ms": {k: [round(x, 1) for x in v] for k, v in p99s.items()},
        "ratio_throughput_on_over_off": round(on_off, 3),
        "cpu_ms_per_request": {k: [round(x, 3) for x in v] for k, v in cpu_ms.items()},
        "postgresql_cpu_ms_per_request_on": [round(x, 3) for x in pg_ms],
        "ratio_cpu_per_request_off_over_on": round(
            statistics.mean(cpu_ms["off"]) / statistics.mean(cpu_ms["on"]), 3
        ),
        "get_by_id_ms": {
            "p50": round(p(get_lat, 50), 2),
            "p99": round(p(get_lat, 99), 2),
            "n": len(get_lat),
            "non200": get_bad,
        },
        "list_by_patient_ms": {
            "p50": round(p(list_lat, 50), 2),
            "p99": round(p(list_lat, 99), 2),
            "n": len(list_lat),
            "non200": list_bad,
        },
        "impact_records_per_s": {str(k): round(v, 1) for k, v in imp.items()},
        "impact_1m_records_minutes_2_processes_extrapolated": round(million_min, 1),
        "impact_cpu_ms_per_record_incl_postgresql": round(imp_cpu_ms, 3),
        "impact_1m_records_minutes_on_2_idle_cores_from_cpu_time": round(
            1_000_000 * imp_cpu_ms / 1000 / 2 / 60, 1
        ),
        "targets": {
            "throughput on/off >= 0.7": on_off >= 0.7,
            "GET by id p99 <= 10 ms": p(get_lat, 99) <= 10,
            "list by patient p99 <= 20 ms": p(list_lat, 99) <= 20,
            "1,000,000 impact <= 10 min": million_min <= 10,
        },
    }
    os.makedirs(RESULTS, exist_ok=True)
    out = args.out or os.path.join(RESULTS, f"store-{backend}.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print(json.dumps(results, indent=2))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
