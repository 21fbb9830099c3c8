"""Scale-out run: two service instances on one PostgreSQL behind a loopback proxy, with faults.

Run by hand (a few minutes; pytest does not collect this file, tests/store/test_scale_out.py runs a
small version of it without the PostgreSQL restart)::

    MGI_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python tests/load/scale_out.py            # 10,000 requests, 500 patients

    options: --requests N --patients N --concurrency N --no-kill --no-pg-restart --proxy nginx|client

What it does:

1. creates a database of its own on the MGI_TEST_DATABASE_URL server (dropped at the end) and
   migrates it (``python -m service db upgrade``);
2. starts two gunicorn instances of the service (store on, the same database and patient-key secret,
   2 workers each, free 127.0.0.1 ports, each in its own process group) and nginx on a free loopback
   port in front of them (round robin; a POST goes to the other instance when one does not answer,
   which the service's retry rules make safe). Without nginx (``--proxy client``) the client
   alternates between the instances itself;
3. sends ``--requests`` panels for ``--patients`` patients: each patient's panels in date order (15
   days apart, M-protein rising), each with patient_ref and specimen_id and no history, so the
   serial rules work only from what either instance stored; half also carry an Idempotency-Key. A
   request that fails (connection error, 502/503/504) is sent again, the same body and key, until it
   is answered 201 (at most ``--max-attempts`` times, honouring Retry-After);
4. a third of the way through, SIGKILLs one instance (its whole process group) and restarts it a
   few seconds later; two thirds of the way through, restarts PostgreSQL once
   (``pg_ctlcluster 15 main restart``);
5. checks: every 201 id is exactly one row; no (patient, specimen) has two rows; the rows are
   exactly the panels sent; every answer's history_used lists exactly the patient's earlier panels
   of the 12 months before it (whichever instance stored them) by their ids; both instances answered.

Prints a JSON report; exit status 0 only if every check passed.
"""

from __future__ import annotations

import argparse
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
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
SECRET = "scale-out-secret-" + "7" * 40
START = date(2023, 1, 2)
STEP_DAYS = 15


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_window(earlier: date, current: date) -> bool:
    """Whether a stored panel of ``earlier`` is history of a panel of ``current`` (records.py's rule)."""
    from service.domain.serial import add_months, within

    return earlier >= add_months(current, -12) and within(earlier, current, 12)


@dataclass
class Instance:
    name: str
    env: dict[str, str]
    log_dir: str
    port: int = 0
    proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        if not self.port:
            self.port = free_port()
        env = {**self.env, "MGI_BIND": f"127.0.0.1:{self.port}"}
        log = open(os.path.join(self.log_dir, f"{self.name}.log"), "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [PY, "-m", "gunicorn", "-c", "gunicorn.conf.py", "service.wsgi:app"],
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
                raise RuntimeError(f"{self.name} exited; see {self.log_dir}/{self.name}.log")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout} s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        except ProcessLookupError:
            pass


NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
daemon off;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream mgi {{
        server 127.0.0.1:{a} max_fails=1 fail_timeout=2s;
        server 127.0.0.1:{b} max_fails=1 fail_timeout=2s;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://mgi;
            proxy_set_header Connection "";
            proxy_http_version 1.1;
            proxy_connect_timeout 2s;
            proxy_read_timeout 30s;
            # A retried POST is safe here: the same patient, specimen and body (or Idempotency-Key)
            # is one record whichever instance stores it.
            proxy_next_upstream error timeout http_502 non_idempotent;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


class Proxy:
    """nginx on loopback in front of the two instances."""

    def __init__(self, a: int, b: int, work: str) -> None:
        self.port = free_port()
        self.dir = work
        conf = os.path.join(work, "nginx.conf")
        Path(conf).write_text(NGINX_CONF.format(dir=work, a=a, b=b, port=self.port))
        self.proc = subprocess.Popen(
            ["nginx", "-c", conf, "-p", work],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(work, "nginx-stderr.log"), "ab"),  # noqa: SIM115
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


@dataclass
class Outcome:
    ids: dict[tuple[int, int], str] = field(default_factory=dict)  # (patient, k) -> id
    history: dict[tuple[int, int], list[dict]] = field(default_factory=dict)
    attempts: int = 0
    retried: int = 0
    replayed: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    gave_up: list[tuple[int, int]] = field(default_factory=list)
    upstreams: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, what: str) -> None:
        with self.lock:
            self.failures[what] = self.failures.get(what, 0) + 1


def body(p: int, k: int) -> dict[str, Any]:
    on = START + timedelta(days=STEP_DAYS * k)
    return {
        "patient_ref": f"SCALE-{p:05d}",
        "specimen_id": f"SCALE-{p:05d}-{k:03d}",
        "collected_on": on.isoformat(),
        "spep": {"m_protein": {"value": round(1.0 + 0.05 * k, 2), "unit": "g/dL"}},
        "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
    }


def send(targets: list[int], p: int, k: int, out: Outcome, max_attempts: int, turn: list[int]) -> None:
    data = json.dumps(body(p, k)).encode()
    headers = {"Content-Type": "application/json"}
    if (p + k) % 2:
        headers["Idempotency-Key"] = f"scale-{p}-{k}"
    for attempt in range(max_attempts):
        with out.lock:
            out.attempts += 1
            if attempt:
                out.retried += 1
            turn[0] += 1
            port = targets[turn[0] % len(targets)]
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("POST", "/v1/interpretations", body=data, headers=headers)
            r = c.getresponse()
            raw = r.read()
            c.close()
        except (OSError, http.client.HTTPException) as e:
            out.count(type(e).__name__)
            time.sleep(min(2.0, 0.1 * (attempt + 1)))
            continue
        if r.status == 201:
            answer = json.loads(raw)
            with out.lock:
                out.ids[(p, k)] = answer["id"]
                out.history[(p, k)] = answer["history_used"]
                if r.getheader("Idempotent-Replayed"):
                    out.replayed += 1
                up = r.getheader("X-Upstream") or f"127.0.0.1:{port}"
                out.upstreams[up] = out.upstreams.get(up, 0) + 1
            return
        out.count(f"HTTP {r.status}")
        if r.status not in (502, 503, 504):
            break
        time.sleep(min(5.0, float(r.getheader("Retry-After") or 1)) if r.status == 503 else 0.2)
    with out.lock:
        out.gave_up.append((p, k))


def verify(url: str, out: Outcome, patients: int, per_patient: int) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    eng = create_engine(url)
    with eng.connect() as c:
        rows = c.execute(text("SELECT id, specimen_id FROM interpretations")).all()
        dup = c.execute(
            text(
                "SELECT count(*) FROM (SELECT patient_key, specimen_id FROM interpretations "
                "GROUP BY patient_key, specimen_id HAVING count(*) > 1) d"
            )
        ).scalar_one()
    eng.dispose()
    by_id: dict[str, int] = {}
    for rid, _ in rows:
        by_id[rid] = by_id.get(rid, 0) + 1
    expected = {f"SCALE-{p:05d}-{k:03d}" for p in range(patients) for k in range(per_patient)}
    sent_ids = set(out.ids.values())
    history_wrong = []
    for (p, k), used in out.history.items():
        on = START + timedelta(days=STEP_DAYS * k)
        want = [out.ids.get((p, j)) for j in range(k) if in_window(START + timedelta(days=STEP_DAYS * j), on)]
        got = [h.get("id") for h in used if h["source"] == "store"]
        if got != want:
            history_wrong.append({"patient": p, "panel": k, "expected": len(want), "got": len(got)})
    checks = {
        "every 201 id is exactly one row": all(by_id.get(i) == 1 for i in sent_ids),
        "no (patient, specimen) has two rows": dup == 0,
        "the rows are exactly the panels sent": {s for _, s in rows} == expected
        and len(rows) == len(expected),
        "every panel was answered 201": not out.gave_up and len(out.ids) == len(expected),
        "history_used: the patient's earlier panels of 12 months, from either instance": not history_wrong,
        "both instances answered": len(out.upstreams) >= 2,
    }
    return {
        "rows": len(rows),
        "duplicate (patient, specimen) rows": dup,
        "history mismatches": history_wrong[:10],
        "checks": checks,
    }


def run(
    *,
    requests: int,
    patients: int,
    concurrency: int,
    kill: bool,
    pg_restart: bool,
    proxy: str,
    max_attempts: int = 40,
) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from tests.store.conftest import fresh_postgres_database

    per_patient = max(1, requests // patients)
    work = tempfile.mkdtemp(prefix="mgi-scale-")
    report: dict[str, Any] = {
        "requests": per_patient * patients,
        "patients": patients,
        "panels_per_patient": per_patient,
        "concurrency": concurrency,
        "proxy": proxy,
        "faults": [],
    }
    with fresh_postgres_database() as url:
        up = subprocess.run(
            [PY, "-m", "service", "db", "upgrade"],
            cwd=ROOT,
            env={**os.environ, "MGI_DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if up.returncode != 0:
            raise RuntimeError(up.stderr)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MGI_")},
            "MGI_STORE": "on",
            "MGI_DATABASE_URL": url,
            "MGI_PATIENT_KEY_SECRET": SECRET,
            "MGI_DEV_MODE": "1",
            "MGI_WORKERS": "2",
            "MGI_GUNICORN_LOG_LEVEL": "warning",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        a, b = Instance("a", env, work), Instance("b", env, work)
        px: Proxy | None = None
        try:
            a.start()
            b.start()
            if proxy == "nginx":
                px = Proxy(a.port, b.port, work)
                targets = [px.port]
            else:
                targets = [a.port, b.port]
            out = Outcome()
            jobs = [(p, k) for k in range(per_patient) for p in range(patients)]  # date order per patient
            total = len(jobs)
            done_count = [0]
            next_job = [0]
            turn = [0]
            done_events = {j: threading.Event() for j in jobs}
            lock = threading.Lock()

            def client() -> None:
                while True:
                    with lock:
                        if next_job[0] >= total:
                            return
                        p, k = jobs[next_job[0]]
                        next_job[0] += 1
                    if k > 0:  # a patient's panels in order: the previous one answered first
                        done_events[(p, k - 1)].wait(timeout=600)
                    send(targets, p, k, out, max_attempts, turn)
                    done_events[(p, k)].set()
                    with lock:
                        done_count[0] += 1

            t0 = time.perf_counter()
            threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
            for t in threads:
                t.start()
            faults = []
            if kill:
                faults.append((total // 3, "kill"))
            if pg_restart:
                faults.append((2 * total // 3, "pg_restart"))
            for at, what in faults:
                while done_count[0] < at and any(t.is_alive() for t in threads):
                    time.sleep(0.05)
                t_f = time.perf_counter() - t0
                if what == "kill":
                    a.kill()
                    report["faults"].append(
                        {"at_request": done_count[0], "s": round(t_f, 1), "what": "SIGKILL a"}
                    )
                    time.sleep(3)
                    a.start()
                    report["faults"].append({"s": round(time.perf_counter() - t0, 1), "what": "a restarted"})
                else:
                    r = subprocess.run(
                        ["pg_ctlcluster", "15", "main", "restart"],
                        capture_output=True,
                        text=True,
                        timeout=120,
                    )
                    report["faults"].append(
                        {
                            "at_request": done_count[0],
                            "s": round(t_f, 1),
                            "what": "PostgreSQL restarted",
                            "rc": r.returncode,
                            "took_s": round(time.perf_counter() - t0 - t_f, 1),
                        }
                    )
            for t in threads:
                t.join(timeout=1800)
            elapsed = time.perf_counter() - t0
            report.update(
                {
                    "seconds": round(elapsed, 1),
                    "answered_per_s": round(len(out.ids) / elapsed, 1),
                    "attempts": out.attempts,
                    "retried": out.retried,
                    "replayed (a retry answered with the first record)": out.replayed,
                    "failures seen (then retried)": out.failures,
                    "gave_up": len(out.gave_up),
                    "answers by upstream": out.upstreams,
                }
            )
            report.update(verify(url, out, patients, per_patient))
        finally:
            if px is not None:
                px.stop()
            a.stop()
            b.stop()
            shutil.rmtree(work, ignore_errors=True)
    report["ok"] = all(report["checks"].values())
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--patients", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--no-kill", action="store_true")
    ap.add_argument("--no-pg-restart", action="store_true")
    ap.add_argument(
        "--proxy", choices=("nginx", "client"), default="nginx" if shutil.which("nginx") else "client"
    )
    args = ap.parse_args(argv)
    if not os.environ.get("MGI_TEST_DATABASE_URL"):
        print(
            "set MGI_TEST_DATABASE_URL (a PostgreSQL server this run may create a database on)",
            file=sys.stderr,
        )
        return 2
    report = run(
        requests=args.requests,
        patients=args.patients,
        concurrency=args.concurrency,
        kill=not args.no_kill,
        pg_restart=not args.no_pg_restart,
        proxy=args.proxy,
    )
    report["run_id"] = uuid.uuid4().hex[:8]
    print(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
