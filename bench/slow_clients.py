"""The slow-client probe through the shipped proxy configuration, and straight at gunicorn.

    .venv/bin/python bench/slow_clients.py [--seconds 30] [--sockets 20] [--workers 2] [--no-write]

Starts gunicorn (gunicorn.conf.py, sync workers, a real API key) behind Debian's nginx running the
shipped deploy/nginx/ files rendered for loopback (bench/proxy_stack.py). Three phases, each of
``--seconds``: a well-behaved client alone through the proxy (the baseline); the same client while
``--sockets`` sockets each send one header line a second through the proxy (TLS), reopened whenever
nginx drops them; and the same attack straight at gunicorn, as a deployment without the proxy faces it.
The client alternates GET /healthz and POST /v1/interpretations (the §6 example) every half second,
with a 2 s timeout. Prints the share of probes answered and their latency; appends the run to
bench/results/slow_clients.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_BENCH = os.path.dirname(os.path.abspath(__file__))
# bench/ holds a module named "http": keep the directory off sys.path, import bench.* from the root.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _BENCH]
sys.path.insert(0, os.path.dirname(_BENCH))

from bench.proxy_stack import ROOT, SlowClients, Stack, nginx_binary, probe, tls_context  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "slow_clients.jsonl"


def _phase(name: str, stack: Stack, seconds: float, attack: SlowClients | None, base: str) -> dict:
    if attack is None:
        summary = probe(stack, base, seconds).summary()
    else:
        with attack:
            summary = probe(stack, base, seconds).summary()
        summary["attack"] = {
            "sockets": attack.n,
            "opened": attack.opened,
            "dropped_by_server": attack.closed_by_server,
        }
    for kind in ("healthz", "interpretations"):
        s = summary[kind]
        s["answered_share"] = round(s["answered_200"] / s["sent"], 3) if s["sent"] else None
    h, i = summary["healthz"], summary["interpretations"]
    print(
        f"{name:<22} healthz {h['answered_200']}/{h['sent']} (p50 {h['p50_s']} s, max {h['max_s']} s)   "
        f"interpretations {i['answered_200']}/{i['sent']} (p50 {i['p50_s']} s, max {i['max_s']} s)",
        flush=True,
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--sockets", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--no-write", action="store_true", help="print only, append nothing to bench/results/"
    )
    args = parser.parse_args(argv)
    if nginx_binary() is None:
        print("nginx is not installed: apt-get install -y nginx", file=sys.stderr)
        return 2
    run: dict = {
        "bench": "slow_clients",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_1m": os.getloadavg()[0],
        },
        "nginx": subprocess.run([nginx_binary(), "-v"], capture_output=True, text=True).stderr.strip(),
        "settings": {"seconds": args.seconds, "sockets": args.sockets, "gunicorn_workers": args.workers},
    }
    with (
        tempfile.TemporaryDirectory(prefix="mgi-slow-") as tmp,
        Stack(Path(tmp), workers=args.workers) as stack,
    ):
        ctx = tls_context(stack.tls_dir)
        run["proxy_alone"] = _phase("proxy, no attack", stack, args.seconds, None, stack.https(""))
        run["proxy_under_attack"] = _phase(
            "proxy, slow clients",
            stack,
            args.seconds,
            SlowClients(stack.https_port, args.sockets, ctx),
            stack.https(""),
        )
        run["gunicorn_under_attack"] = _phase(
            "gunicorn, slow clients",
            stack,
            args.seconds,
            SlowClients(stack.gunicorn_port, args.sockets),
            stack.direct(""),
        )
    run["machine"]["load_avg_1m_after"] = os.getloadavg()[0]
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as f:
            f.write(json.dumps(run, sort_keys=True) + "\n")
        print(f"appended to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
