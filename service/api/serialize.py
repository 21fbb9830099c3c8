"""Interpretation -> plain JSON-ready mapping (contract field names). Hand-written for speed: the
response schema in schemas.py documents this shape and a test checks real answers against it."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from service.domain.results import Interpretation, RiskResult, Severity, Status


def _n(v: Any) -> Any:
    # A finite Decimal beyond float range would become Infinity, which is not JSON: null instead.
    if isinstance(v, Decimal):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


# Enum values looked up by member (the ``.value`` descriptor is slow on Python 3.11).
_STATUS = {m: m.value for m in Status}
_SEVERITY = {m: m.value for m in Severity}


def _bounds(low: Decimal | None, high: Decimal | None) -> dict[str, Any] | None:
    if low is None and high is None:
        return None
    return {"low": _n(low), "high": _n(high)}


def _risk(r: RiskResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "applies": r.applies,
        "group": r.group,
        "possible_groups": list(r.possible_groups),
        "reason": r.reason,
        "factors": [
            {
                "id": f.id,
                "status": f.status,
                "value": _n(f.value),
                "unit": f.unit,
                "threshold": f.threshold,
                "points": f.points,
                "points_max": f.points_max,
            }
            for f in r.factors
        ],
        "source": r.source,
        "score": r.score if r.model == "smm_imwg_2020" and r.applies else None,
        "score_max": r.score_max if r.model == "smm_imwg_2020" and r.applies else None,
        "score_is_lower_bound": r.score_is_lower_bound if r.model == "smm_imwg_2020" else False,
        "needed": list(r.needed),
    }
    if r.model != "smm_imwg_2020" and r.applies:
        out["factors_present"] = r.score
    for k, v in r.outcomes.items():
        out[k] = _n(v)
    return out


def to_dict(it: Interpretation) -> dict[str, Any]:
    """The response body for one interpretation."""
    c = it.classification
    flc = it.flc
    flc_out = None
    if flc is not None:
        flc_out = {
            "ratio": _n(flc.ratio),
            "ratio_bounds": _bounds(flc.ratio_low, flc.ratio_high),
            "reference_interval": {
                "low": _n(flc.interval_low),
                "high": _n(flc.interval_high),
                "basis": flc.basis,
            },
            "abnormal": flc.abnormal,
            "involved": flc.involved,
            "involved_uninvolved_ratio": _n(flc.involved_uninvolved_ratio),
            "involved_uninvolved_bounds": _bounds(flc.iu_low, flc.iu_high),
            "involved_raised": flc.involved_raised,
            "assay": flc.assay,
            "renal_interval": flc.renal_interval,
        }
    recs = []
    for r in it.recommendations:
        item: dict[str, Any] = {"code": r.code, "text": r.text}
        if r.code == "FOLLOW_UP":
            iv = r.interval_months
            item["interval_months"] = (
                {"min": _n(iv[0]), "max": _n(iv[1])} if isinstance(iv, tuple) else _n(iv)
            )
            item["then"] = r.then
        if r.tests:
            item["tests"] = list(r.tests)
        recs.append(item)
    return {
        "ruleset_version": it.ruleset_version,
        "classification": {
            "code": c.code.value,
            "label": c.label,
            "provisional": c.provisional,
            "isotype": c.isotype,
            "reasons": list(c.reasons),
        },
        "criteria": [
            {
                "id": k.id,
                "status": _STATUS[k.status],
                "value": _n(k.value) if k.value.__class__ is Decimal else k.value,
                "unit": k.unit,
                "comparator": k.comparator,
                "threshold": k.threshold,
                "source": k.source,
                "note": k.note,
            }
            for k in it.criteria
        ],
        "myeloma_defining_events": list(it.myeloma_defining_events),
        "flc": flc_out,
        "risk": {name: _risk(r) for name, r in it.risk.items()},
        "flags": [
            {
                "code": f.code,
                "severity": _SEVERITY[f.severity],
                "message": f.message,
                "refer_to": list(f.refer_to),
                "evidence": list(f.evidence),
            }
            for f in it.flags
        ],
        "recommendations": recs,
        "missing_data": list(it.missing_data),
        "comment": it.comment,
        "notes": list(it.notes),
        "derived": {name: {k: _n(v) for k, v in d.items()} for name, d in it.derived.items()},
    }
