"""Trend charts of a patient's stored panels, drawn server-side by matplotlib (Agg, SVG output).

Each chart carries the rule thresholds from service.domain.ruleset (never retyped here): serum
M-protein with 15 g/L (Mayo MGUS risk, §3.1) and 30 g/L (§2.3/§2.4), the FLC ratio with the interval
in force for the case as a band (§4), haemoglobin with 100 g/L and LLN − 20 g/L (§2.1 A), creatinine
with 177 µmol/L (§2.1 R) and the laboratory's ULN. Point groups and threshold lines carry ids
(``points-<chart>``, ``threshold-<chart>-<n>``) so that a page test can count them.
"""

from __future__ import annotations

import functools
import io
import threading
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
from marshmallow import ValidationError  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from service.api.schemas import HistoryEntrySchema  # noqa: E402
from service.domain import ruleset as R  # noqa: E402
from service.domain.panel import HistoryEntry  # noqa: E402
from service.store import Record  # noqa: E402

_SCHEMA = HistoryEntrySchema()
_SECTIONS = ("spep", "flc", "urine", "labs")
# matplotlib's pyplot-free Figure is thread-safe per figure; the SVG id salt is global state.
_LOCK = threading.Lock()


@dataclass
class Threshold:
    value: float
    label: str


@dataclass
class Series:
    name: str
    title: str
    unit: str
    points: list[tuple[date, float, str]] = field(default_factory=list)  # (date, value, marker note)
    thresholds: list[Threshold] = field(default_factory=list)
    band: tuple[float, float, str] | None = None
    note: str = ""


def _entry(r: Record) -> HistoryEntry | None:
    sections = {k: r.request[k] for k in _SECTIONS if r.request.get(k) is not None}
    if not sections:
        return None
    try:
        loaded = _SCHEMA.load({"collected_on": r.collected_on.isoformat(), **sections})
    except ValidationError:
        return None
    return loaded if isinstance(loaded, HistoryEntry) else None


def _f(d: Decimal) -> float:
    return float(d)


def series_of(records: list[Record], case: Record) -> list[Series]:
    """The four series of the case's patient, oldest panel first."""
    m = Series("m_protein", "Serum M-protein", "g/L")
    # ref: §3.1 — M-protein >= 15 g/L is a Mayo MGUS risk factor.
    m.thresholds.append(Threshold(_f(R.MAYO_MGUS_M_PROTEIN_G_L), "15 g/L (Mayo risk factor, §3.1)"))
    # ref: §2.3/§2.4 — 30 g/L separates MGUS from smouldering myeloma.
    m.thresholds.append(Threshold(_f(R.SERUM_M_PROTEIN_G_L), "30 g/L (MGUS / SMM, §2.3)"))
    ratio = Series("flc_ratio", "Serum FLC κ/λ ratio", "ratio")
    hb = Series("hemoglobin", "Haemoglobin", "g/L")
    # ref: §2.1 A — haemoglobin < 100 g/L.
    hb.thresholds.append(Threshold(_f(R.HEMOGLOBIN_ABSOLUTE_G_L), "100 g/L (§2.1 A)"))
    cr = Series("creatinine", "Serum creatinine", "µmol/L")
    # ref: §2.1 R — serum creatinine > 177 µmol/L.
    cr.thresholds.append(Threshold(_f(R.CREATININE_UMOL_L), "177 µmol/L (§2.1 R)"))
    hb_lln: Decimal | None = None
    cr_uln: Decimal | None = None
    for r in records:
        e = _entry(r)
        if e is None:
            continue
        on = r.collected_on
        if e.spep is not None and e.spep.m_protein is not None:
            q = e.spep.m_protein
            m.points.append((on, _f(q.value), q.comparator or ""))
        if e.labs is not None and e.labs.hemoglobin is not None:
            q = e.labs.hemoglobin
            hb.points.append((on, _f(q.value), q.comparator or ""))
            if r.id == case.id and q.reference_range is not None:
                hb_lln = q.reference_range.low
        if e.labs is not None and e.labs.creatinine is not None:
            q = e.labs.creatinine
            cr.points.append((on, _f(q.value), q.comparator or ""))
            if r.id == case.id and q.reference_range is not None:
                cr_uln = q.reference_range.high
        flc = r.response.get("flc") or {}
        if isinstance(flc.get("ratio"), int | float):
            ratio.points.append((on, float(flc["ratio"]), ""))
    for series in (m, ratio, hb, cr):
        # One point a day, as serial memory reads a day of several records: each result from the
        # latest record that has it (a corrected result resent supersedes the first; never both drawn).
        by_day = {point[0]: point for point in series.points}  # records come oldest first
        series.points[:] = [by_day[day] for day in sorted(by_day)]
    if hb_lln is not None:
        hb.thresholds.append(Threshold(_f(hb_lln), "LLN (laboratory)"))
        # ref: §2.1 A — more than 20 g/L below the LLN.
        hb.thresholds.append(Threshold(_f(hb_lln - R.HEMOGLOBIN_BELOW_LLN_G_L), "LLN − 20 g/L (§2.1 A)"))
    if cr_uln is not None:
        cr.thresholds.append(Threshold(_f(cr_uln), "ULN (laboratory)"))
    interval = (case.response.get("flc") or {}).get("reference_interval") or {}
    if isinstance(interval.get("low"), int | float) and isinstance(interval.get("high"), int | float):
        # ref: §4 — the κ/λ interval in force for this case (assay, renal function, or the lab's own).
        ratio.band = (float(interval["low"]), float(interval["high"]), str(interval.get("basis") or ""))
    else:
        ratio.note = "No FLC ratio interval in force for this case (no FLC result)."
    return [m, ratio, hb, cr]


