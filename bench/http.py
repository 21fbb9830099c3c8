"""HTTP throughput of /v1/interpretations against its two ceilings, in one run on 127.0.0.1.

    .venv/bin/python bench/http.py [--seconds 10] [--connections 16] [--workers 2] [--warmup 2]
                                   [--wrk-threads 1] [--python-generator]

Three gunicorn servers (started together, then driven in turn, in interleaved rounds), all with
gunicorn.conf.py (MGI_WORKERS=W, MGI_BIND=127.0.0.1:<free port>, MGI_DEV_MODE=1, plus ``--max-requests 0``
on every one so that worker recycling never lands inside a timed window), driven by the same load
generator (wrk with a Lua script rotating through bench/panels.py's mix, or, without wrk, a bounded
Python generator):

  (a) framework ceiling: bare Flask, parse the JSON body and echo it     (bench/ceiling_apps.py)
  (b) stack ceiling: bare flask-smorest, validate with one reused InterpretationRequestSchema and
      answer the service's real answer for that panel, pre-serialised   (bench/ceiling_apps.py)
  (c) the service: service.wsgi:app, POST /v1/interpretations
  (d) informational: (b) validating through marshmallow's generic Schema.load rather than the schema's
      compiled loader (the stack ceiling as issue 6 measured it while planning)
Throughput is all requests / all timed seconds; p50 and p99 are the medians of the rounds' figures.

Before the timed part, the service answers each panel once and the classification codes are checked.
Prints req/s and p50/p99 per server and the ratios against issue 6's targets. Exit status 1 on a
non-200 answer, a socket error or a wrong classification.
"""

from __future__ import annotations

import os
import sys

# bench/ holds this module named "http": drop the directory from sys.path before anything imports the
# standard library's http package, and import the bench helpers from the repository root.
_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _BENCH]
sys.path.insert(0, os.path.dirname(_BENCH))

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import urllib.request  # noqa: E402

from bench.harness import HEADERS, LoadGen, LoadResult, Server, banner, post, workdir  # noqa: E402
from bench.panels import BODIES, NAMES, check_answers  # noqa: E402

PATH = "/v1/interpretations"
TARGETS = {
    "service/stack throughput": (">=", 0.85),
    "service/stack p99": ("<=", 1.5),
    "service/framework throughput": (">=", 0.45),
}


def verify_service(url: str) -> tuple[list[str], list[int]]:
    """Each panel once through the live service: codes and response sizes."""
    answers, sizes = [], []
    for name, body in zip(NAMES, BODIES, strict=True):
        status, raw = post(url, PATH, body)
        if status != 200:
            return [f"{name}: HTTP {status}: {raw[:300]!r}"], []
        answers.append(json.loads(raw))
        sizes.append(len(raw))
    return check_answers(answers), sizes


def verify_stack(url: str) -> list[int]:
    sizes = []
    for k, body in enumerate(BODIES):
        status, raw = _post_panel(url, k, body)
        if status != 200:
            raise RuntimeError(f"stack ceiling answered {status} for panel {k}: {raw[:300]!r}")
        sizes.append(len(raw))
    return sizes


