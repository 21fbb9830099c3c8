"""Risk models (clinical-reference §3.1, §3.3, §3.4).

"Not measured" is never "absent": an unknown factor leaves the group open between the groups it
could give, and the model names the data that would settle it.
"""

from __future__ import annotations

from decimal import Decimal

from . import ruleset as R
from .facts import ASSAY_WORDS, Facts, attributable_spike, flow_leaves_60_open
from .panel import HeavyChain
from .quantity import INF, Interval, ge, gt, lt
from .results import Code, RiskFactor, RiskResult
from .tri import Tri, any_of, either
from .words import FACTOR_WORDS, field_words, group_words

MGUS_MODEL_CODES = frozenset({Code.MGUS_NON_IGM, Code.MGUS_IGM})
SRC_MAYO = R.src(R.MAYO_MGUS_2005, "§3.1")
SRC_2018 = R.src(R.MAYO_SMM_2018, "§3.3")
SRC_2020 = R.src(R.IMWG_SMM_2020, "§3.4")


_STATUS = {True: "present", False: "absent", None: "unknown"}
_status = _STATUS.__getitem__


def _flc_needs(f: Facts) -> tuple[str, ...]:
    """The free light chains that would settle an open FLC factor: those not sent, sent as a bound or
    sent as 0 (never a chain already given exactly and above 0), else both."""
    fl = f.panel.flc
    if fl is None:
        return ("flc.kappa", "flc.lambda")
    open_ = tuple(
        n
        for n, q in (("flc.kappa", fl.kappa), ("flc.lambda", fl.lambda_))
        # A chain of 0 mg/L gives no ratio: it is what is needed again (as the assay's detection limit).
        if q is None or not q.interval.exact or q.interval.hi == 0
    )
    return open_ or ("flc.kappa", "flc.lambda")


def bmpc_for_risk(f: Facts) -> Interval | None:
    """The marrow plasma-cell figure the SMM models score: the figure sent, or, beside a flow figure of
    >= 60 % above it (the >= 60 % criterion left open, §2.1 S, §2.9: flow under-estimates), anything from
    that figure up: the bands it could reach stay open instead of scored from a figure the answer
    itself says may be too low."""
    b = f.bmpc
    # ref: §2.1 S, §2.9 — flow under-estimates: the figure is a lower bound of the marrow burden.
    if b is not None and flow_leaves_60_open(f):
        return Interval(b.lo, Decimal(100), b.lo_open, False)
    return b


def _value(iv: Interval | None) -> Decimal | None:
    return None if iv is None else iv.lo if iv.exact else None


def _not_applicable(model: str, source: str, reason: str) -> RiskResult:
    return RiskResult(model, False, None, (), reason, (), source)


def _factor_groups(
    model: str,
    source: str,
    factors: list[tuple[RiskFactor, Tri, tuple[str, ...]]],
    groups: tuple[tuple, ...],
    outcome_keys: tuple[str, str],
) -> RiskResult:
    """Count present factors; unknown ones open the group over every count they allow."""
    present = unknown = 0
    needs: list[str] = []
    for _, t, need in factors:
        if t is True:
            present += 1
        elif t is None:
            unknown += 1
            needs.extend(need)
    needed = tuple(needs)
    top = len(groups) - 1
    if unknown:
        possible = tuple(dict.fromkeys(groups[min(n, top)][0] for n in range(present, present + unknown + 1)))
    else:
        possible = (groups[min(present, top)][0],)
    if len(possible) == 1:
        g = groups[min(present, top)]
        outcomes = {outcome_keys[0]: g[1], outcome_keys[1]: g[2]}
        reason = None
        if unknown:
            reason = "unknown factor(s) cannot change the group"
        return RiskResult(
            model,
            True,
            g[0],
            possible,
            reason,
            tuple(f for f, _, _ in factors),
            source,
            outcomes,
            present,
            present + unknown,
            bool(unknown),
            needed,
        )
    undecided = ", ".join(
        FACTOR_WORDS.get(f.id, f.id) + _undecided_why(f, need) for f, t, need in factors if t is None
    )
    reason = (
        f"{unknown} factor(s) unknown ({undecided}): the group lies between {group_words(possible[0])} and "
        f"{group_words(possible[-1])}; needed: {', '.join(field_words(n) for n in needed)}"
    )
    return RiskResult(
        model,
        True,
        None,
        possible,
        reason,
        tuple(f for f, _, _ in factors),
        source,
        {},
        present,
        present + unknown,
        bool(unknown),
        needed,
    )


