"""Serial results: the evolving patterns of clinical-reference §3.5."""

from __future__ import annotations

import calendar
import math
from datetime import date
from decimal import Decimal
from operator import itemgetter
from typing import NamedTuple

from . import ruleset as R
from .catalogue import FLAGS
from .panel import Panel
from .quantity import INF, Quantity
from .results import Flag


class Point(NamedTuple):
    """One dated result as the range of values it allows (a bound is not a value)."""

    on: date
    lo: Decimal
    hi: Decimal
    comparator: str | None = None

    @property
    def shown(self) -> Decimal:
        """The reported number (the bound itself for a bounded result)."""
        return self.hi if self.hi != INF else self.lo


def add_months(d: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    day = d.day
    if day > 28:  # every month has 28 days: only later days can need the clamp
        day = min(day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def within(start: date, end: date, months: int) -> bool:
    """Whether ``end`` falls within ``months`` calendar months after ``start`` (inclusive)."""
    return end <= add_months(start, months)


def _series(panel: Panel, pick) -> list[Point]:
    """Dated results, oldest first. A bounded result keeps its range: a rule fires only when the
    bounds guarantee it (a rise from "< 10" to 25 g/L is certainly >= 25 %)."""
    points: list[Point] = []
    dated = [(h.collected_on, pick(h)) for h in panel.history]
    if panel.collected_on is not None:
        dated.append((panel.collected_on, pick(panel)))
    dated.sort(key=_first)  # stable: results of the same day keep their order
    for on, q in dated:
        if q is None:
            continue
        iv = q.interval
        c = q.comparator
        points.append(_new(Point, (on, iv.lo, iv.hi, None if c is None else str(c))))
    return points


_first = itemgetter(0)
_new = tuple.__new__  # a Point without NamedTuple's keyword-handling __new__


def _m_protein(section_owner) -> Quantity | None:
    spep = section_owner.spep
    return spep.m_protein if spep is not None else None


def _hemoglobin(section_owner) -> Quantity | None:
    labs = section_owner.labs
    return labs.hemoglobin if labs is not None else None


def _float(v: Decimal) -> float | None:
    f = float(v)
    return f if math.isfinite(f) else None


def _g(v: float | None) -> str:
    return "n/a" if v is None else f"{v:g}"


def _pct(rise: Decimal, base: Decimal) -> float | None:
    # Display only: computed in float, so a huge value cannot overflow the decimal context.
    if base == 0:
        return None
    f = _float(rise / base * 100)
    return None if f is None else round(f, 1)


def _ev(a: Point, b: Point, unit: str) -> dict:
    rise = b.shown - a.shown
    return {
        "from_date": a.on.isoformat(),
        "from_value": _float(a.shown),
        "from_comparator": a.comparator,
        "to_date": b.on.isoformat(),
        "to_value": _float(b.shown),
        "to_comparator": b.comparator,
        "unit": unit,
        "change_percent": _pct(rise, a.shown),
    }


def _certain_rise(a: Point, b: Point, fraction: Decimal, minimum: Decimal | None) -> bool:
    """Whether b is certainly at least ``fraction`` (and ``minimum``) above a, whatever the bounds."""
    # A baseline of 0 has no percentage to rise by: a spike appearing (0 -> 0.5 g/L) is a new
    # finding, not a ">= 25 % rise" (§3.5).
    if a.hi == INF or a.hi == 0:
        return False
    rise = b.lo - a.hi
    if minimum is not None and rise < minimum:
        return False
    return rise >= fraction * a.hi and rise > 0


def _possible_rise(a: Point, b: Point, fraction: Decimal, minimum: Decimal | None) -> bool:
    """Whether some values within the bounds make b at least ``fraction`` (and ``minimum``) above a."""
    if a.hi == 0:  # no baseline to rise from, whatever b is
        return False
    if b.hi == INF:
        return True
    rise = b.hi - a.lo  # the lowest baseline the bound allows, the highest later value
    if minimum is not None and rise < minimum:
        return False
    return rise > 0 and rise >= fraction * a.lo


def evolving_m_protein(points: list[Point], *, certain: bool = True) -> list[dict]:
    """§3.5 (Ravi 2016): ≥ 10 % in the first 6 months (baseline ≥ 30 g/L) or ≥ 25 % within 12
    months, each with a rise of at least 5 g/L. ``certain`` False: what the bounds leave possible."""
    hits: list[dict] = []
    if len(points) < 2:
        return hits
    rises = _certain_rise if certain else _possible_rise
    base = points[0]
    # ref: §3.5 — early rule, only when the M-protein is ≥ 30 g/L at baseline.
    if (base.lo if certain else base.hi) >= R.EVOLVING_EARLY_MIN_M_PROTEIN_G_L:
        for p in points[1:]:
            if within(base.on, p.on, R.EVOLVING_EARLY_MONTHS) and rises(
                base, p, R.EVOLVING_EARLY_RISE_FRACTION, R.EVOLVING_MIN_ABSOLUTE_RISE_G_L
            ):
                hits.append({"rule": ">= 10 % rise within the first 6 months"} | _ev(base, p, "g/L"))
                break
    # ref: §3.5 — ≥ 25 % rise within 12 months, minimum absolute rise 5 g/L.
    for i, a in enumerate(points):
        for b in points[i + 1 :]:
            if not within(a.on, b.on, R.EVOLVING_MONTHS):
                break
            if rises(a, b, R.EVOLVING_RISE_FRACTION, R.EVOLVING_MIN_ABSOLUTE_RISE_G_L):
                hits.append({"rule": ">= 25 % rise within 12 months"} | _ev(a, b, "g/L"))
                return hits
    return hits


def evolving_hemoglobin(points: list[Point], *, certain: bool = True) -> list[dict]:
    """§3.5: haemoglobin fall of ≥ 5 g/L within 12 months. ``certain`` False: what the bounds leave
    possible."""
    for i, a in enumerate(points):
        for b in points[i + 1 :]:
            if not within(a.on, b.on, R.EVOLVING_HB_MONTHS):
                break
            # ref: §3.5 — fall ≥ 5 g/L (certain: the lowest earlier value minus the highest later one;
            # possible: the highest earlier value minus the lowest later one).
            if certain:
                falls = b.hi != INF and a.lo - b.hi >= R.EVOLVING_HB_FALL_G_L
            else:
                falls = a.hi == INF or a.hi - b.lo >= R.EVOLVING_HB_FALL_G_L
            if falls:
                return [{"rule": "fall >= 5 g/L within 12 months"} | _ev(a, b, "g/L")]
    return []


def rising_successive(points: list[Point], *, certain: bool = True) -> list[dict]:
    """§3.5 (Rajkumar 2015): the M-protein ≥ 25 % above an earlier result on two successive
    evaluations, the earlier result and both evaluations within 6 months. ``certain`` False: what the
    bounds leave possible."""
    rises = _certain_rise if certain else _possible_rise
    # ref: §3.5 — "rise >= 25 % on two successive evaluations": the rise over a baseline is seen
    # at two consecutive evaluations (a confirmed rise, as myeloma criteria confirm changes on two
    # consecutive assessments); it need not compound (10 -> 12.5 -> 12.5 g/L qualifies).
    for j in range(1, len(points) - 1):
        b, c = points[j], points[j + 1]
        for a in points[:j]:
            if (
                within(a.on, c.on, R.SUCCESSIVE_RISE_MONTHS)
                and rises(a, b, R.SUCCESSIVE_RISE_FRACTION, None)
                and rises(a, c, R.SUCCESSIVE_RISE_FRACTION, None)
            ):
                return [
                    {"rule": ">= 25 % rise on two successive evaluations within 6 months"} | _ev(a, b, "g/L"),
                    _ev(a, c, "g/L"),
                ]
    return []


def unread_history(panel: Panel) -> str | None:
    """The note naming what the request's own history entries carry that no serial rule reads (§3.5
    reads the serum M-protein and the haemoglobin), entry by entry: sent, never silently dropped."""
    found = []
    for h in sorted((h for h in panel.history if not h.from_store), key=lambda h: h.collected_on):
        names = [
            _UNREAD_WORDS.get(f"{section}.{name.rstrip('_')}", name.rstrip("_").replace("_", " "))
            for section, values, read in (
                ("flc", h.flc, ()),
                ("urine", h.urine, ()),
                ("labs", h.labs, ("hemoglobin",)),
            )
            if values is not None
            for name, value in zip(values._fields, values, strict=True)
            if name not in read and name not in _SETTINGS and value is not None
        ]
        if names:
            found.append(f"{h.collected_on.isoformat()}: {', '.join(names)}")
        elif _m_protein(h) is None and _hemoglobin(h) is None:
            found.append(f"{h.collected_on.isoformat()}: no result")
    if not found:
        return None
    return (
        "The serial-result rules (clinical-reference §3.5) read the serum M-protein and the haemoglobin of "
        f"earlier panels; these results of the request's history were not used: {'; '.join(found)}."
    )


# The report's words for what a history entry may carry besides the results §3.5 reads.
_UNREAD_WORDS = {
    "flc.kappa": "free kappa",
    "flc.lambda": "free lambda",
    "urine.m_protein_24h": "24-hour urine M-protein",
    "urine.ife": "urine immunofixation",
    "labs.calcium": "calcium",
    "labs.creatinine": "creatinine",
    "labs.creatinine_clearance": "creatinine clearance",
    "labs.egfr": "eGFR",
    "labs.tsh": "TSH",
}
# An FLC section's settings, not results: the assay and the laboratory's ratio interval.
_SETTINGS = frozenset({"assay", "ratio_reference_range"})


def serial_flags(panel: Panel, ivig_until: date | None = None) -> tuple[list[Flag], list[str]]:
    """Evolving-pattern flags from the patient's dated results, with notes on what was left out.
    ``ivig_until``: the end of the IVIg window of an IgG clone (§5): M-protein results dated up to it
    are unreliable and not read."""
    if not panel.history:
        return [], []
    flags: list[Flag] = []
    notes: list[str] = []
    unread = unread_history(panel)
    if unread:
        notes.append(unread)
    if panel.collected_on_assumed and panel.collected_on is not None:
        notes.append(
            f"Collection date not given: the current panel was dated {panel.collected_on.isoformat()} "
            "(the day of the request) for the serial-result rules."
        )
    mp = _series(panel, _m_protein)
    if ivig_until is not None:
        # ref: §5 — IVIg is polyclonal IgG, given every 4-6 weeks, usually indefinitely: an IgG
        # M-protein up to about 3 months after the last dose is unreliable, and a rise read from it
        # is not the clone's.
        unreliable = [p for p in mp if p.on <= ivig_until]
        if unreliable:
            mp = [p for p in mp if p.on > ivig_until]
            notes.append(
                "The serial M-protein rules (clinical-reference §3.5) did not read the IgG M-protein of "
                + ", ".join(sorted({p.on.isoformat() for p in unreliable}))
                + f": up to {ivig_until.isoformat()}, {R.IVIG_WINDOW_MONTHS} months after the last IVIg "
                "dose, IgG-based values are unreliable (clinical-reference §5); immunofixation follows "
                "the clone."
            )
    hb = _series(panel, _hemoglobin)
    src = "clinical-reference §3.5"
    ev = evolving_m_protein(mp)
    if ev:
        e = ev[0]
        flags.append(
            FLAGS["EVOLVING_M_PROTEIN"].make(
                f"Evolving M-protein ({e['rule']}): {_g(e['from_value'])} g/L on {e['from_date']} "
                f"to {_g(e['to_value'])} g/L on {e['to_date']} ({R.RAVI_2016}; {src}). An "
                "evolving pattern predicts progression: haematology review.",
                tuple(ev),
            )
        )
    ev = evolving_hemoglobin(hb)
    if ev:
        e = ev[0]
        flags.append(
            FLAGS["EVOLVING_HEMOGLOBIN"].make(
                f"Evolving haemoglobin: {_g(e['from_value'])} g/L on {e['from_date']} to "
                f"{_g(e['to_value'])} g/L on {e['to_date']}, a fall of at least 5 g/L within 12 "
                f"months ({R.RAVI_2016}; {src}).",
                tuple(ev),
            )
        )
    ev = rising_successive(mp)
    if ev:
        flags.append(
            FLAGS["RISING_M_PROTEIN_SUCCESSIVE"].make(
                "M-protein up >= 25 % on two successive evaluations within 6 months "
                f"({_g(ev[0]['from_value'])} g/L on {ev[0]['from_date']}, then "
                f"{_g(ev[0]['to_value'])} g/L on {ev[0]['to_date']} and "
                f"{_g(ev[1]['to_value'])} g/L on {ev[1]['to_date']}): a high-risk marker in "
                f"smouldering myeloma ({R.RAJKUMAR_2015}; {src}).",
                tuple(ev),
            )
        )
    undecided = [
        name
        for name, rule, series in (
            ("an evolving M-protein", evolving_m_protein, mp),
            ("an evolving haemoglobin", evolving_hemoglobin, hb),
            ("a rise of >= 25 % on two successive evaluations", rising_successive, mp),
        )
        if not rule(series) and rule(series, certain=False)
    ]
    if undecided:
        # ref: §3.5 with §2.9 — a rule the bounds leave open is said, never summarised as absent.
        bounds = sorted(
            {
                f"{p.comparator} {_g(_float(p.shown))} g/L on {p.on.isoformat()}"
                for p in (*mp, *hb)
                if p.comparator
            }
        )
        notes.append(
            f"Serial results (clinical-reference §3.5): {' and '.join(undecided)} can be neither confirmed "
            f"nor excluded: results sent as bounds ({'; '.join(bounds)}) do not settle it; the exact values "
            "would."
        )
    return flags, notes