def _post_panel(url: str, k: int, body: bytes) -> tuple[int, bytes]:
    req = urllib.request.Request(
        url + PATH, data=body, method="POST", headers=dict(HEADERS, **{"X-Panel": str(k)})
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.read()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="timed seconds per server (default 10)")
    ap.add_argument("--warmup", type=float, default=2.0, help="untimed warm-up seconds per server")
    ap.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="interleaved rounds; each server gets seconds/rounds per round (default 2)",
    )
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--wrk-threads", type=int, default=1, help="wrk threads (default 1: leaves the cores to the servers)"
    )
    ap.add_argument("--python-generator", action="store_true", help="use the Python generator, not wrk")
    args = ap.parse_args()
    if not (
        0 < args.seconds <= 600
        and 0 < args.rounds <= 20
        and 0 <= args.warmup <= 60
        and 0 < args.connections <= 256
        and 0 < args.workers <= 16
    ):
        ap.error("bounds: 0 < seconds <= 600, warmup <= 60, connections <= 256, workers <= 16")

    banner("bench/http.py")
    wd = workdir()
    gen = LoadGen(BODIES, PATH, wd, force_python=args.python_generator, wrk_threads=args.wrk_threads)
    print(
        f"load generator: {gen.name}; {args.connections} connections; {args.seconds:g} s timed "
        f"(in {args.rounds} interleaved rounds, +{args.warmup:g} s warm-up) per server; "
        f"gunicorn.conf.py with {args.workers} workers, "
        f"--max-requests 0; mix of {len(BODIES)} panels: {', '.join(NAMES)}",
        flush=True,
    )

    no_recycling = ["--max-requests", "0"]
    servers = {
        "framework": Server("framework", "bench.ceiling_apps:framework_app()", args.workers, no_recycling),
        "stack": Server("stack", "bench.ceiling_apps:stack_app()", args.workers, no_recycling),
        "stack-generic": Server(
            "stack-generic", "bench.ceiling_apps:stack_app(generic=True)", args.workers, no_recycling
        ),
        "service": Server("service", "service.wsgi:app", args.workers, no_recycling),
    }
    failures: list[str] = []
    runs: dict[str, list[LoadResult]] = {name: [] for name in servers}

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        for srv in servers.values():
            srv.start(wd)
        stack_sizes = verify_stack(servers["stack"].url)
        wrong, sizes = verify_service(servers["service"].url)
        failures += [f"service: wrong answer: {w}" for w in wrong]
        print(
            f"service verified: {len(BODIES) - len(wrong)}/{len(BODIES)} classification codes right; "
            f"answer sizes {sizes} B, stack ceiling's canned answers {stack_sizes} B",
            flush=True,
        )
        if args.warmup > 0:
            for srv in servers.values():
                gen.run(srv.url, args.warmup, args.connections)
        # Interleaved rounds: a background load that comes and goes hits the three servers alike.
        for rnd in range(args.rounds):
            for name, srv in servers.items():
                r = gen.run(srv.url, args.seconds / args.rounds, args.connections)
                runs[name].append(r)
                print(
                    f"  round {rnd + 1} {name:10s} {r.rps:9.1f} req/s   p50 {r.p50_ms:7.2f} ms   "
                    f"p99 {r.p99_ms:7.2f} ms   non-200 {r.non200}",
                    flush=True,
                )
    except KeyboardInterrupt:
        print("interrupted: servers stopped", file=sys.stderr)
        return 130
    finally:
        for srv in servers.values():
            srv.stop()

    results = {}
    for name, rs in runs.items():
        r = LoadResult(
            sum(x.requests for x in rs),
            sum(x.seconds for x in rs),
            statistics.median(x.p50_ms for x in rs),
            statistics.median(x.p99_ms for x in rs),
            sum(x.non200 for x in rs),
            sum(x.socket_errors for x in rs),
            rs[0].generator,
        )
        results[name] = r
        print(
            f"{name:10s} {r.rps:9.1f} req/s   p50 {r.p50_ms:7.2f} ms   p99 {r.p99_ms:7.2f} ms   "
            f"requests {r.requests}   non-200 {r.non200}   socket errors {r.socket_errors}"
        )
        if r.non200:
            failures.append(f"{name}: {r.non200} non-200 answers (log: {servers[name].log_path})")
        if r.socket_errors:
            failures.append(f"{name}: {r.socket_errors} socket errors/timeouts")

    f, st, sv = results["framework"], results["stack"], results["service"]
    ratios = {
        "service/stack throughput": sv.rps / st.rps,
        "service/stack p99": sv.p99_ms / st.p99_ms,
        "service/framework throughput": sv.rps / f.rps,
    }
    print("ratios (target):")
    for k, v in ratios.items():
        op, target = TARGETS[k]
        ok = v >= target if op == ">=" else v <= target
        print(f"  {k:30s} {v:6.3f}   ({op} {target})  {'MET' if ok else 'NOT MET'}")
    print(f"  stack/framework throughput     {st.rps / f.rps:6.3f}   (the cost of validation alone)")
    sg = results["stack-generic"]
    print("informational, against the stack ceiling validating with marshmallow's generic Schema.load:")
    print(
        f"  service/stack-generic throughput {sv.rps / sg.rps:6.3f}; p99 {sv.p99_ms / sg.p99_ms:6.3f}; "
        f"stack-generic/framework {sg.rps / f.rps:6.3f}"
    )
    for msg in failures:
        print("FAIL:", msg)
    print(f"{len(failures)} failure(s)")
    shutil.rmtree(wd, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
