"""Serum free light chains: ratio, the interval in force and the involved chain (clinical-reference §4)."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from .panel import Clinical, Flc, Labs, LightChain
from .quantity import INF, Interval, Quantity, ge, gt, lt
from .results import FlcSummary
from .ruleset import FLC_INTERVALS, FLC_RENAL_CUTOFF, FlcAssay, FlcInterval
from .tri import Tri, either


def _span(i: FlcInterval) -> str:
    return f"{i.ratio_low}-{i.ratio_high}"


# ref: §4 — the two Freelite intervals a ratio is judged against while renal function is undecided,
# worded from their rows in ruleset.FLC_INTERVALS.
_NORMAL_SPAN = _span(FLC_INTERVALS["freelite"])
_RENAL_SPAN = _span(FLC_INTERVALS["freelite_renal"])
_CUT = f"{FLC_RENAL_CUTOFF:g}"
BOTH_INTERVALS_NOTE = (
    f"Renal function was given but does not decide eGFR or CrCl < {_CUT} (an eGFR or clearance "
    "bound, or a creatinine without an estimate): the ratio was judged against both the "
    f"normal-renal ({_NORMAL_SPAN}) and the renal-impairment ({_RENAL_SPAN}) Freelite intervals "
    "(clinical-reference §4)."
)
CREATININE_RENAL_NOTE = (
    "Neither eGFR nor creatinine clearance was given, and no eGFR could be estimated (age or sex not "
    f"given): the creatinine gives a CKD-EPI 2021 eGFR below {_CUT} at whatever adult age and sex the "
    f"request leaves open, so the Freelite renal-impairment interval ({_RENAL_SPAN}) was applied "
    "(clinical-reference §2.1 R, §4)."
)
CREATININE_NORMAL_NOTE = (
    "Neither eGFR nor creatinine clearance was given, and no eGFR could be estimated (age or sex not "
    f"given): the creatinine gives a CKD-EPI 2021 eGFR of {_CUT} or more at whatever adult age and sex "
    f"the request leaves open, so the normal-renal-function interval ({_NORMAL_SPAN}) was applied "
    "(clinical-reference §2.1 R, §4)."
)
SPLIT_NOTE = (
    "The FLC ratio is abnormal against one Freelite interval and not against the other: it is "
    f"undetermined until an exact eGFR or creatinine clearance decides eGFR/CrCl < {_CUT} (§4)."
)
SPLIT_BASIS = (
    f"undetermined: Freelite normal-renal ({_NORMAL_SPAN}) or renal-impairment ({_RENAL_SPAN}) interval, "
    f"depending on eGFR or CrCl < {_CUT}"
)


def renal_impairment(labs: Labs | None) -> Tri:
    """eGFR < 60 or CrCl < 60 (§4): None when neither settles it."""
    if labs is None:
        return None
    # ref: §4 — the Freelite renal interval is the default when eGFR < 60 or CrCl < 60.
    egfr, crcl = labs.egfr, labs.creatinine_clearance
    if egfr is None:
        return None if crcl is None else lt(crcl.interval, FLC_RENAL_CUTOFF)
    if crcl is None:
        return lt(egfr.interval, FLC_RENAL_CUTOFF)
    return either(lt(egfr.interval, FLC_RENAL_CUTOFF), lt(crcl.interval, FLC_RENAL_CUTOFF))


def esrd_reported(clinical: Clinical | None) -> bool:
    """End-stage renal disease reported (clinical.end_stage_renal_disease)."""
    return clinical is not None and clinical.end_stage_renal_disease is True


ESRD_RENAL_NOTE = (
    f"End-stage renal disease reported: renal impairment (eGFR or CrCl < {_CUT}), so the Freelite "
    f"renal-impairment interval ({_RENAL_SPAN}) was applied (clinical-reference §4)."
)
ESRD_CONFLICT_NOTE = (
    f"End-stage renal disease is reported but the eGFR or creatinine clearance sent is {_CUT} or more: "
    f"the two disagree, so the ratio was judged against both the normal-renal ({_NORMAL_SPAN}) and the "
    f"renal-impairment ({_RENAL_SPAN}) Freelite intervals (clinical-reference §4)."
)


def renal_given(labs: Labs | None) -> bool:
    """Whether an eGFR or a creatinine clearance was sent (decisive or not)."""
    return labs is not None and (labs.egfr is not None or labs.creatinine_clearance is not None)


def _choose_interval(
    flc: Flc,
    labs: Labs | None,
    clinical: Clinical | None,
    notes: list[str],
    undecided: bool = False,
    renal: Tri = None,
) -> tuple[FlcInterval | None, bool]:
    """The ratio interval in force and whether it is the renal one. ``renal``: renal impairment as
    the labs (or a creatinine alone, facts) say; None when nothing decides it."""
    if flc.ratio_reference_range is not None:
        low, high = flc.ratio_reference_range
        default = FLC_INTERVALS.get(flc.assay)
        return FlcInterval(
            low,
            high,
            "laboratory ratio interval sent with the request",
            default.kappa if default else None,
            default.lambda_ if default else None,
        ), False
    if flc.assay is FlcAssay.FREELITE:
        if renal is True:
            return FLC_INTERVALS["freelite_renal"], True
        if esrd_reported(clinical):
            if renal is None:
                # ref: §4 — end-stage renal disease is renal impairment: the renal interval applies.
                notes.append(ESRD_RENAL_NOTE)
                return FLC_INTERVALS["freelite_renal"], True
            notes.append(ESRD_CONFLICT_NOTE)  # undecided: judged against both intervals
            return FLC_INTERVALS["freelite"], False
        if renal is None and undecided:
            notes.append(BOTH_INTERVALS_NOTE)
        elif renal is None:
            notes.append(
                "Renal function (eGFR or creatinine clearance) not given or not decisive: the "
                "normal-renal-function FLC ratio interval was applied."
            )
        return FLC_INTERVALS["freelite"], False
    if flc.assay is FlcAssay.SEBIA:
        if clinical is not None and clinical.end_stage_renal_disease is True:
            return FLC_INTERVALS["sebia_end_stage_renal"], True
        if renal is True:
            notes.append(
                "Renal impairment reported: the Sebia end-stage-renal interval (0.46-2.23) applies only "
                "when end-stage renal disease is reported (the ruleset holds no eGFR cut-off for "
                "end-stage disease); the standard Sebia interval was applied."
            )
        return FLC_INTERVALS["sebia"], False
    if flc.assay is FlcAssay.N_LATEX:
        if renal is True:
            notes.append(
                "Renal impairment reported, but no renal-specific interval is published for the "
                "N Latex assay in the ruleset: the standard interval was applied."
            )
        return FLC_INTERVALS["n_latex"], False
    notes.append(
        "Another FLC assay than Freelite, N Latex or Sebia has no default interval: send the laboratory's "
        "ratio interval with the request to assess the ratio."
    )
    return None, False


@lru_cache(maxsize=64)
def _marked(low: Decimal, high: Decimal) -> Decimal:
    # Depends on the interval only (a handful per laboratory): computed once per interval.
    return max(high, INF if low == 0 else 1 / low)


def _uln(q: Quantity, default: tuple[Decimal, Decimal] | None) -> Decimal | None:
    if q.reference_range is not None:
        return q.reference_range.high
    return default[1] if default else None


def _undetermined(
    flc: Flc, interval: FlcInterval | None, renal: bool, notes: list[str], why: str
) -> tuple[FlcSummary, None, None]:
    """The summary when no κ/λ ratio can be formed: the interval in force, nothing else."""
    notes.append(why)
    return (
        FlcSummary(
            None,
            None,
            None,
            interval.ratio_low if interval else None,
            interval.ratio_high if interval else None,
            _basis(interval),
            None,
            None,
            None,
            None,
            None,
            None,
            str(flc.assay),
            renal,
            tuple(notes),
        ),
        None,
        None,
    )


def _basis(interval: FlcInterval | None) -> str:
    return interval.basis if interval else "no interval for this assay"


def summarize(
    flc: Flc | None,
    labs: Labs | None,
    clinical: Clinical | None,
    clone_light_chain: LightChain | None,
    creatinine_only: bool = False,
    creatinine_renal: Tri = None,
) -> tuple[FlcSummary | None, Interval | None, Interval | None]:
    """FLC summary, the κ/λ ratio interval and the involved/uninvolved ratio interval (None when not
    determined). ``creatinine_only``: a creatinine was sent without an eGFR, clearance or estimate;
    ``creatinine_renal``: whether it means an eGFR < 60 at every plausible age and sex (True), at none
    (False), or is undecided (None; facts)."""
    if flc is None:
        return None, None, None
    notes: list[str] = []
    # ref: §4 — renal data that were sent but do not decide eGFR/CrCl < 60 leave the Freelite interval
    # undetermined: the verdict stands only where both intervals agree (finding of a bound like "< 90").
    lab_renal = renal_impairment(labs)
    esrd = esrd_reported(clinical)
    creatinine_open = creatinine_only and creatinine_renal is None
    if creatinine_only and creatinine_renal is not None and lab_renal is None and not esrd:
        # A reported end-stage renal disease keeps deciding on its own (ESRD_RENAL_NOTE).
        lab_renal = creatinine_renal
        notes.append(CREATININE_RENAL_NOTE if creatinine_renal else CREATININE_NORMAL_NOTE)
    undecided = (
        flc.assay is FlcAssay.FREELITE
        and flc.ratio_reference_range is None
        and (
            (lab_renal is None and not esrd and (creatinine_open or renal_given(labs)))
            or (lab_renal is False and esrd)  # the labs and the reported end-stage disease disagree
        )
    )
    interval, renal = _choose_interval(flc, labs, clinical, notes, undecided, lab_renal)
    basis = _basis(interval)
    kappa, lam = flc.kappa, flc.lambda_
    if kappa is None or lam is None:
        return _undetermined(flc, interval, renal, notes, "Both kappa and lambda are needed for the ratio.")
    if kappa.interval.hi == 0 and lam.interval.hi == 0:
        # 0/0: both chains at zero (or below a zero bound) give no ratio at all.
        return _undetermined(
            flc,
            interval,
            renal,
            notes,
            "Both light chains are zero: the ratio is undetermined. Send each as the assay's detection "
            "limit ('< x mg/L').",
        )
    zero = [n for n, q in (("kappa", kappa), ("lambda", lam)) if q.interval.hi == 0]
    if zero:
        notes.append(
            f"Free {zero[0]} reported as 0 mg/L: a ratio with it as the uninvolved chain is unbounded, and "
            "the risk models' FLC-ratio factors stay open; send it as the assay's detection limit "
            "('< x mg/L')."
        )
    ratio_iv = kappa.interval.over(lam.interval)
    inverse_iv = lam.interval.over(kappa.interval)  # λ/κ, divided exactly as κ/λ is
    abnormal: Tri = None
    above: Tri = None
    below: Tri = None
    if interval is not None:
        # ref: §4 / §2.6 — abnormal = outside the interval in force (< low or > high).
        below = lt(ratio_iv, interval.ratio_low)
        above = gt(ratio_iv, interval.ratio_high)
        abnormal = either(below, above)
    split = False
    if undecided and abnormal is not None:
        other = FLC_INTERVALS["freelite_renal"]
        r_below, r_above = lt(ratio_iv, other.ratio_low), gt(ratio_iv, other.ratio_high)
        if either(r_below, r_above) is not abnormal or r_below is not below or r_above is not above:
            split = True  # the two intervals judge the ratio differently: undetermined until eGFR is known
            abnormal = below = above = None
    involved, named = _involved_chain(ratio_iv, inverse_iv, interval, clone_light_chain, above, below, notes)
    iu_iv = None
    raised: Tri = None
    if involved is LightChain.KAPPA:
        iu_iv = ratio_iv
        uln = _uln(kappa, interval.kappa if interval else None)
        raised = gt(kappa.interval, uln) if uln is not None else None
    elif involved is LightChain.LAMBDA:
        iu_iv = inverse_iv
        uln = _uln(lam, interval.lambda_ if interval else None)
        raised = gt(lam.interval, uln) if uln is not None else None
    if ratio_iv.hi == INF and ratio_iv.lo == 0:
        notes.append("Both light chains were reported as bounds: the ratio is undetermined.")
    r_exact = ratio_iv.exact
    iu_exact = iu_iv is not None and iu_iv.exact
    if split:
        notes.append(SPLIT_NOTE)
        basis = SPLIT_BASIS
    shown = None if split else interval
    summary = FlcSummary(
        ratio_iv.lo if r_exact else None,  # ratio
        None if r_exact else ratio_iv.lo,  # ratio_low
        None if r_exact or ratio_iv.hi == INF else ratio_iv.hi,  # ratio_high
        shown.ratio_low if shown else None,  # interval_low
        shown.ratio_high if shown else None,  # interval_high
        basis,
        abnormal,
        str(involved) if involved and named else None,  # involved
        iu_iv.lo if iu_iv is not None and iu_exact else None,  # involved_uninvolved_ratio
        None if iu_iv is None or iu_exact else iu_iv.lo,  # iu_low
        None if iu_iv is None or iu_exact or iu_iv.hi == INF else iu_iv.hi,  # iu_high
        raised,  # involved_raised
        str(flc.assay),  # assay
        renal,  # renal_interval
        tuple(notes),
        split or (not esrd and _renal_open(flc, lab_renal, ratio_iv, abnormal)),
    )
    return summary, ratio_iv, iu_iv


def _involved_chain(
    ratio_iv: Interval,
    inverse_iv: Interval,
    interval: FlcInterval | None,
    clone_light_chain: LightChain | None,
    above: Tri,
    below: Tri,
    notes: list[str],
) -> tuple[LightChain | None, bool]:
    """The involved light chain, and whether it is named (a normal ratio names none)."""
    # The involved chain is the clone's; without a clone, the side the ratio is abnormal on. A ratio
    # inside its interval names no involved chain, but the higher chain still gives the
    # involved/uninvolved ratio the risk models read (it is then at most the interval's top).
    named = True
    opposite = False
    if clone_light_chain is not None and interval is not None:
        # The interval is not symmetric about 1, so "the other chain is in excess" is judged against
        # both limits mirrored (max(high, 1/low)): the same threshold for a κ and a λ clone.
        marked = _marked(interval.ratio_low, interval.ratio_high)
        if clone_light_chain is LightChain.LAMBDA:
            opposite = gt(ratio_iv, marked) is True
        else:
            opposite = gt(inverse_iv, marked) is True
    if opposite:
        # The ratio is abnormal on the side opposite the clone's light chain (a second clone or
        # light-chain escape): the chain in excess is the involved one for the FLC rules and risk.
        notes.append(
            "FLC ratio abnormal on the side opposite the clone's light chain (possible second "
            "clone): the risk models read the chain in excess; a ratio of 100 or more on it is no "
            "myeloma-defining event of this clone (§2.1 Li)."
        )
        involved: LightChain | None = (
            LightChain.KAPPA if clone_light_chain is LightChain.LAMBDA else LightChain.LAMBDA
        )
    elif clone_light_chain is not None:
        involved = clone_light_chain
    elif above is True:
        involved = LightChain.KAPPA
    elif below is True:
        involved = LightChain.LAMBDA
    else:
        named = False
        if ge(ratio_iv, Decimal(1)) is True:
            involved = LightChain.KAPPA
        elif lt(ratio_iv, Decimal(1)) is True:
            involved = LightChain.LAMBDA
        else:
            involved = None
    return involved, named


def _renal_open(flc: Flc, known: Tri, ratio_iv: Interval, abnormal: Tri) -> bool:
    """Whether renal function, not given (``known`` None), would change the verdict on the ratio (§4:
    the Freelite renal interval is the default when eGFR or CrCl < 60): the category then rests on it."""
    if abnormal is None or flc.assay is not FlcAssay.FREELITE or flc.ratio_reference_range is not None:
        return False
    if known is not None:
        return False
    renal = FLC_INTERVALS["freelite_renal"]
    renal_abnormal = either(lt(ratio_iv, renal.ratio_low), gt(ratio_iv, renal.ratio_high))
    return renal_abnormal is not None and renal_abnormal is not abnormal
