"""Per-request cost of the ops extensions (observability, security), with Flask's test client.

    .venv/bin/python bench/ops_overhead.py [requests]      (default 20000 per variant)

Builds the same tiny app four ways (bare; + init_observability; + init_security; + both),
sends N identical authenticated GETs to each in 10 interleaved rounds, and reports the best
round's mean CPU time per request (process time, so other load on the machine matters less) and
the difference from the bare app. Access-log lines go to /dev/null (the JSON formatting and the
write are still paid).
"""

from __future__ import annotations

import os
import sys

# bench/ holds a module named "http": drop the directory from sys.path before anything imports the
# standard library's http package, and import the service from the repository root.
_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _BENCH]
sys.path.insert(0, os.path.dirname(_BENCH))

import hashlib  # noqa: E402
import time  # noqa: E402

from flask import Flask, g  # noqa: E402

from service.api.observability import init_observability, mark_ready  # noqa: E402
from service.api.security import init_security  # noqa: E402

KEY = "bench-key-" + "x" * 33
ROUNDS = 10


def build(observability: bool, security: bool) -> Flask:
    app = Flask("bench")
    app.config["API_KEYS"] = {"bench": hashlib.sha256(KEY.encode()).hexdigest()}
    if observability:
        init_observability(app)
    if security:
        init_security(app)

    @app.get("/v1/items/<int:item_id>")
    def item(item_id: int):
        g.classification_code = "MGUS_NON_IGM"
        return {"id": item_id}

    if observability:
        mark_ready(app)
    return app


def run(client, n: int) -> float:
    headers = {"Authorization": f"Bearer {KEY}", "X-Request-ID": "bench-1"}
    t0 = time.process_time()
    for _ in range(n):
        client.get("/v1/items/1", headers=headers)
    return (time.process_time() - t0) / n * 1e6


def hook_costs(repeat: int = 15, number: int = 2000) -> dict[str, float]:
    """Best-of-repeats cost of each hook, called directly inside one request context."""
    import timeit

    app = build(True, True)
    start, require_key = app.before_request_funcs[None][:2]
    (finish,) = app.after_request_funcs[None]
    headers = {"Authorization": f"Bearer {KEY}", "X-Request-ID": "bench-1"}
    out = {}
    with app.test_request_context("/v1/items/1", headers=headers):
        from flask import request

        request.url_rule  # noqa: B018 - bind the rule as dispatch would
        start()
        response = app.make_response({"id": 1})
        header_list = response.headers._list

        def finish_and_reset():
            finish(response)
            del header_list[-1]  # the appended X-Request-ID, so the list stays the same size

        for name, fn in (
            ("observability before_request", start),
            ("security before_request", require_key),
            ("observability after_request (metrics + access log)", finish_and_reset),
        ):
            out[name] = min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    real_stderr, sys.stderr = sys.stderr, open(os.devnull, "w")  # noqa: SIM115
    try:
        hooks = hook_costs()
        variants = {
            "bare": build(False, False).test_client(),
            "observability": build(True, False).test_client(),
            "security": build(False, True).test_client(),
            "both": build(True, True).test_client(),
        }
        for client in variants.values():
            run(client, 500)  # warm up
        best = {name: float("inf") for name in variants}
        for _ in range(ROUNDS):
            for name, client in variants.items():
                best[name] = min(best[name], run(client, n // ROUNDS))
    finally:
        sys.stderr = real_stderr
    base = best["bare"]
    print(f"{n} requests per variant, best of {ROUNDS} rounds, CPU time, Flask test client")
    for name, us in best.items():
        extra = "" if name == "bare" else f"  (+{us - base:.1f} us/request)"
        print(f"{name:>14}: {us:8.1f} us/request{extra}")
    print("hooks alone (best of 15 x 2000 calls, wall time):")
    for name, us in hooks.items():
        print(f"  {name}: {us:.2f} us")
    print(f"  total: {sum(hooks.values()):.2f} us/request")


if __name__ == "__main__":
    main()