def svg(series: Series) -> str:
    """One chart as an SVG document (no XML prolog: it is inlined in the page). Drawing one takes a
    few hundred milliseconds, so charts are kept by their content (the same data draws the same)."""
    return _svg(
        series.name,
        series.title,
        series.unit,
        tuple(series.points),
        tuple((t.value, t.label) for t in series.thresholds),
        series.band,
    )


@functools.lru_cache(maxsize=256)
def _svg(
    name: str,
    title: str,
    unit: str,
    points: tuple[tuple[date, float, str], ...],
    thresholds: tuple[tuple[float, str], ...],
    band: tuple[float, float, str] | None,
) -> str:
    series = Series(name, title, unit, list(points), [Threshold(v, t) for v, t in thresholds], band)
    fig = Figure(figsize=(6.4, 2.8), dpi=100)
    ax = fig.add_subplot()
    ax.set_title(f"{series.title} ({series.unit})", fontsize=11)
    if series.band is not None:
        low, high, _basis = series.band
        span = ax.axhspan(low, high, color="#9ecae1", alpha=0.45, label=f"interval in force {low:g}–{high:g}")
        span.set_gid(f"band-{series.name}")
    styles = ["--", ":", "-.", (0, (5, 1))]
    for n, t in enumerate(series.thresholds):
        line = ax.axhline(
            t.value, color="#b30000", linestyle=styles[n % len(styles)], linewidth=1.2, label=t.label
        )
        line.set_gid(f"threshold-{series.name}-{n}")
    if series.points:
        xs = [mdates.date2num(p[0]) for p in series.points]
        ys = [p[1] for p in series.points]
        (line,) = ax.plot(xs, ys, color="#08306b", marker="o", markersize=6, linewidth=1.5, label="result")
        line.set_gid(f"points-{series.name}")
        for (_, y, comp), x in zip(series.points, xs, strict=True):
            if comp:
                ax.annotate(f"{comp}{y:g}", (x, y), textcoords="offset points", xytext=(4, 6), fontsize=8)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
        if len(xs) == 1:
            ax.set_xlim(xs[0] - 30, xs[0] + 30)
    else:
        ax.text(0.5, 0.5, "no results stored", transform=ax.transAxes, ha="center", va="center")
    ax.tick_params(labelsize=8)
    for label in ax.get_xticklabels():
        label.set_rotation(20)
    ax.grid(True, color="#dddddd", linewidth=0.6)
    if ax.get_legend_handles_labels()[0]:  # nothing labelled (no result, no line): no empty legend
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    buf = io.StringIO()
    with _LOCK:
        matplotlib.rcParams["svg.hashsalt"] = f"mgi-{series.name}"
        fig.savefig(buf, format="svg")
    text = buf.getvalue()
    # The figure's text alternative is on its container (role=img, aria-label): the drawing is hidden.
    return '<svg aria-hidden="true" focusable="false"' + text[text.index("<svg") + 4 :]


def charts(records: list[Record], case: Record) -> list[dict[str, Any]]:
    """Every chart of the case page: {name, title, svg, points, thresholds, note}."""
    out = []
    for s in series_of(records, case):
        out.append(
            {
                "name": s.name,
                "title": s.title,
                "unit": s.unit,
                "svg": svg(s),
                "points": [(d.isoformat(), v, c) for d, v, c in s.points],
                "thresholds": [t.label for t in s.thresholds],
                "band": s.band,
                "note": s.note,
            }
        )
    return out
