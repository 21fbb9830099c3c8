"""Several history entries of one day as one (JSON contract form): serial memory's rule, shared by
the request path (records.py) and the ruleset impact, which must rebuild exactly what was used.

Each result comes from the last entry (in the order given) that has it: the SPEP, the free light
chains (a kappa/lambda pair is one measurement) and the urine study whole, the labs value by value.
An entry's empty section (no result in it) never hides another entry's result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# The results that make a section count, by section (labs: each analyte on its own).
RESULT_KEYS = {"spep": ("m_protein",), "flc": ("kappa", "lambda"), "urine": ("m_protein_24h", "ife")}
SECTIONS = ("spep", "flc", "urine", "labs")


def results_of(entry: dict[str, Any]) -> dict[str, Any]:
    """The sections of an entry (or of a stored request) that carry a result, labs without empty values."""
    out: dict[str, Any] = {}
    for k in SECTIONS:
        v = entry.get(k)
        if not isinstance(v, dict):
            continue
        if k == "labs":
            labs = {a: q for a, q in v.items() if q is not None}
            if labs:
                out[k] = labs
        elif any(v.get(key) is not None for key in RESULT_KEYS[k]):
            out[k] = v
    return out


def combine(entries: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], list[int]]:
    """``entries`` of one day (each with ``collected_on``) as one entry, and the positions of the
    entries it takes a result from, in order."""
    merged: dict[str, Any] = {"collected_on": entries[0]["collected_on"]}
    source: dict[str, int] = {}
    for i, entry in enumerate(entries):
        for k, v in results_of(entry).items():
            if k == "labs":
                merged["labs"] = {**merged.get("labs", {}), **v}
                source.update({f"labs.{a}": i for a in v})
            else:
                merged[k] = v
                source[k] = i
    return merged, sorted(set(source.values()))
