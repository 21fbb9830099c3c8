"""Golden outputs for refactoring the engine: identical answers before and after, byte for byte.

    .venv/bin/python bench/golden.py --write /tmp/golden.jsonl [--n 6000] [--seed 1]
    ... change the code ...
    .venv/bin/python bench/golden.py --check /tmp/golden.jsonl        (same --n and --seed)
    .venv/bin/python bench/golden.py --impact /tmp/golden.jsonl       (a deliberate clinical change)

Builds --n random request bodies (seeded), biased to the thresholds of clinical-reference §2-§4 (values
just below, at and just above each cut-off, in both unit systems, with bounds, reference ranges, clones,
history), keeps those the request schema accepts (nearly all: the figures are drawn inside the
plausibility windows of §1.1, which refuse a body before the engine runs), and writes one line per body: the
interpretation as JSON with sorted keys. --check recomputes and reports the first differences. Used to
keep a performance change from changing any answer; not a test, because an intended clinical change
changes the outputs too. Needs a fixed date: history dates are relative to 2026-11-01 and must be in the
past, which holds from that day on.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import sys

_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _BENCH]
sys.path.insert(0, os.path.dirname(_BENCH))

import orjson  # noqa: E402
from marshmallow import ValidationError  # noqa: E402

from service.api.schemas import InterpretationRequestSchema  # noqa: E402
from service.api.serialize import to_dict  # noqa: E402
from service.domain import interpret  # noqa: E402
from service.domain.panel import Clinical  # noqa: E402

RNG = random.Random(1)
# The yes/no clinical findings, as the domain record names them.
CLINICAL_BOOLEANS = tuple(k for k in Clinical._fields if k not in ("scleromyxedema", "ivig_last_dose_on"))


def maybe(p=0.5):
    return RNG.random() < p


def pick(*xs):
    return RNG.choice(xs)


def q(vals, unit, rr=None, comp=True):
    out = {"value": pick(*vals), "unit": unit}
    if comp and maybe(0.15):
        out["comparator"] = pick("<", "<=", ">", ">=")
        if out["comparator"] == "<" and out["value"] == 0:
            out["value"] = 1
    if rr and maybe(0.6):
        out["reference_range"] = {"low": rr[0], "high": rr[1]}
    return out


def clone(heavy=True):
    return {
        "heavy_chain": pick("IgG", "IgA", "IgM", "IgD", "IgE", None) if heavy else None,
        "light_chain": pick("kappa", "lambda"),
    }


def ife():
    if maybe(0.3):
        return {"result": "negative", "clones": []}
    n = 1 if maybe(0.85) else 2
    cs = []
    while len(cs) < n:
        c = clone()
        if c not in cs:
            cs.append(c)
    return {"result": "positive", "clones": cs}


def body():
    b = {}
    if maybe(0.7):
        b["patient"] = {
            "age_years": pick(30, 67, 80.5),
            "sex": pick("male", "female", "other", "unknown", None),
        }
    if maybe(0.8):
        # ref: §1.1 — values inside the plausible window (0–150 g/L), around §2.3–§2.5's 30 g/L in each unit.
        unit = pick("g/L", "g/dL")
        g_l = [0, 5, 12, 14.9, 15, 15.1, 20, 29, 29.9, 30, 30.1, 31, 45, 149.9, 150]
        g_dl = [0, 0.5, 1.2, 1.49, 1.5, 1.51, 2, 2.9, 2.99, 3, 3.01, 3.1, 4.5, 14.9, 15]
        b["spep"] = {"m_protein": q(g_l if unit == "g/L" else g_dl, unit)}
    if maybe(0.85):
        b["serum_ife"] = ife()
    if maybe(0.5):
        u = {}
        if maybe(0.7):
            # ref: §1.1 — 0–50,000 mg/24h; around §2.3/§2.6/§2.7's 500 mg/24h in each unit.
            unit = pick("mg/24h", "g/24h")
            mg = [0, 100, 499, 500, 501, 1200, 50000]
            g = [0, 0.1, 0.499, 0.5, 0.501, 1.2, 50]
            u["m_protein_24h"] = q(mg if unit == "mg/24h" else g, unit)
        if maybe(0.6):
            u["ife"] = ife()
        b["urine"] = u
    if maybe(0.75):
        f = {}
        if maybe(0.9):
            # ref: §1.1 — the reference range in the value's unit (a mg/L range with mg/dL is refused).
            if maybe():
                f["kappa"] = q([0, 5, 19.4, 19.5, 25, 99, 100, 101, 250, 1500], "mg/L", (3.3, 19.4))
            else:
                f["kappa"] = q([0, 0.5, 1.94, 1.95, 2.5, 9.9, 10, 10.1, 25, 150], "mg/dL", (0.33, 1.94))
        if maybe(0.9):
            f["lambda"] = q([0, 0.9, 1, 5.7, 12, 26.3, 27, 100, 400], "mg/L", (5.7, 26.3))
        if maybe(0.3):
            f["assay"] = pick("freelite", "sebia", "n_latex", "other")
        if maybe(0.1):
            f["ratio_reference_range"] = {"low": 0.26, "high": 1.65}
        b["flc"] = f
    if maybe(0.6):
        m = {}
        for k, vals in (
            ("clonal_plasma_cells_percent", [0, 5, 9.9, 10, 10.1, 15, 20, 20.1, 30, 40, 59.9, 60, 61]),
            ("plasma_cells_percent", [3, 9, 10, 12, 60]),
            ("lymphoplasmacytic_infiltrate_percent", [0, 9.9, 10, 12]),
            ("flow_plasma_cells_percent", [0.5, 2]),
        ):
            if maybe(0.45):
                m[k] = pick(*vals)
        b["marrow"] = m
    if maybe(0.75):
        labs = {}
        if maybe(0.8):
            labs["calcium"] = (
                q([2.3, 2.7, 2.74, 2.75, 2.76, 2.81, 3.1], "mmol/L", (2.15, 2.55))
                if maybe()
                else q([9.4, 10.99, 11, 11.02, 12.5], "mg/dL", (8.6, 10.3))
            )
        if maybe(0.8):
            labs["creatinine"] = pick(
                q([80, 176, 177, 178, 250], "umol/L", (60, 110)),
                q([0.8, 1.99, 2, 2.01, 3], "mg/dL", (0.6, 1.2)),
            )
        if maybe(0.4):
            labs["creatinine_clearance"] = q([20, 39, 40, 41, 59, 60, 95], "mL/min")
        if maybe(0.5):
            labs["egfr"] = q([20, 39, 40, 59, 60, 95], "mL/min/1.73m2")
        if maybe(0.8):
            labs["hemoglobin"] = pick(
                q([90, 99, 100, 101, 131], "g/L", (120, 160)), q([9.9, 10, 10.1, 13.1], "g/dL", (12.0, 16.0))
            )
        if maybe(0.4):
            labs["tsh"] = q([0.2, 1.9, 5.5], "mIU/L", (0.4, 4.0), comp=False)
        b["labs"] = labs
    if maybe(0.6):
        b["imaging"] = {
            k: pick(0, 1, 2, None) for k in ("osteolytic_lesions", "mri_focal_lesions") if maybe(0.7)
        }
    if maybe(0.4):
        b["cytogenetics"] = {
            k: pick(True, False, None) for k in ("t_4_14", "t_14_16", "gain_1q", "del_13q") if maybe(0.6)
        }
    if maybe(0.6):
        c = {}
        if maybe(0.4):
            c["scleromyxedema"] = pick("confirmed", "suspected", "absent", None)
        for k in CLINICAL_BOOLEANS:
            if maybe(0.3):
                c[k] = pick(True, False, None)
        b["clinical"] = c
    if maybe(0.3):
        today = datetime.date(2026, 11, 1)
        b["collected_on"] = today.isoformat() if maybe(0.8) else None
        hist = []
        days = sorted(RNG.sample(range(5, 600), RNG.randint(1, 4)))
        for d in days:
            h = {"collected_on": (today - datetime.timedelta(days=d)).isoformat()}
            if maybe(0.8):
                h["spep"] = {"m_protein": q([8, 10, 12, 15, 20, 25, 30, 33], "g/L")}
            if maybe(0.5):
                h["labs"] = {"hemoglobin": q([100, 110, 120, 131, 140], "g/L")}
            hist.append(h)
        b["history"] = hist
    return b


def outputs(n: int, seed: int) -> list[bytes]:
    """One JSON line per accepted random body."""
    RNG.seed(seed)
    schema = InterpretationRequestSchema()
    lines = []
    for _ in range(n):
        try:
            panel = schema.load(body())
        except ValidationError:
            continue
        lines.append(orjson.dumps(to_dict(interpret(panel)), option=orjson.OPT_SORT_KEYS, default=str))
    return lines


# The parts of an answer a lab reads, for --impact (the ruleset version changes every answer).
IMPACT_PARTS = {
    "category": lambda a: a["classification"]["code"],
    "provisional": lambda a: a["classification"]["provisional"],
    "label": lambda a: a["classification"]["label"],
    "criterion statuses": lambda a: [(c["id"], c["status"]) for c in a["criteria"]],
    "myeloma-defining events": lambda a: a["myeloma_defining_events"],
    "flags": lambda a: sorted(f["code"] for f in a["flags"]),
    "flag severities": lambda a: sorted((f["code"], f["severity"]) for f in a["flags"]),
    "recommendations": lambda a: sorted(r["code"] for r in a["recommendations"]),
    "missing data": lambda a: a["missing_data"],
    "risk groups": lambda a: {m: (r["group"], r["possible_groups"]) for m, r in a["risk"].items()},
    "comment": lambda a: a["comment"],
    "derived": lambda a: a.get("derived", {}),
}


# Parts that are text only: an answer differing only in these changed its wording, not its content.
WORDING = {"label", "comment"}


def impact(old: list[bytes], new: list[bytes]) -> int:
    """Print how many answers differ in each part, and the category moves; 0 unless the bodies differ."""
    if len(old) != len(new):
        print(f"different number of answers: {len(old)} recorded, {len(new)} now")
        return 1
    parts = dict.fromkeys(IMPACT_PARTS, 0)
    moves: dict[str, int] = {}
    changed = substantive = 0
    for a_raw, b_raw in zip(old, new, strict=True):
        a, b = json.loads(a_raw), json.loads(b_raw)
        for answer in (a, b):
            answer.pop("ruleset_version", None)
            answer.setdefault("derived", {})  # answers before ruleset 2026.12.1 had no derived values
        if a == b:
            continue
        changed += 1
        differs = [name for name, get in IMPACT_PARTS.items() if get(a) != get(b)]
        for name in differs:
            parts[name] += 1
        substantive += bool(set(differs) - WORDING)
        ca, cb = IMPACT_PARTS["category"](a), IMPACT_PARTS["category"](b)
        if ca != cb:
            moves[f"{ca} -> {cb}"] = moves.get(f"{ca} -> {cb}", 0) + 1
    print(f"{len(new)} answers; {changed} differ beyond the ruleset version, {substantive} beyond wording")
    for name, n in parts.items():
        print(f"  {name}: {n}")
    print("category moves:")
    for move, n in sorted(moves.items(), key=lambda kv: -kv[1]):
        print(f"  {move}: {n}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", metavar="FILE")
    mode.add_argument("--check", metavar="FILE")
    mode.add_argument(
        "--impact",
        metavar="FILE",
        help="count the answers a ruleset change affects, by part of the answer and category move",
    )
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not 0 < args.n <= 1_000_000:
        ap.error("0 < n <= 1,000,000")
    lines = outputs(args.n, args.seed)
    if args.write:
        with open(args.write, "wb") as fh:
            fh.write(b"\n".join(lines) + b"\n")
        print(f"wrote {len(lines)} answers to {args.write}")
        return 0
    if args.impact:
        with open(args.impact, "rb") as fh:
            return impact(fh.read().splitlines(), lines)
    with open(args.check, "rb") as fh:
        old = fh.read().splitlines()
    diffs = [i for i, (a, b) in enumerate(zip(old, lines, strict=False)) if a != b]
    if len(old) != len(lines):
        print(f"different number of answers: {len(old)} recorded, {len(lines)} now")
    for i in diffs[:3]:
        a, b = json.loads(old[i]), json.loads(lines[i])
        for key in a:
            if a[key] != b.get(key):
                print(
                    f"answer {i}, {key}:\n  recorded {str(a[key])[:400]}\n  now      {str(b.get(key))[:400]}"
                )
    print(f"{len(lines)} answers, {len(diffs)} different")
    return 1 if diffs or len(old) != len(lines) else 0


if __name__ == "__main__":
    sys.exit(main())
