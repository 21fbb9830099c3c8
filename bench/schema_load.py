"""Request-schema load time per bench panel: marshmallow's full load against the compiled loader.

    .venv/bin/python bench/schema_load.py [--repeat 5] [--number 2000]

For each panel, the best of --repeat rounds of the mean time of --number loads (µs), through
``Schema.load`` (marshmallow's full load, the compiled loader bypassed) and through
``InterpretationRequestSchema.load`` (the compiled loader); the two alternate within each round so
that background load hits them alike. In-process, one reused schema instance, pinned to one CPU.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

# bench/ holds a module named "http": keep the directory off sys.path (see panels.py).
_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _BENCH]
sys.path.insert(0, os.path.dirname(_BENCH))

from marshmallow import Schema  # noqa: E402

from bench.harness import mean_us  # noqa: E402
from bench.panels import PANELS  # noqa: E402
from service.api.compiled import DECLINE  # noqa: E402
from service.api.schemas import InterpretationRequestSchema  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--number", type=int, default=2000)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    schema = InterpretationRequestSchema()

    def full(body: Any) -> Any:
        return Schema.load(schema, body)

    print(f"{'panel':24s} {'full µs':>9s} {'compiled µs':>12s} {'ratio':>6s}")
    for name, body, _ in PANELS:
        if schema._compiled_loader(body) is DECLINE:
            print(f"{name}: the compiled loader declined a bench panel")
            return 1
        rounds = [
            (mean_us(full, body, args.number), mean_us(schema.load, body, args.number))
            for _ in range(args.repeat)
        ]
        t_full, t_compiled = min(r[0] for r in rounds), min(r[1] for r in rounds)
        print(f"{name:24s} {t_full:9.1f} {t_compiled:12.1f} {t_full / t_compiled:5.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