def _undecided_why(f: RiskFactor, need: tuple[str, ...]) -> str:
    if "flc.assay" in need:
        return (
            " (a non-Freelite ratio that the model's Freelite cut-offs and the assay's own interval judge "
            "differently)"
        )
    if f.id == "bmpc_gt_20_percent" and f.value is not None:
        # The marrow figure is a number, never a bound: open only beside a flow figure >= 60 % above it.
        return " (a flow-cytometry figure of 60 % or more above it: the trephine count decides)"
    return " (reported as a bound that does not settle it)" if f.value is not None else ""


def _smm_only_text(code: Code) -> str:
    if code is Code.SMOLDERING_MYELOMA_LIGHT_CHAIN:
        return "light-chain smouldering myeloma is not defined in IMWG 2014 (§2.7): model not applied"
    return f"applies to smouldering myeloma only; the category is {_category_words(code)}"


def _mgus_only_text(code: Code) -> str:
    if code is Code.MGUS_LIGHT_CHAIN:
        return "derived in heavy-chain MGUS; not applied to light-chain MGUS"
    return f"applies to MGUS (non-IgM or IgM) only; the category is {_category_words(code)}"


def _category_words(code: Code) -> str:
    """The category as a reader names it (never the code)."""
    from .classify import LABELS  # classify does not import this module

    label = LABELS[code]
    return label[0].lower() + label[1:] if not label.startswith(("IgM", "Non-IgM")) else label


# Why a model does not apply, per category: fixed texts, built once.
_SMM_ONLY = {code: _smm_only_text(code) for code in Code}
_MGUS_ONLY = {code: _mgus_only_text(code) for code in Code}


def mgus_mayo_2005(f: Facts, code: Code) -> RiskResult:
    """Mayo 2005 MGUS risk (§3.1): M-protein ≥ 15 g/L, non-IgG, FLC ratio < 0.26 or > 1.65."""
    model = "mgus_mayo_2005"
    if code not in MGUS_MODEL_CODES:
        return _not_applicable(model, SRC_MAYO, _MGUS_ONLY[code])
    # ref: §5 — an IgG M-protein within the IVIg window is unreliable: the factor stays unknown.
    mp = None if f.ivig_igg else f.serum_mp
    # ref: §3.1 — serum M-protein ≥ 15 g/L.
    t_mp = ge(mp.interval, R.MAYO_MGUS_M_PROTEIN_G_L) if mp is not None else None
    need_mp = ("spep.m_protein",)
    # ref: §3.1 — non-IgG isotype (a biclonal gammopathy with any non-IgG clone counts).
    t_iso: Tri = any(h is not HeavyChain.IGG for h in f.heavy_chains) if f.heavy_chains else None
    # ref: §3.1 — abnormal FLC ratio: < 0.26 or > 1.65 (the model's own cut-offs).
    t_flc = (
        either(lt(f.ratio, R.MAYO_MGUS_FLC_RATIO_LOW), gt(f.ratio, R.MAYO_MGUS_FLC_RATIO_HIGH))
        if f.ratio is not None
        else None
    )
    need_flc: tuple[str, ...] = _flc_needs(f)
    flc = f.flc
    if t_flc is not None and flc is not None and flc.assay != "freelite" and t_flc is not flc.abnormal:
        # ref: §3.1 / §4 — the model's cut-offs are Freelite-based: with another assay the factor is known
        # only when the assay's own interval gives the same verdict; otherwise unknown (a Freelite
        # measurement settles it), and the group is open.
        t_flc, need_flc = None, ("flc.assay",)
    factors = [
        (
            RiskFactor("m_protein_ge_15_g_l", _status(t_mp), mp.value if mp else None, "g/L", ">= 15 g/L"),
            t_mp,
            need_mp,
        ),
        (
            RiskFactor(
                "non_igg_isotype",
                _status(t_iso),
                " + ".join(f.clone_labels) or None,
                None,
                "IgA, IgM, IgD or IgE",
            ),
            t_iso,
            ("serum_ife",),
        ),
        (
            RiskFactor(
                "abnormal_flc_ratio",
                _status(t_flc),
                _value(f.ratio),
                "ratio",
                "< 0.26 or > 1.65 (the model's own cut-offs, whatever FLC interval is in force)",
            ),
            t_flc,
            need_flc,
        ),
    ]
    return _factor_groups(
        model,
        SRC_MAYO,
        factors,
        R.MAYO_MGUS_GROUPS,
        ("progression_20y_percent", "progression_20y_competing_death_percent"),
    )


