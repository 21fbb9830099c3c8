"""Cost of the plausibility check (clinical-reference §1.1) per quantity, as a ratio to building it.

    .venv/bin/python bench/plausibility.py [--repeat 5] [--number 20000] [--out FILE.json]

For a calcium with its reference range and a serum M-protein without one: the best of --repeat rounds of
--number calls of the edge's per-analyte checker, of the full ``check`` (the path that writes messages is
not taken for plausible figures either way) and of ``quantity()``; the ratios say what the check adds to
loading a quantity. In-process; the machine's load shifts the absolute figures, much less the ratios.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import timeit

_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _BENCH]
sys.path.insert(0, os.path.dirname(_BENCH))

from service.domain import plausibility  # noqa: E402
from service.domain.quantity import Analyte, quantity  # noqa: E402


def best_us(fn, number: int, repeat: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--number", type=int, default=20000)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    cases = {
        "calcium_with_range": (Analyte.CALCIUM, 2.35, "mmol/L", (2.15, 2.55)),
        "m_protein_without_range": (Analyte.SERUM_M_PROTEIN, 12, "g/L", None),
    }
    out = {}
    for name, (analyte, value, unit, rr) in cases.items():
        q = quantity(value, unit, analyte, None, rr)
        fast = plausibility.checker(analyte)
        build = best_us(
            lambda a=analyte, v=value, u=unit, r=rr: quantity(v, u, a, None, r), args.number, args.repeat
        )
        checker = best_us(lambda f=fast, q=q, u=unit, v=value, r=rr: f(q, u, v, r), args.number, args.repeat)
        full = best_us(
            lambda a=analyte, q=q, u=unit, v=value, r=rr: plausibility.check(a, q, u, v, r),
            args.number,
            args.repeat,
        )
        out[name] = {
            "build_quantity_us": round(build, 3),
            "checker_us": round(checker, 3),
            "check_us": round(full, 3),
            "checker_over_build": round(checker / build, 3),
            "check_over_checker": round(full / checker, 2),
        }
        print(
            f"{name:26s} build {build:6.2f} us  checker {checker:5.2f} us ({checker / build:.0%} of build)  "
            f"full check {full:5.2f} us ({full / checker:.1f}x the checker)"
        )
    if args.out:
        record = {
            "measured_on": datetime.date.today().isoformat(),
            "note": "shared 2-core machine under load from other jobs: absolute figures noisy, "
            "ratios indicative",
            "repeat": args.repeat,
            "number": args.number,
            "results": out,
        }
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as fh:
            json.dump(record, fh, indent=2)
            fh.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
