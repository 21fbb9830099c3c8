"""IMWG 2014 category (clinical-reference §2.2–§2.9).

Operational choices, applied the same way everywhere:
- A category rests on the data given. Where a test that was not done could change it, the category
  is ``provisional`` and ``missing`` names what would settle it (§2.9: MGUS without a marrow result).
- ``INDETERMINATE`` is reserved for a finding that is present but cannot be placed: an M-spike with no
  immunofixation (the criteria set — IgM or not — cannot be chosen), a myeloma-defining event with no
  marrow result (§2.9), discordant results. It is never a guess between two categories.
- Not done is never read as normal: an unknown criterion is ``not_assessable`` in the output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from . import criteria as C
from . import ruleset as R
from .facts import CRAB_IDS as CRAB
from .facts import MDE_NAMES, Facts, attributable_spike, flow_leaves_60_open, single_light_chain
from .flc import esrd_reported, renal_impairment
from .panel import HeavyChain, IfeResult
from .quantity import ZERO, band_below_limit, ge, gt
from .results import Code
from .tri import Tri, any_of, both, either, negate

MARROW = "marrow.clonal_plasma_cells_percent"
# ref: §4 — renal function decides which Freelite ratio interval applies (eGFR or CrCl < 60).
RENAL = "labs.egfr"

LABELS = {
    Code.NO_MONOCLONAL_PROTEIN: "No monoclonal protein detected",
    Code.MGUS_NON_IGM: "Non-IgM monoclonal gammopathy of undetermined significance (MGUS)",
    Code.MGUS_IGM: "IgM monoclonal gammopathy of undetermined significance (IgM MGUS)",
    Code.MGUS_LIGHT_CHAIN: "Light-chain monoclonal gammopathy of undetermined significance",
    Code.SMOLDERING_MYELOMA: "Smouldering multiple myeloma",
    Code.SMOLDERING_MYELOMA_LIGHT_CHAIN: (
        "Light-chain smouldering myeloma (idiopathic Bence Jones proteinuria; working definition, "
        "not part of IMWG 2014)"
    ),
    Code.MULTIPLE_MYELOMA: "Multiple myeloma",
    Code.WALDENSTROM_RANGE: "Waldenström range",
    Code.SOLITARY_PLASMACYTOMA: "Solitary plasmacytoma",
    Code.INDETERMINATE: "Indeterminate",
}


@dataclass(slots=True)
class Outcome:
    """A category decision with its reasons and the data that would settle or confirm it."""

    code: Code
    isotype: str | None
    label: str = ""
    provisional: bool = False
    reasons: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    igm_logic: bool = False
    refer: bool = False  # an INDETERMINATE outcome that needs haematology, not only more data
    repeat_flc: bool = False  # an FLC finding that no clone explains: repeat the FLC and IFE
    trephine: bool = False  # a flow figure above a marrow figure below 10 %: the trephine count (§2.9)

    def __post_init__(self) -> None:
        if not self.label:
            self.label = LABELS[self.code]


_IGG_IGA = (HeavyChain.IGG, HeavyChain.IGA)
# Reasons worded from the criteria's rows, built once: a cut-off is never typed a second time.
_SERUM_30 = C.stated(C.SERUM_30, "serum M-protein")
_SERUM_UNDER_30 = C.stated(C.SERUM_30, "serum M-protein", met=False)
_URINE_500 = C.stated(C.URINE_500, "urine M-protein")
_CLONAL_10 = C.stated(C.BMPC_10, "clonal BMPC")
_CLONAL_UNDER_10 = C.stated(C.BMPC_10, "clonal BMPC", met=False)
_BMPC_10 = C.stated(C.BMPC_10, "BMPC")
_BMPC_UNDER_10 = C.stated(C.BMPC_10, "BMPC", met=False)
_IGM_30 = C.stated(C.IGM_30, "IgM M-protein")
_IGM_UNDER_30 = C.stated(C.IGM_30, "IgM M-protein", met=False)
_LPL_10 = C.stated(C.LPL_10, "lymphoplasmacytic infiltration")
_LPL_UNDER_10 = C.stated(C.LPL_10, "infiltration", met=False)


def _no_amyloidosis(f: Facts, amyloidosis: Tri, row: C.Row) -> None:
    """Record the "no amyloidosis" criterion once (a biclonal IgM + non-IgM panel reaches both the
    myeloma and the IgM criteria)."""
    if any(c.id == row.id for c in f.criteria):
        return
    row.record(
        f, negate(amyloidosis), amyloidosis, None, None, None if amyloidosis is not None else C.NOT_REPORTED
    )


def _urine_field(f: Facts) -> str:
    """What would settle an open urine criterion: the immunofixation of a discordant band, or else the
    24-hour M-protein."""
    return "urine.ife" if f.urine_discordant else "urine.m_protein_24h"


def _renal_field(f: Facts) -> str:
    """What settles the renal FLC interval when it is open: the eGFR, or, when the eGFR or clearance
    sent (>= 60) and a reported end-stage renal disease disagree, the disease report."""
    if esrd_reported(f.panel.clinical) and renal_impairment(f.panel.labs) is False:
        return "clinical.end_stage_renal_disease"
    return RENAL


def flc_missing(f: Facts) -> list[str]:
    """Request fields that would let a not-assessable FLC ratio be judged."""
    fl = f.panel.flc
    if fl is None:
        return ["flc.kappa", "flc.lambda"]
    absent = [n for n, q in (("flc.kappa", fl.kappa), ("flc.lambda", fl.lambda_)) if q is None]
    if absent:
        return absent
    if f.flc is not None and f.flc.renal_open and f.flc.abnormal is None:
        return [_renal_field(f)]  # ref: §4 — the ratio is judged differently by the two Freelite intervals
    if f.flc is not None and f.flc.interval_low is None:
        return ["flc.ratio_reference_range"]  # assay 'other' without the laboratory's interval
    # Both sent, an interval in force: a chain reported as a bound leaves the ratio open.
    bounds = [
        n
        for n, q in (("flc.kappa", fl.kappa), ("flc.lambda", fl.lambda_))
        if q is not None and not q.interval.exact
    ]
    return bounds or ["flc.kappa", "flc.lambda"]


def _indeterminate(isotype: str | None, reason: str, missing: list[str] | None = None) -> Outcome:
    # api-contract: provisional when the category rests on data not yet done; an INDETERMINATE that
    # names what would settle it (no marrow, no immunofixation) rests on exactly that.
    return Outcome(
        Code.INDETERMINATE, isotype, f"Indeterminate: {reason}", bool(missing), [reason], list(missing or ())
    )


def classify(f: Facts) -> Outcome:
    """Decide the IMWG category of the panel."""
    out = _classify(f)
    if out.code is Code.NO_MONOCLONAL_PROTEIN:
        return _screen_incomplete(f, out)
    _urine_second_clone(f, out)
    if f.li_escalated and out.code is not Code.MULTIPLE_MYELOMA and "flc.assay" not in out.missing:
        # ref: §2.1 Li — a non-Freelite ratio in the SLiM range holds every other category open (MGUS
        # criteria list CRAB only, but a SLiM biomarker would make it myeloma).
        out.missing.append("flc.assay")
        out.provisional = True
    return _flow_cytometry(f, out)


def _urine_second_clone(f: Facts, out: Outcome) -> None:
    """A urine clone whose light chain no serum clone carries (free lambda in urine beside serum IgG
    kappa) is a second clone: named in the isotype and the reasons, never dropped (the urine M-protein
    may be that clone's)."""
    p = f.panel
    serum = p.serum_ife.clones if p.serum_ife is not None else ()
    urine = p.urine.ife.clones if p.urine is not None and p.urine.ife is not None else ()
    chains = {c.light_chain for c in serum}
    other = [c.label for c in urine if serum and c.light_chain not in chains]
    if not other or (out.isotype and "(urine)" in out.isotype):
        return
    shown = " + ".join(other)
    out.isotype = f"{out.isotype} + {shown} (urine)" if out.isotype else f"{shown} (urine)"
    out.reasons.append(
        f"urine immunofixation shows {shown}, a light chain no serum clone carries: a second clone "
        "(biclonal gammopathy); the urine M-protein may be that clone's"
    )


def screen_tests_not_done(f: Facts) -> list[str]:
    """The tests of a complete screen besides SPEP (§2.9) that were not done or not assessable, as test
    codes (``catalogue.TEST_WORDS`` names them)."""
    out = []
    if f.panel.serum_ife is None:
        out.append("serum_ife")
    if f.flc is None or f.flc.abnormal is None:
        out.append("flc")
    return out


def _screen_gaps(f: Facts) -> list[str]:
    """The incomplete parts of a screen, each with what is wrong with it."""
    gaps = []
    if f.panel.serum_ife is None:
        gaps.append("serum immunofixation not done")
    if f.flc is None:
        gaps.append("serum free light chains not done")
    elif f.flc.abnormal is None:
        gaps.append("serum free light chain ratio not assessable")
    return gaps


def _screen_incomplete(f: Facts, out: Outcome) -> Outcome:
    """§2.9: a negative screen is complete only with SPEP, serum immunofixation and serum FLC together."""
    gaps = _screen_gaps(f)
    clinical = f.panel.clinical
    urine = f.panel.urine
    if clinical is not None and clinical.amyloidosis is True and (urine is None or urine.ife is None):
        # ref: §2.9 — 24-hour urine immunofixation is added when AL amyloidosis is suspected.
        gaps.append("24-hour urine immunofixation not done (amyloidosis reported)")
        out.missing.append("urine.ife")
    if gaps:
        out.provisional = True
        out.label = f"No monoclonal protein detected (incomplete screen: {'; '.join(gaps)})"
    return out


def _flow_cytometry(f: Facts, out: Outcome) -> Outcome:
    """§2.9: a flow figure never meets a threshold, but at >= 10 % it rules out a final MGUS label, and
    above a figure below 10 % it asks for the trephine (CD138) count."""
    marrow = f.panel.marrow
    flow = marrow.flow_plasma_cells_percent if marrow is not None else None
    if flow is None or out.igm_logic:
        return out
    shown = f"{float(flow):g} %"
    if out.code in _SMM_CODES and f.bmpc is not None and flow_leaves_60_open(f):
        # ref: §2.1 S, §2.9 — flow >= 60 % above a marrow figure of 10-60 %: flow under-estimates, so the
        # marrow may hold the 60 % of a myeloma-defining event; smouldering myeloma at least, provisional,
        # until the trephine count (IMWG takes the higher of aspirate and biopsy) settles it.
        src = "morphology" if f.bmpc_source == "morphology" else "clonal"
        out.provisional = True
        out.trephine = True
        out.refer = True
        if MARROW not in out.missing:
            out.missing.append(MARROW)
        out.reasons.append(_flow_60_reason(shown, src, f.bmpc.lo))
        return out
    if out.code not in _FLOW_CODES:
        return out
    if f.bmpc is None and flow >= R.BMPC_MYELOMA_PERCENT:
        if out.code is not Code.SOLITARY_PLASMACYTOMA:
            res = _indeterminate(
                out.isotype,
                f"flow-cytometry plasma cells {shown} (>= 10 %) without a morphological or clonal figure: "
                "flow under-estimates the marrow burden, so MGUS (plasma cells < 10 %) cannot be the final "
                "category (§2.9)",
                [MARROW],
            )
            res.refer = flow >= R.BMPC_SLIM_PERCENT  # ref: §2.9 — urgently at >= 60 %
            return res
        # ref: §2.8 / §2.9 — a solitary plasmacytoma needs clonal BMPC < 10 %; a flow figure of >= 10 %
        # (an under-estimate) makes myeloma likely, as a morphology figure of >= 10 % does (§2.8).
        return _referred_for_marrow(
            out,
            f"biopsy-proven plasmacytoma with flow-cytometry plasma cells {shown} (>= 10 %) and no "
            "morphological or clonal figure: flow under-estimates the marrow burden, so a solitary "
            "plasmacytoma (clonal BMPC < 10 %, §2.8) cannot be the final category; myeloma likely "
            "(§2.2): marrow morphology or a clonal count (§2.9)",
        )
    morph = f.bmpc.lo if f.bmpc is not None else None
    if morph is not None and morph < R.BMPC_MYELOMA_PERCENT and flow > morph and _trephine_needed(f, flow):
        # ref: §2.9 — IMWG takes the higher of aspirate and biopsy: the trephine (CD138) count, sent as
        # the clonal figure, settles it (a clonal figure replaces the morphology one).
        src = "morphology" if f.bmpc_source == "morphology" else "clonal"
        if flow >= R.BMPC_SLIM_PERCENT:
            # ref: §2.9 (marrow asked for urgently at a flow figure >= 60 %), §2.1 S — flow
            # under-estimates: the marrow may hold 60 % or more, a myeloma-defining event, so no MGUS or
            # plasmacytoma label stands until the trephine count settles the burden.
            res = _referred_for_marrow(out, _flow_60_reason(shown, src, morph))
            res.trephine = True
            return res
        out.provisional = True
        out.trephine = True
        if MARROW not in out.missing:
            out.missing.append(MARROW)
        out.reasons.append(
            f"flow-cytometry plasma cells ({shown}) above the {src} figure "
            f"({float(morph):g} %): the trephine biopsy (CD138) plasma-cell count is needed, as IMWG "
            "takes the higher of aspirate and biopsy (§2.9)"
        )
    return out


def _flow_60_reason(shown: str, src: str, figure: Decimal) -> str:
    """§2.1 S, §2.9: why a flow figure of >= 60 % above the marrow figure asks for the trephine count."""
    return (
        f"flow-cytometry plasma cells {shown} (>= 60 %) above the {src} figure ({float(figure):g} %): "
        "flow under-estimates the marrow burden, which may reach the 60 % of a myeloma-defining event "
        "(§2.1); the trephine biopsy (CD138) plasma-cell count is needed urgently, as IMWG takes the "
        "higher of aspirate and biopsy (§2.9)"
    )


def _referred_for_marrow(out: Outcome, reason: str) -> Outcome:
    """INDETERMINATE, referred to haematology, with the marrow asked for first (and what ``out`` asked)."""
    res = _indeterminate(out.isotype, reason, [MARROW, *(m for m in out.missing if m != MARROW)])
    res.refer = True
    return res


def _trephine_needed(f: Facts, flow: Decimal) -> bool:
    """§2.9: a flow figure above a morphology figure below 10 % asks for the trephine count (whether or
    not a clonal figure was sent beside it); above a clonal figure below 10 % alone it does when the
    flow figure is >= 10 % (which rules out a final MGUS)."""
    marrow = f.panel.marrow
    morphology = marrow.plasma_cells_percent if marrow is not None else None
    return (
        f.bmpc_source == "morphology"
        or flow >= R.BMPC_MYELOMA_PERCENT
        or (morphology is not None and morphology < R.BMPC_MYELOMA_PERCENT and flow > morphology)
    )


_FLOW_CODES = frozenset({Code.MGUS_NON_IGM, Code.MGUS_LIGHT_CHAIN, Code.SOLITARY_PLASMACYTOMA})
_SMM_CODES = frozenset({Code.SMOLDERING_MYELOMA, Code.SMOLDERING_MYELOMA_LIGHT_CHAIN})


# Long by design: the order of precedence of the IMWG categories (clone present or not, immunofixation
# done or not, discordances, then the myeloma, IgM or light-chain rules) reads top to bottom; split into
# parts it would hide which exit wins.
def _classify(f: Facts) -> Outcome:
    p = f.panel
    isotype = " + ".join(f.clone_labels) or None
    spike = f.serum_mp
    spike_present: Tri = gt(spike.interval, ZERO) if spike is not None else None
    if spike is not None and p.serum_ife is None and band_below_limit(spike):
        # ref: §6 — "< 16 g/L" encodes a monoclonal peak seen but not quantified: without serum
        # immunofixation it is a spike, never "no M-spike".
        spike_present = True
    urine = p.urine
    urine_ife_pos: Tri = (urine.ife.result is IfeResult.POSITIVE) if urine and urine.ife else None
    urine_mp_present: Tri = gt(f.urine_mp.interval, ZERO) if f.urine_mp else None
    flc_abnormal = f.flc.abnormal if f.flc else None

    if f.heavy_chains:
        if any(h is not HeavyChain.IGM for h in f.heavy_chains):
            return _myeloma_logic(f, "heavy", isotype)
        return _igm_logic(f, isotype)

    plasmacytoma = p.clinical.plasmacytoma if p.clinical else None
    clonal10 = ge(f.clonal_bmpc, R.BMPC_MYELOMA_PERCENT) if f.clonal_bmpc is not None else None
    # ref: §2.9 — morphology stands in for clonal BMPC; without a monoclonal protein, though, a
    # plasmacytosis by morphology alone does not show that the plasma cells are clonal.
    morph10 = (
        ge(f.bmpc, R.BMPC_MYELOMA_PERCENT) if f.bmpc is not None and f.bmpc_source == "morphology" else None
    )
    if p.serum_ife is None:
        if True in (spike_present, urine_ife_pos, urine_mp_present, flc_abnormal):
            out = _indeterminate(
                isotype,
                "monoclonal protein found without serum immunofixation: the heavy-chain isotype "
                "(IgM, non-IgM or light chain only) decides which criteria apply",
                ["serum_ife"],
            )
            # ref: §2.3 / §2.5 — a spike of >= 30 g/L is beyond MGUS whatever the isotype (smouldering
            # myeloma, the Waldenström range, or IgD/IgE referred): haematology, not only the IFE.
            # A bound that leaves 30 g/L possible ("< 31") is referred too.
            out.refer = spike is not None and ge(spike.interval, R.SERUM_M_PROTEIN_G_L) is not False
            return out
        # CRAB alone does not count here: without a monoclonal protein it is not attributable to a
        # plasma-cell disorder (§2.1), whereas a SLiM biomarker is itself a sign of one.
        if f.li_escalated:
            return _li_escalated_without_clone(isotype)
        if True in (plasmacytoma, clonal10, morph10, f.slim_any):
            return _indeterminate(
                isotype,
                "plasmacytoma, marrow plasmacytosis or a myeloma-defining biomarker without serum "
                "immunofixation",
                ["serum_ife"] + ([MARROW] if f.bmpc is None else []),
            )
        missing = ["serum_ife"]
        if flc_abnormal is None:
            missing += flc_missing(f)
        missing += _normal_ratio_renal_open(f, missing)
        return Outcome(
            Code.NO_MONOCLONAL_PROTEIN,
            None,
            provisional=True,
            reasons=["no M-spike or abnormal result, but serum immunofixation was not done"],
            missing=missing,
        )

    light_only = bool(p.serum_ife.clones)  # a positive serum IFE here has free-light-chain clones only
    urine_heavy = [c.label for c in (urine.ife.clones if urine and urine.ife else ()) if c.heavy_chain]
    if urine_heavy:
        return _indeterminate(
            isotype,
            f"urine immunofixation shows an intact immunoglobulin ({', '.join(urine_heavy)}) while serum "
            "immunofixation shows no heavy chain (discordant): repeat serum immunofixation",
            ["serum_ife"],
        )
    if spike_present is True and not light_only:
        return _indeterminate(
            isotype,
            "SPEP shows an M-spike but serum immunofixation is negative (discordant): repeat immunofixation",
            ["serum_ife"],
        )
    # The urine counterpart of the serum discordance above: a band that urine immunofixation finds
    # negative is not shown to be a monoclonal protein (§2.7 needs a urinary M-protein), so it places
    # no light-chain category on its own.
    urine_discordant = f.urine_discordant
    urine_signal = False if urine_discordant else urine_mp_present
    if True in (light_only, urine_ife_pos, urine_signal, flc_abnormal):
        return _myeloma_logic(f, "light_chain", isotype)
    if morph10 is True:
        return _indeterminate(
            isotype,
            "marrow plasma cells >= 10 % by morphology without a detectable monoclonal protein: "
            "clonality is not established (reactive plasmacytosis or non-secretory disease); "
            "establish light-chain restriction of the marrow plasma cells",
            ["marrow.clonal_plasma_cells_percent"],
        )
    if f.li_escalated and plasmacytoma is not True and clonal10 is not True and f.slim_any is not True:
        return _li_escalated_without_clone(isotype)
    # Clonal plasma cells below 10 % also show a clone: the reference places none without a monoclonal
    # protein, so it is never answered "no monoclonal protein" (the conservative reading).
    clonal_present = f.clonal_bmpc is not None and gt(f.clonal_bmpc, ZERO) is True
    if clonal_present and flc_abnormal is None and True not in (plasmacytoma, clonal10, f.slim_any):
        out = _myeloma_logic(f, "non_secretory", isotype)
        out.missing.extend(m for m in flc_missing(f) if m not in out.missing)  # an FLC clone may show
        out.provisional = True
        return out
    if plasmacytoma is True or clonal10 is True or f.slim_any is True or clonal_present:
        # No monoclonal protein found, yet a plasmacytoma, clonal marrow cells or a SLiM biomarker:
        # non-secretory disease is assessed with the myeloma rules, never "no M-protein".
        return _myeloma_logic(f, "non_secretory", isotype)
    if urine_discordant:
        return _indeterminate(
            isotype,
            "urine M-protein with a negative urine immunofixation (discordant): repeat urine immunofixation",
            ["urine.ife"],
        )
    # ref: §2.1 — CRAB is end-organ damage attributable to the plasma-cell disorder: with none found
    # (the commonest reason for a screen: anaemia or renal failure with a negative result), CRAB-range
    # values are reported in criteria[] and a flag, but make no myeloma-defining event.
    missing = []
    if flc_abnormal is None:
        missing += flc_missing(f)
    missing += _normal_ratio_renal_open(f, missing)
    reason = "serum immunofixation negative"
    if f.flc is not None and flc_abnormal is False:
        reason += " and FLC ratio within its interval"
    return Outcome(
        Code.NO_MONOCLONAL_PROTEIN,
        None,
        provisional=bool(missing),
        reasons=[reason],
        missing=missing,
    )


def _normal_ratio_renal_open(f: Facts, missing: list[str]) -> list[str]:
    """[labs.egfr] when "no monoclonal protein" rests on an FLC ratio the standard Freelite interval
    calls normal and the renal interval abnormal (below its lower limit): renal function, not given,
    decides it, as it decides light-chain MGUS on the kappa side."""
    # ref: §4 — the renal interval is the default when eGFR or CrCl < 60.
    flc = f.flc
    if flc is None or flc.abnormal is not False or not flc.renal_open or RENAL in missing:
        return []
    return [RENAL]


def _myeloma_logic(f: Facts, kind: str, isotype: str | None) -> Outcome:
    """Non-IgM and light-chain clones: myeloma, plasmacytoma, SMM or MGUS (§2.2–§2.4, §2.6–§2.8), in
    the IMWG order of precedence: myeloma-defining events, plasmacytoma, amyloidosis, then the
    smouldering and MGUS ranges."""
    clinical = f.panel.clinical
    plasmacytoma = clinical.plasmacytoma if clinical else None
    amyloidosis = clinical.amyloidosis if clinical else None
    if kind == "light_chain" and not isotype:
        isotype = _light_chain_isotype(f)
    # ref: §2.2 — clonal BMPC ≥ 10 % or biopsy-proven plasmacytoma, and ≥ 1 MDE.
    bmpc10 = C.BMPC_10.on_bmpc(f)
    C.PLASMACYTOMA.record(
        f, plasmacytoma, plasmacytoma, None, None, None if plasmacytoma is not None else C.NOT_REPORTED
    )
    _no_amyloidosis(f, amyloidosis, C.NO_AMYLOIDOSIS)
    if f.mde_any is True:
        return _with_events(f, isotype, bmpc10, plasmacytoma)
    if f.li_discordant:
        # ref: §2.1 Li — a ratio >= 100 on the chain opposite the clone's (a possible second, light-chain
        # clone): neither this clone's biomarker nor excluded; no category rests on it until settled.
        out = _indeterminate(
            isotype,
            "free light-chain ratio >= 100 on the chain opposite the clone's light chain (discordant: a "
            "possible second, light-chain clone): repeat serum free light chains and immunofixation; "
            "haematology review (§2.1)",
            ["flc.kappa", "flc.lambda", "serum_ife"] + ([MARROW] if bmpc10 is None else []),
        )
        out.refer = True
        out.repeat_flc = True
        return out
    if plasmacytoma is True and bmpc10 is True:
        return _plasmacytoma_with_marrow(f, isotype)
    if amyloidosis is True:
        return _indeterminate(
            isotype,
            "systemic amyloidosis reported: smouldering myeloma and MGUS exclude amyloidosis "
            "(§2.3, §2.4, §2.6); AL amyloidosis is assessed by haematology",
        )
    if plasmacytoma is True:
        return _plasmacytoma_without_marrow(f, isotype)
    return _smouldering_or_mgus(f, kind, isotype, bmpc10)


def _light_chain_isotype(f: Facts) -> str | None:
    """The clone of a light-chain case named by urine immunofixation, else by the involved free chain."""
    urine_ife = f.panel.urine.ife if f.panel.urine else None
    if urine_ife is not None and urine_ife.clones:
        return " + ".join(c.label for c in urine_ife.clones) + " (urine)"
    if f.flc is not None and f.flc.abnormal is True and f.flc.involved:
        return f"free {f.flc.involved}"
    return None


def _with_events(f: Facts, isotype: str | None, bmpc10: Tri, plasmacytoma: Tri) -> Outcome:
    """§2.2: a myeloma-defining event with clonal BMPC >= 10 % or a plasmacytoma is myeloma; without a
    marrow result, or with neither, it cannot be placed."""
    met = [MDE_NAMES[k] for k, v in f.mde.items() if v is True]
    if either(bmpc10, plasmacytoma) is True:
        basis = (
            (
                _CLONAL_10
                if f.bmpc_source == "clonal"
                else f"{_BMPC_10} (total plasma cells by morphology, §2.9)"
            )
            if bmpc10 is True
            else "biopsy-proven plasmacytoma"
        )
        return Outcome(
            Code.MULTIPLE_MYELOMA,
            isotype,
            reasons=[f"{basis} with myeloma-defining event(s): {', '.join(met)}"],
        )
    if bmpc10 is None and plasmacytoma is not True:
        return _indeterminate(
            isotype,
            f"myeloma-defining event ({', '.join(met)}) without a marrow result: myeloma can be "
            "neither confirmed nor excluded; bone-marrow examination is needed urgently (§2.9)",
            [MARROW],
        )
    excluded = (
        "MGUS excludes CRAB"
        if f.crab_any is True
        else "smouldering myeloma and MGUS exclude myeloma-defining events"
    )
    return _indeterminate(
        isotype,
        f"myeloma-defining event ({', '.join(met)}) with clonal BMPC < 10 % and no biopsy-proven "
        f"plasmacytoma: the myeloma criteria (§2.2) are not met and {excluded}; "
        "haematological assessment is needed",
        ["clinical.plasmacytoma"] if plasmacytoma is None else [],
    )


def _plasmacytoma_without_marrow(f: Facts, isotype: str | None) -> Outcome:
    """§2.8: a biopsy-proven plasmacytoma with clonal BMPC < 10 % (or no marrow result) and no MDE."""
    imaging = f.panel.imaging
    if imaging is not None and imaging.mri_focal_lesions is not None and imaging.mri_focal_lesions > 0:
        # ref: §2.8 — imaging must be normal apart from the lesion; one further focal lesion is below
        # the SLiM threshold (> 1) yet not "normal": the plasmacytoma is not shown to be solitary.
        return _indeterminate(
            isotype,
            "biopsy-proven plasmacytoma with a further MRI focal lesion: a solitary plasmacytoma needs "
            "imaging normal apart from the lesion (§2.8); one lesion is below the myeloma-defining "
            "threshold (> 1)",
        )
    # ref: §2.8 — solitary lesion, marrow without clonal cells (< 10 %: minimal involvement), no CRAB.
    out = Outcome(
        Code.SOLITARY_PLASMACYTOMA,
        isotype,
        reasons=[
            "biopsy-proven plasmacytoma without myeloma-defining events"
            + (" among those assessed" if f.mde_open() else "")
        ],
    )
    if f.bmpc is None:
        out.provisional = True
        out.missing.append(MARROW)
    elif f.bmpc_source == "clonal" and f.bmpc.lo > 0:
        out.label = "Solitary plasmacytoma with minimal marrow involvement (clonal BMPC < 10 %)"
    elif f.bmpc_source == "morphology":
        out.label = "Solitary plasmacytoma (marrow clonality not reported)"
    if f.mde_open():
        out.provisional = True
        out.missing.extend(f.mde_missing())
    return out


class _SmmCriteria(NamedTuple):
    """§2.3/§2.7 as recorded: each criterion, whether the serum one counts (IgG or IgA), and any met."""

    bmpc_10_60: Tri
    urine500: Tri
    serum30: Tri
    igg_iga: bool
    smm: Tri


def _smm_criteria(f: Facts, kind: str, bmpc10: Tri) -> _SmmCriteria:
    """Record the smouldering-range criteria of §2.3 (§2.7 for a light-chain clone)."""
    # ref: §2.3 / §2.7 — SMM: M-protein ≥ 30 g/L (non-IgM) or urine ≥ 500 mg/24h and/or BMPC 10–60 %.
    lc = kind == "light_chain"
    # The marrow figure in 10-60 % (a flow figure of >= 60 % above it leaves the myeloma-defining 60 %
    # open, not the figure's own range: smouldering at least, myeloma possible).
    below_60 = negate(C.BMPC_60.compare(f.bmpc, C.BMPC_60.cutoff)) if f.bmpc else None  # type: ignore[misc,arg-type]
    bmpc_10_60 = (C.BMPC_10_TO_60_LC if lc else C.BMPC_10_TO_60).record(
        f, both(bmpc10, below_60), f.bmpc.lo if f.bmpc else None, "%"
    )
    urine_row = C.URINE_500_LC if lc else C.URINE_500
    urine_mp = f.urine_mp
    if (
        urine_mp is not None
        and f.urine_discordant
        and urine_row.compare(urine_mp.interval, urine_row.cutoff) is not False  # type: ignore[misc,arg-type]
    ):
        # ref: §2.3 / §2.7 — the criterion is a urinary M-protein: a band of >= 500 mg/24h that urine
        # immunofixation finds negative is not shown to be one, so the criterion stays open (never met
        # on it); a band below 500 does not meet it either way.
        urine500 = urine_row.record(
            f,
            None,
            urine_mp.value,
            urine_mp.unit,
            None,
            "urine immunofixation negative: the urine protein is not shown to be monoclonal",
        )
    else:
        urine500 = urine_row.on_quantity(f, f.urine_mp)
    serum30: Tri = None
    # ref: §2.3 — the M-protein criterion is stated for IgG or IgA (IMWG 2014): an IgD or IgE clone
    # reaches smouldering myeloma only through the urine or marrow criteria.
    igg_iga = kind != "heavy" or any(h in _IGG_IGA for h in f.heavy_chains)
    if kind != "light_chain":
        spike, note = attributable_spike(f)
        if not igg_iga:
            note = "IgD/IgE clone: the criterion is stated for IgG or IgA (not used for the category)"
        serum30 = C.SERUM_30.on_quantity(f, spike, note)
    counted = [urine500, bmpc_10_60] + ([serum30] if kind != "light_chain" and igg_iga else [])
    return _SmmCriteria(bmpc_10_60, urine500, serum30, igg_iga, any_of(counted))


def _smouldering_or_mgus(f: Facts, kind: str, isotype: str | None, bmpc10: Tri) -> Outcome:
    """§2.3/§2.7 smouldering ranges first, then §2.4/§2.6 MGUS (an order of precedence)."""
    s = _smm_criteria(f, kind, bmpc10)
    if f.mixed_igm and s.serum30 is None and f.serum_mp is not None and f.serum_mp.interval.lo > 0:
        # ref: §2.3/§2.5 — a total spike >= 30 g/L in an IgM + non-IgM gammopathy could be either
        # clone's: smouldering myeloma and the Waldenström range cannot be told apart.
        out = _indeterminate(
            isotype,
            "biclonal IgM + non-IgM gammopathy whose total M-spike (>= 30 g/L possible) cannot be "
            "attributed to one clone: smouldering myeloma (IgG/IgA >= 30 g/L) and the Waldenström range "
            "(IgM >= 30 g/L) cannot be told apart; quantify each clone",
            ["spep.m_protein"] + ([MARROW] if bmpc10 is None else []) + f.mde_missing(),
        )
        # Every placing the spike allows needs haematology: smouldering myeloma or the Waldenström range
        # (§2.3, §2.5), or an MGUS with an IgM clone and a clone of >= 15 g/L, not low-risk (§3.1, §3.2).
        out.refer = True
        return out
    if s.smm is True and f.mixed_igm:
        igm = _igm_logic(f, isotype)
        if igm.code is Code.WALDENSTROM_RANGE:
            return _indeterminate(
                isotype,
                "biclonal gammopathy with the non-IgM clone in the smouldering-myeloma range and the IgM "
                "component in the Waldenström range",
            )
    if s.smm is True:
        return _smouldering(f, kind, isotype, s)
    if s.serum30 is True and not s.igg_iga:
        out = _indeterminate(
            isotype,
            "IgD/IgE M-protein >= 30 g/L: non-IgM MGUS needs < 30 g/L (§2.4) and the smouldering-myeloma "
            "M-protein criterion is stated for IgG or IgA (§2.3); haematological assessment is needed",
            # Either would place the clone: smouldering myeloma by marrow (10-60 %) or urine criteria.
            ([MARROW] if bmpc10 is None else []) + ([_urine_field(f)] if s.urine500 is None else []),
        )
        out.refer = True
        return out

    crab_open = f.mde_open(CRAB)
    if kind == "heavy":
        return _non_igm_mgus(f, isotype, s, bmpc10, crab_open)
    if kind == "light_chain":
        return _light_chain_mgus(f, isotype, bmpc10, s.urine500, crab_open)
    return _indeterminate(isotype, "clonal marrow plasma cells without a detectable monoclonal protein")


def _smouldering(f: Facts, kind: str, isotype: str | None, s: _SmmCriteria) -> Outcome:
    """§2.3/§2.7: the smouldering range without myeloma-defining events."""
    code = Code.SMOLDERING_MYELOMA_LIGHT_CHAIN if kind == "light_chain" else Code.SMOLDERING_MYELOMA
    why = [
        n
        for n, v in (
            (_SERUM_30, s.serum30),
            (_URINE_500, s.urine500),
            (C.BMPC_10_TO_60.threshold, s.bmpc_10_60),
        )
        if v is True
    ]
    out = Outcome(
        code,
        isotype,
        reasons=[
            f"{' and '.join(why)} without myeloma-defining events"
            + (" among those assessed" if f.mde_open() else "")
        ],
    )
    if kind == "non_secretory":
        out.reasons.append("no monoclonal protein detected (non-secretory)")
    if f.mde_open():
        out.provisional = True
        out.missing.extend(f.mde_missing())
    return out


def _non_igm_mgus(f: Facts, isotype: str | None, s: _SmmCriteria, bmpc10: Tri, crab_open: bool) -> Outcome:
    """§2.4: non-IgM MGUS (the IgM component of a biclonal gammopathy judged by §2.5)."""
    # ref: §2.4 — non-IgM MGUS: M-protein < 30 g/L, clonal BMPC < 10 %, no CRAB.
    why = [
        "non-IgM clone",
        _SERUM_UNDER_30
        if s.serum30 is False
        else f"serum M-protein unreliable within {R.IVIG_WINDOW_MONTHS} months of IVIg (§5)"
        if f.ivig_igg
        else "serum M-protein not quantified",
        (
            _CLONAL_UNDER_10
            if f.bmpc_source == "clonal"
            else f"{_BMPC_UNDER_10} (total plasma cells by morphology)"
        )
        if bmpc10 is False
        else "no marrow result",
        "no CRAB feature" if not crab_open else "CRAB not fully assessed",
    ]
    out = Outcome(Code.MGUS_NON_IGM, isotype, reasons=[", ".join(why)])
    if s.serum30 is None:
        out.missing.append("spep.m_protein")
    if bmpc10 is None:
        out.missing.append(MARROW)
    if crab_open:
        out.missing.extend(f.mde_missing(CRAB))
    if s.urine500 is None and f.urine_mp is not None:
        # ref: §2.3 — a urinary M-protein >= 500 mg/24h would make it smouldering myeloma: a band whose
        # immunofixation is negative needs the immunofixation, a bound that leaves 500 open ("> 499")
        # the measured value.
        out.missing.append(_urine_field(f))
    _li_open_on_bounds(f, out)
    out.provisional = bool(out.missing)
    if HeavyChain.IGM in f.heavy_chains:
        # ref: §2.5 — the IgM component of a biclonal gammopathy is judged by the IgM criteria.
        igm = _igm_logic(f, isotype)
        if igm.code is not Code.MGUS_IGM:
            igm.reasons.insert(0, "biclonal gammopathy: the IgM component decides")
            return igm
        out.reasons.append("biclonal with an IgM component, itself in the IgM MGUS range")
        out.provisional = out.provisional or igm.provisional
        out.missing.extend(m for m in igm.missing if m not in out.missing)
    return out


def _li_escalated_without_clone(isotype: str | None) -> Outcome:
    """§2.1 Li: a non-Freelite ratio in the SLiM range is never read as "no monoclonal protein"."""
    out = _indeterminate(
        isotype,
        "involved/uninvolved FLC ratio >= 100 with the involved chain >= 100 mg/L on an assay other than "
        "Freelite, without a monoclonal protein on the other tests: the myeloma-defining biomarker is not "
        "assessable on this assay; urgent Freelite measurement and haematology review (§2.1)",
        ["flc.assay"],
    )
    out.refer = True
    return out


def _plasmacytoma_with_marrow(f: Facts, isotype: str | None) -> Outcome:
    """§2.8: a biopsy-proven plasmacytoma with clonal BMPC >= 10 % is multiple myeloma (not solitary
    plasmacytoma, not smouldering myeloma); on total plasma cells by morphology alone it is likely."""
    if f.bmpc_source == "clonal":
        return Outcome(
            Code.MULTIPLE_MYELOMA,
            isotype,
            reasons=[
                "biopsy-proven plasmacytoma with clonal BMPC >= 10 %: multiple myeloma, not solitary "
                "plasmacytoma or smouldering myeloma (§2.8)"
            ],
        )
    out = _indeterminate(
        isotype,
        "biopsy-proven plasmacytoma with marrow plasma cells >= 10 % by morphology (clonality not "
        "reported): myeloma likely; confirm clonality (§2.8)",
        [MARROW],
    )
    out.refer = True
    return out


def _light_chain_mgus(f: Facts, isotype: str | None, bmpc10: Tri, urine500: Tri, crab_open: bool) -> Outcome:
    """§2.6: abnormal ratio, involved chain raised, no heavy chain, no CRAB, BMPC < 10 %, urine < 500."""
    flc = f.flc
    abnormal = flc.abnormal if flc else None
    raised = flc.involved_raised if flc else None
    # ref: §2.6 — the interval in force is the assay's (§4) or the laboratory's, named when known.
    C.FLC_RATIO_ABNORMAL.record(
        f,
        abnormal,
        flc.ratio if flc else None,
        "ratio",
        threshold=f"outside {flc.interval_low}-{flc.interval_high}" if flc and flc.interval_low else None,
    )
    C.INVOLVED_FLC_RAISED.record(f, raised, None)
    renal = [_renal_field(f)] if flc is not None and flc.renal_open else []
    if abnormal is False:
        # ref: §2.7 — light-chain smouldering myeloma needs no abnormal ratio: the urine or the marrow,
        # when not given, could still place the clone.
        out = _indeterminate(
            isotype,
            "a monoclonal light chain was found but the FLC ratio is within its interval: "
            "light-chain MGUS requires an abnormal ratio (§2.6)",
            renal + ([MARROW] if bmpc10 is None else []) + ([_urine_field(f)] if urine500 is None else []),
        )
        out.repeat_flc = True
        return out
    if abnormal is None:
        return _indeterminate(
            isotype,
            "a monoclonal light chain was found but the FLC ratio is not assessable",
            flc_missing(f),
        )
    if raised is False:
        # No clone is shown (an abnormal ratio by suppression of the other chain is not one): no
        # isotype unless immunofixation found a light-chain clone.
        out = _indeterminate(
            isotype if f.clone_labels else None,
            "abnormal FLC ratio without an increase of the involved light chain: light-chain MGUS "
            "criteria (§2.6) are not met (consider renal function or suppression of the other chain)",
            renal,
        )
        out.repeat_flc = True
        return out
    clone_chain = single_light_chain(f.panel)
    if clone_chain is not None and flc is not None and flc.involved not in (None, str(clone_chain)):
        # ref: §2.6 — the involved chain raised is the clone's: a ratio abnormal on the other side
        # (free lambda found, kappa in excess) is not this clone's, and may be a second one.
        out = _indeterminate(
            isotype,
            f"immunofixation shows a {clone_chain} light chain, but the FLC ratio is abnormal on the "
            f"{flc.involved} side (discordant; a possible second clone): light-chain MGUS needs the "
            "clone's own chain raised (§2.6); repeat serum free light chains with serum and urine "
            "immunofixation",
            renal + ([MARROW] if bmpc10 is None else []),
        )
        out.repeat_flc = True
        return out
    out = Outcome(
        Code.MGUS_LIGHT_CHAIN,
        isotype,
        reasons=["abnormal FLC ratio with the involved light chain raised, no heavy chain"],
    )
    if raised is None:
        # Undecided: a reported bound (e.g. kappa ">= 19.4") needs the exact value; an exact value
        # with no upper limit in force (no assay default, none sent) needs the reference range.
        chain = "flc.kappa" if flc and flc.involved == "kappa" else "flc.lambda"
        fl = f.panel.flc
        q = (fl.kappa if chain == "flc.kappa" else fl.lambda_) if fl else None
        out.missing.append(chain if q is not None and not q.interval.exact else f"{chain}.reference_range")
    if bmpc10 is None:
        out.missing.append(MARROW)
    if urine500 is None:
        out.missing.append(_urine_field(f))
    if crab_open:
        out.missing.extend(f.mde_missing(CRAB))
    out.missing.extend(m for m in renal if m not in out.missing)
    _li_open_on_bounds(f, out)
    out.provisional = bool(out.missing)
    return out


def _li_open_on_bounds(f: Facts, out: Outcome) -> None:
    """§2.1 Li, §2.9: free light chains sent with a chain reported as a bound ("< 20 mg/L") that leaves
    the SLiM ratio open. Met, it would be a myeloma-defining event (myeloma with clonal BMPC >= 10 %,
    else a finding that cannot be placed), so MGUS rests on the exact value: the bounded chain is
    asked for and the category is provisional. A not-assessable criterion is never read as absent."""
    fl = f.panel.flc
    key = "flc_ratio_ge_100"
    if fl is None or fl.kappa is None or fl.lambda_ is None:
        return  # not done: the screen and the risk model ask for the FLC
    if f.mde.get(key) is not None or f.mde_measured.get(key) or f.li_escalated:
        return  # settled, or escalated (classify asks for the Freelite result)
    bounds = [n for n, q in (("flc.kappa", fl.kappa), ("flc.lambda", fl.lambda_)) if not q.interval.exact]
    out.missing.extend(m for m in bounds or f.mde_missing((key,)) if m not in out.missing)
    out.reasons.append(
        "involved/uninvolved FLC ratio >= 100 not excluded (a free light chain reported as a bound): "
        "the exact value is needed (§2.1 Li)"
    )


# Long by design: §2.5's order of precedence (amyloidosis, myeloma features, the Waldenström range,
# end-organ features, a second light-chain clone, a plasmacytoma, then IgM MGUS) reads top to bottom.
def _igm_logic(f: Facts, isotype: str | None) -> Outcome:
    """§2.5: IgM MGUS or the Waldenström range; IgM does not use the myeloma CRAB logic."""
    p = f.panel
    marrow = p.marrow
    lpl = marrow.lymphoplasmacytic_infiltrate_percent if marrow else None
    spike, note = attributable_spike(f)
    igm30 = C.IGM_30.on_quantity(f, spike, note)
    lpl10 = C.LPL_10.record(
        f,
        None if lpl is None else lpl >= C.LPL_10.cutoff,  # type: ignore[operator]
        lpl,
        "%",
        None,
        None if lpl is not None else C.NO_MARROW,
    )
    symptoms = p.clinical.igm_related_symptoms if p.clinical else None
    # The anaemia of §2.5 is read with the §2.1 haemoglobin rule: the only anaemia definition the
    # ruleset holds.
    anemia = f.mde["anemia"]
    if anemia is None and f.mde_measured.get("anemia"):
        anemia = False  # measured and no evaluable rule met (see Facts.mde_missing)
    amyloidosis = p.clinical.amyloidosis if p.clinical else None
    _no_amyloidosis(f, amyloidosis, C.NO_AMYLOIDOSIS_IGM)
    if amyloidosis is True:
        out = _indeterminate(
            isotype,
            "IgM clone with systemic amyloidosis: a clone causing organ damage is not of undetermined "
            "significance; AL amyloidosis is assessed by haematology",
        )
        out.igm_logic = True
        return out
    slim = [MDE_NAMES[k] for k in ("bmpc_ge_60", "flc_ratio_ge_100", "mri_focal_lesions") if f.mde[k] is True]
    clonal10 = ge(f.clonal_bmpc, R.BMPC_MYELOMA_PERCENT) if f.clonal_bmpc is not None else None
    myeloma_features = slim + ([_CLONAL_10] if clonal10 is True else [])
    # Named in the label, though not deciding it: lytic lesions point to IgM myeloma, not Waldenström.
    named = myeloma_features + ([MDE_NAMES["bone_lesions"]] if f.mde["bone_lesions"] is True else [])
    end_organ = C.IGM_END_ORGAN.record(f, either(anemia, symptoms), None)
    if myeloma_features and lpl10 is not True:
        # An IgM clone with clonal plasma cells >= 10 % or a SLiM biomarker but no lymphoplasmacytic
        # infiltrate: IgM myeloma (rare) against Waldenström cannot be settled by the IgM criteria.
        out = _indeterminate(
            isotype,
            f"IgM clone with myeloma features ({', '.join(named)}) and no lymphoplasmacytic "
            "infiltrate >= 10 %: IgM myeloma or Waldenström macroglobulinaemia; haematological "
            "assessment is needed",
            ["marrow.lymphoplasmacytic_infiltrate_percent"] if lpl10 is None else [],
        )
        out.igm_logic = True
        return out
    if either(igm30, lpl10) is True:
        out = Outcome(Code.WALDENSTROM_RANGE, isotype, igm_logic=True)
        why = " and ".join(
            n
            for n, v in (
                (_IGM_30, igm30),
                (_LPL_10, lpl10),
            )
            if v
        )
        if end_organ is True:
            out.label = "Waldenström range: Waldenström macroglobulinaemia (end-organ features present)"
        elif end_organ is False:
            out.label = "Waldenström range: smouldering Waldenström macroglobulinaemia"
        else:
            out.label = "Waldenström range (smouldering or symptomatic not determined)"
            out.missing.extend(_igm_end_organ_missing(f, symptoms))
        out.reasons.append(why)
        if lpl10 is None:
            # The IgM level alone places it in the range; the diagnosis rests on the marrow.
            out.missing.append("marrow.lymphoplasmacytic_infiltrate_percent")
        out.provisional = bool(out.missing)
        return out
    if end_organ is True:
        out = _indeterminate(
            isotype,
            "IgM clone with anaemia or IgM-related symptoms below the Waldenström thresholds: IgM "
            "MGUS requires their absence; haematological assessment of attribution is needed",
            ["marrow.lymphoplasmacytic_infiltrate_percent"] if lpl10 is None else [],
        )
        out.igm_logic = True
        return out
    serum_clones = p.serum_ife.clones if p.serum_ife else ()
    free = [c for c in serum_clones if c.heavy_chain is None]
    # A free light chain in the urine of a chain no serum clone carries is a second clone too (one of
    # the IgM clone's own chain may be its Bence Jones protein).
    urine_clones = p.urine.ife.clones if p.urine is not None and p.urine.ife is not None else ()
    serum_chains = {c.light_chain for c in serum_clones}
    free += [c for c in urine_clones if c.heavy_chain is None and c.light_chain not in serum_chains]
    # ref: §2.7 — urinary M-protein >= 500 mg/24h: the light-chain smouldering range.
    if free and f.urine_mp is not None and ge(f.urine_mp.interval, R.URINE_M_PROTEIN_MG_24H):
        out = _indeterminate(
            isotype,
            "IgM clone with a second, free light chain clone and urine M-protein >= 500 mg/24h: the "
            "light-chain clone is in the light-chain smouldering range (§2.7)",
        )
        out.igm_logic = True
        return out
    if p.clinical is not None and p.clinical.plasmacytoma is True:
        # ref: §2.8 sets no isotype, but IgM MGUS (§2.5) has no place for a plasmacytoma: IgM
        # myeloma or a lymphoma with plasmacytic differentiation, which haematology settles.
        out = _indeterminate(
            isotype,
            "IgM clone with a biopsy-proven plasmacytoma: the IgM criteria (§2.5) do not place a "
            "plasmacytoma; haematological assessment is needed",
        )
        out.igm_logic = True
        out.refer = True
        return out
    # The basis says what was shown, never "< 30 g/L" for an M-protein that was not quantified.
    basis = [
        _IGM_UNDER_30 if igm30 is False else "IgM M-protein not quantified",
        _LPL_UNDER_10 if lpl10 is False else "no marrow result",
        "no end-organ features" if end_organ is False else "end-organ features not fully assessed",
    ]
    out = Outcome(Code.MGUS_IGM, isotype, igm_logic=True, reasons=[", ".join(basis)])
    if igm30 is None:
        out.missing.append("spep.m_protein")
    if lpl10 is None:
        out.missing.append("marrow.lymphoplasmacytic_infiltrate_percent")
    if end_organ is None:
        out.missing.extend(_igm_end_organ_missing(f, symptoms))
    out.provisional = bool(out.missing)
    return out


def _igm_end_organ_missing(f: Facts, symptoms: Tri) -> list[str]:
    out = f.mde_missing(("anemia",))
    if symptoms is None:
        out.append("clinical.igm_related_symptoms")
    return out