def smm_mayo_2018(f: Facts, code: Code) -> RiskResult:
    """Mayo 2018 '20/2/20' (§3.3): BMPC > 20 %, M-protein > 20 g/L, involved/uninvolved ratio > 20."""
    model = "smm_mayo_2018"
    if code is not Code.SMOLDERING_MYELOMA:
        return _not_applicable(model, SRC_2018, _SMM_ONLY[code])
    bmpc = bmpc_for_risk(f)
    t_bm = gt(bmpc, R.SMM_2018_BMPC_PERCENT) if bmpc is not None else None
    # ref: §3.3 — the smouldering clone's M-protein: in a biclonal IgM + non-IgM gammopathy the total
    # spike only bounds it (attributable_spike), so "> 20 g/L" may stay open.
    spike, _ = attributable_spike(f)
    t_mp = gt(spike.interval, R.SMM_2018_M_PROTEIN_G_L) if spike else None
    t_flc = gt(f.iu, R.SMM_2018_FLC_RATIO) if f.iu is not None else None
    factors = [
        (
            RiskFactor("bmpc_gt_20_percent", _status(t_bm), _value(f.bmpc), "%", "> 20 %"),
            t_bm,
            ("marrow.clonal_plasma_cells_percent",),
        ),
        (
            RiskFactor(
                "m_protein_gt_20_g_l",
                _status(t_mp),
                f.serum_mp.value if f.serum_mp else None,
                "g/L",
                "> 20 g/L",
            ),
            t_mp,
            ("spep.m_protein",),
        ),
        (
            RiskFactor("flc_ratio_gt_20", _status(t_flc), _value(f.iu), "ratio", "involved/uninvolved > 20"),
            t_flc,
            _flc_needs(f),
        ),
    ]
    return _factor_groups(
        model, SRC_2018, factors, R.SMM_2018_GROUPS, ("median_ttp_months", "progression_2y_percent")
    )


def _hits(iv: Interval, band: R.Band) -> bool:
    """Whether any value of ``iv`` falls in ``band`` (intersection of two intervals is non-empty)."""
    band_lo_open, band_hi_open = not band.lo_closed, band.hi == INF
    if iv.lo != band.lo:
        lo, lo_open = (iv.lo, iv.lo_open) if iv.lo > band.lo else (band.lo, band_lo_open)
    else:
        lo, lo_open = iv.lo, iv.lo_open or band_lo_open
    if iv.hi != band.hi:
        hi, hi_open = (iv.hi, iv.hi_open) if iv.hi < band.hi else (band.hi, band_hi_open)
    else:
        hi, hi_open = iv.hi, iv.hi_open or band_hi_open
    return lo < hi or (lo == hi and not lo_open and not hi_open)


def _points(iv: Interval | None, bands: tuple[R.Band, ...]) -> tuple[int, int]:
    """Lowest and highest points the result allows (all bands when unknown)."""
    if iv is None:
        return bands[0].points, bands[-1].points
    pts = [b.points for b in bands if _hits(iv, b)]
    if not pts:  # an empty range of values (contradictory bound): nothing is known
        return bands[0].points, bands[-1].points
    return min(pts), max(pts)


def _group_2020(total: int) -> tuple[str, str]:
    name, rate = R.SMM_2020_GROUPS[0][0], R.SMM_2020_GROUPS[0][2]
    for g, lowest, r in R.SMM_2020_GROUPS:
        if total >= lowest:
            name, rate = g, r
    return name, rate


def smm_imwg_2020(f: Facts, code: Code) -> RiskResult:
    """IMWG 2020 SMM score (§3.4): points by band; without FISH the score is a lower bound."""
    model = "smm_imwg_2020"
    if code is not Code.SMOLDERING_MYELOMA:
        return _not_applicable(model, SRC_2020, _SMM_ONLY[code])
    factors, lo_total, hi_total, needed = _scored_2020(f)
    fish = _fish_2020(f)
    if fish.points_max is not None:  # not reported: 0 to 2 points
        needed.append("cytogenetics")
    factors.append(fish)
    lo_total += fish.points or 0
    hi_total += fish.points_max if fish.points_max is not None else fish.points or 0
    possible = tuple(dict.fromkeys(_group_2020(t)[0] for t in range(lo_total, hi_total + 1)))
    if len(possible) == 1:
        name, rate = _group_2020(lo_total)
        reason = None if lo_total == hi_total else "unknown inputs cannot change the group"
        outcomes: dict[str, object] = {"progression_2y_percent": float(rate)}
    else:
        name, outcomes = None, {}
        reason = (
            f"score {lo_total} is a lower bound (at most {hi_total}): the group lies between "
            f"{group_words(possible[0])} and {group_words(possible[-1])}; needed: "
            f"{', '.join(field_words(n) for n in needed)}"
        )
    return RiskResult(
        model,
        True,
        name,
        possible,
        reason,
        tuple(factors),
        SRC_2020,
        outcomes,
        lo_total,
        hi_total,
        lo_total != hi_total if name is not None else True,
        tuple(needed),
    )


