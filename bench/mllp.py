"""MLLP listener throughput: ``python -m service mllp`` against a receiving engine, both on loopback.

Prints, for each number of sending connections: messages acknowledged per second, the median and
99th-percentile ACK latency, the seconds until every interpretation was filed at the receiver, and
the ratio of the listener's rate to the in-process reading rate of the same message
(``interop.process_hl7`` alone, one thread): the share of the reading speed that survives MLLP
framing, the outbox's forced commits and the delivery.

    .venv/bin/python bench/mllp.py [--messages 2000] [--connections 1 2 4] [--out bench/results/mllp.json]

Every loop is bounded; the listener and receiver processes are killed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# bench/ holds a module named "http" that would shadow the standard library: keep bench/ off sys.path.
sys.path[:] = [p for p in sys.path if Path(p or os.curdir).resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

RECEIVER = ROOT / "tests" / "mllp" / "receiver.py"
VT, FS_CR = b"\x0b", b"\x1c\r"


def oru(control_id: str) -> bytes:
    return (
        f"MSH|^~\\&|LIS|LAB|MGI|HOSP|20240501120000||ORU^R01^ORU_R01|{control_id}|P|2.5.1\r"
        "PID|1||12345^^^HOSP^MR||Doe^Jane||19600115|F\r"
        "OBR|1|ORD1|FIL1|SPEP^Serum protein electrophoresis^L|||20240501083000\r"
        "OBX|1|NM|33358-3^Protein.monoclonal^LN||12|g/L|||||F\r"
        "OBX|2|NM|36916-5^Kappa free^LN||10.4|mg/L|||||F\r"
        "OBX|3|NM|33944-0^Lambda free^LN||48.0|mg/L|||||F\r"
    ).encode()


def in_process_rate(n: int = 300) -> float:
    from service.api.interop import EXTENSION, process_hl7
    from service.api.mllp import build_app

    app = build_app()
    with app.app_context():
        codemap = app.extensions[EXTENSION]
        for i in range(20):
            process_hl7(oru(f"W{i}"), codemap)
        start = time.perf_counter()
        for i in range(n):
            process_hl7(oru(f"P{i}"), codemap)
        return n / (time.perf_counter() - start)


def sender(port: int, ids: list[str], latencies: list[float]) -> None:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    buf = b""
    for cid in ids:
        t0 = time.perf_counter()
        sock.sendall(VT + oru(cid) + FS_CR)
        while FS_CR not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("listener closed the connection")
            buf += chunk
        reply, buf = buf.split(FS_CR, 1)
        if b"MSA|AA|" + cid.encode() not in reply:
            raise RuntimeError(f"not AA: {reply!r}")
        latencies.append(time.perf_counter() - t0)
    sock.close()


def run_once(messages: int, connections: int, tmp: Path) -> dict[str, float]:
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    record = tmp / f"received-{connections}.txt"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(
            subprocess.Popen(
                [sys.executable, str(RECEIVER), "--fd", str(lsock.fileno()), "--record", str(record)],
                pass_fds=(lsock.fileno(),),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        log = tmp / f"listener-{connections}.log"
        env = {
            **os.environ,
            "MGI_MLLP_PORT": "0",
            "MGI_MLLP_OUTBOUND": f"127.0.0.1:{lsock.getsockname()[1]}",
            "MGI_DATA_DIR": str(tmp / f"var-{connections}"),
            "MGI_MLLP_WORKERS": str(max(2, connections)),
            "MGI_LOG_LEVEL": "WARNING",
        }
        with open(log, "wb") as out:
            procs.append(
                subprocess.Popen([sys.executable, "-m", "service", "mllp"], env=env, cwd=ROOT, stderr=out)
            )
        port = 0
        for _ in range(600):
            found = re.search(r"MLLP listening on port (\d+)", log.read_text(errors="replace"))
            if found:
                port = int(found.group(1))
                break
            time.sleep(0.1)
        if not port:
            raise RuntimeError(log.read_text())
        ids = [f"B{connections}-{n:06d}" for n in range(messages)]
        latencies: list[float] = []
        threads = [
            threading.Thread(target=sender, args=(port, ids[i::connections], latencies))
            for i in range(connections)
        ]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        acked = time.perf_counter() - start
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if record.exists() and record.read_text().count("\n") >= messages:
                break
            time.sleep(0.05)
        filed = time.perf_counter() - start
        latencies.sort()
        return {
            "connections": connections,
            "messages": messages,
            "acked_per_s": round(messages / acked, 1),
            "ack_p50_ms": round(statistics.median(latencies) * 1000, 1),
            "ack_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
            "all_filed_s": round(filed, 2),
        }
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        lsock.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = []
    readings = []
    with tempfile.TemporaryDirectory() as tmp:
        for c in args.connections:
            # The in-process rate is measured right before each run, so that both see the same load.
            reading = in_process_rate()
            readings.append(reading)
            row = run_once(args.messages, c, Path(tmp))
            row["in_process_per_s"] = round(reading, 1)
            row["ratio_to_in_process"] = round(row["acked_per_s"] / reading, 2)
            rows.append(row)
            print(
                f"{c} connection(s): {row['acked_per_s']} ACKs/s, in-process {row['in_process_per_s']}/s "
                f"(ratio {row['ratio_to_in_process']}), "
                f"ACK p50 {row['ack_p50_ms']} ms p99 {row['ack_p99_ms']} ms, "
                f"all {args.messages} filed after {row['all_filed_s']} s"
            )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        load = os.getloadavg()
        result = {
            "benchmark": "bench/mllp.py",
            "machine": f"{platform.machine()} {os.cpu_count()} cpus, {platform.python_version()}",
            "load_average_1_5_15": [round(x, 2) for x in load],
            "note": "shared machine under other work: figures are indicative, ratios more than absolutes",
            "runs": rows,
        }
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