def _scored_2020(f: Facts) -> tuple[list[RiskFactor], int, int, list[str]]:
    """§3.4: the banded variables (FLC ratio, M-protein, BMPC), each scored as a range of points when
    its value is a bound or missing."""
    spike, _ = attributable_spike(f)  # ref: §3.4 — the smouldering clone's M-protein (see smm_mayo_2018)
    mp_iv = spike.interval if spike else None
    variables = (
        (
            "flc_ratio",
            f.iu,
            R.SMM_2020_FLC_BANDS,
            "ratio",
            "<=10: 0; >10-25: 2; >25-40: 3; >40: 5",
            _flc_needs(f),
        ),
        (
            "m_protein",
            mp_iv,
            R.SMM_2020_M_PROTEIN_BANDS,
            "g/L",
            "<=15 g/L: 0; >15-30: 3; >30: 4 (exactly 30 g/L scores 3)",
            ("spep.m_protein",),
        ),
        (
            "bmpc",
            bmpc_for_risk(f),
            R.SMM_2020_BMPC_BANDS,
            "%",
            "<=15: 0; >15-20: 2; >20-30: 3; >30-40: 5; >40: 6",
            ("marrow.clonal_plasma_cells_percent",),
        ),
    )
    factors: list[RiskFactor] = []
    lo_total = hi_total = 0
    needed: list[str] = []
    for vid, iv, bands, unit, thr, need in variables:
        lo, hi = _points(iv, bands)
        lo_total += lo
        hi_total += hi
        known = iv is not None and lo == hi
        if not known:
            needed.extend(need)
        factors.append(
            RiskFactor(
                vid, "scored" if known else "unknown", _value(iv), unit, thr, lo, None if known else hi
            )
        )
    return factors, lo_total, hi_total, needed


def _fish_2020(f: Facts) -> RiskFactor:
    """§3.4: high-risk FISH, scored 0 to 2 points while unknown."""
    cg = f.panel.cytogenetics
    fish_vals = (cg.t_4_14, cg.t_14_16, cg.gain_1q, cg.del_13q) if cg else (None,) * 4
    fish = any_of(fish_vals)
    # ref: §3.4 — any of t(4;14), t(14;16), +1q, del(13q) → 2 points; without FISH data the score
    # is computed without that term and reported as a lower bound.
    fish_lo = R.SMM_2020_FISH_POINTS if fish is True else 0
    fish_hi = 0 if fish is False else R.SMM_2020_FISH_POINTS
    return RiskFactor(
        "high_risk_fish",
        _status(fish),
        fish,
        None,
        "t(4;14), t(14;16), +1q or del(13q): 2",
        fish_lo,
        None if fish is not None else fish_hi,
    )


def assess(f: Facts, code: Code) -> dict[str, RiskResult]:
    """Every risk model, in contract order."""
    out = {
        "mgus_mayo_2005": mgus_mayo_2005(f, code),
        "smm_mayo_2018": smm_mayo_2018(f, code),
        "smm_imwg_2020": smm_imwg_2020(f, code),
    }
    if f.flc is not None and f.flc.assay != "freelite" and f.iu is not None:
        # §3.3, §3.4: the models' FLC-ratio cut-offs were derived on Freelite results; a ratio from
        # another assay scores them as given, and the answer says so (never silently as Freelite).
        caveat = (
            f"the FLC ratio is from {ASSAY_WORDS.get(f.flc.assay, f.flc.assay)}, while the model's FLC "
            "cut-offs were derived on Freelite results: a Freelite ratio may score differently"
        )
        for name in ("smm_mayo_2018", "smm_imwg_2020"):
            r = out[name]
            if r.applies:
                r.reason = (
                    f"{r.reason.rstrip('.')}; {caveat}." if r.reason else f"{caveat[0].upper()}{caveat[1:]}."
                )
    return out
