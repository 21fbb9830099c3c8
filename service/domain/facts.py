"""Facts derived once from a panel: marrow plasma cells, M-protein, FLC and the MDE criteria (§2.1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from . import criteria as C
from . import ruleset as R
from .criteria import _COMP_TEXT
from .egfr import EGFR_UNIT, EstimatedGfr, estimate, highest_plausible, lowest_plausible
from .flc import summarize
from .panel import HeavyChain, IfeResult, Labs, LightChain, Panel
from .quantity import INF, ZERO, Comparator, Interval, Quantity, gt, lt
from .results import Criterion, FlcSummary
from .tri import Tri, any_of, both, either

# Contract ids of the myeloma-defining events, in CRAB-SLiM order.
MDE_IDS = (
    "hypercalcemia",
    "renal_insufficiency",
    "anemia",
    "bone_lesions",
    "bmpc_ge_60",
    "flc_ratio_ge_100",
    "mri_focal_lesions",
)
CRAB_IDS = MDE_IDS[:4]
SLIM_IDS = MDE_IDS[4:]
MDE_NAMES = {
    "hypercalcemia": "hypercalcaemia",
    "renal_insufficiency": "renal insufficiency",
    "anemia": "anaemia",
    "bone_lesions": "osteolytic bone lesion(s)",
    "bmpc_ge_60": "clonal BMPC >= 60 %",
    "flc_ratio_ge_100": "involved/uninvolved FLC ratio >= 100",
    "mri_focal_lesions": "> 1 focal lesion on MRI",
}
# Plain names of the criteria a report quotes with their values.
CRITERION_NAMES = {
    "mde.hypercalcemia.absolute": "calcium",
    "mde.hypercalcemia.above_uln": "calcium against the ULN",
    "mde.renal_insufficiency.creatinine": "creatinine",
    "mde.renal_insufficiency.clearance": "creatinine clearance",
    "mde.anemia.absolute": "haemoglobin",
    "mde.anemia.below_lln": "haemoglobin against the LLN",
    "mde.bone_lesions": "osteolytic lesions",
    "mde.bmpc_ge_60": "clonal BMPC",
    "mde.flc_ratio_ge_100": "involved/uninvolved FLC ratio",
    "mde.mri_focal_lesions": "MRI focal lesions",
    "igm_end_organ_features": "IgM end-organ features",
}
# What each MDE needs when it is not assessable (request field paths): the needs of its first row.
MDE_NEEDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "hypercalcemia": C.CA_ABSOLUTE.needs,
        "renal_insufficiency": ("labs.creatinine", "labs.egfr"),
        "anemia": C.HB_ABSOLUTE.needs,
        "bone_lesions": C.BONE_LESIONS.needs,
        "bmpc_ge_60": C.BMPC_60.needs,
        "flc_ratio_ge_100": C.FLC_RATIO_100.needs,
        "mri_focal_lesions": C.MRI_LESIONS.needs,
    }
)  # read-only: shared by every panel


@dataclass(slots=True)
class Facts:
    """What the classification, risk models and flags read, computed once per panel."""

    panel: Panel
    flc: FlcSummary | None
    iu: Interval | None
    ratio: Interval | None
    bmpc: Interval | None
    bmpc_source: str | None
    clonal_bmpc: Interval | None
    serum_mp: Quantity | None
    urine_mp: Quantity | None
    heavy_chains: tuple[HeavyChain, ...]
    clone_labels: tuple[str, ...]
    mixed_igm: bool = False
    # A urine M-protein band that urine immunofixation finds negative (not shown to be monoclonal).
    urine_discordant: bool = False
    criteria: list[Criterion] = field(default_factory=list)
    mde: dict[str, Tri] = field(default_factory=dict)
    mde_measured: dict[str, bool] = field(default_factory=dict)
    # What settles an event that is open for a reason other than its measurement (e.g. a calcium whose
    # ULN was not sent), in place of MDE_NEEDS.
    mde_needs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # The CKD-EPI 2021 estimate (§2.1 R) when the panel called for one; panel.labs.egfr then holds it.
    egfr_estimate: EstimatedGfr | None = None
    # A non-Freelite FLC ratio that would meet the SLiM threshold (§2.1 Li): escalated, never silent.
    li_escalated: bool = False
    # §2.1 Li met only on the chain opposite a heavy-chain clone's light chain (a possible second clone).
    li_discordant: bool = False
    # ref: §5 — within the IVIg window an IgG clone's M-protein (value or bound) is unreliable.
    ivig_igg: bool = False
    # §2.1 R open: a creatinine with no clearance, eGFR or estimate that could give an eGFR < 40.
    renal_open: bool = False

    @property
    def mde_any(self) -> Tri:
        """Any myeloma-defining event met (None: none met, some not assessable)."""
        return any_of(self.mde.values())

    @property
    def slim_any(self) -> Tri:
        """Any SLiM biomarker met."""
        return any_of(self.mde[k] for k in SLIM_IDS)

    @property
    def crab_any(self) -> Tri:
        """Any CRAB feature met."""
        return any_of(self.mde[k] for k in CRAB_IDS)

    def mde_missing(self, ids: tuple[str, ...] = MDE_IDS) -> list[str]:
        """Request fields whose absence leaves an MDE among ``ids`` open.

        A relative rule whose laboratory limit was not sent holds the category open unless no
        plausible limit could meet it (§1.1): the reference range is then listed (``mde_needs``).
        Operational choices: a creatinine that decides its rule, with no clearance, eGFR or estimate,
        does not hold a category open (its clearance rule stays not_assessable in criteria[] and in the
        comment); nor does a non-Freelite FLC ratio that could not meet the SLiM threshold (§2.1 Li). A
        measurement sent as a bound that does not decide its rule counts as not done: its field is
        listed (an exact value is needed)."""
        out: list[str] = []
        for k in ids:
            if self.mde.get(k) is None and not self.mde_measured.get(k):
                out.extend(self.mde_needs.get(k) or MDE_NEEDS.get(k, ()))
        return out

    def mde_open(self, ids: tuple[str, ...] = MDE_IDS) -> bool:
        """Whether a not-measured MDE among ``ids`` could still change the category."""
        return any(self.mde.get(k) is None and not self.mde_measured.get(k) for k in ids)


def flow_leaves_60_open(f: Facts) -> bool:
    """§2.1 S, §2.9: a marrow figure was given and the >= 60 % criterion is still open, which only a
    flow-cytometry figure of >= 60 % above it leaves so (``criteria.Row.on_bmpc``: the marrow figures
    are numbers, never bounds)."""
    return f.bmpc is not None and f.mde.get("bmpc_ge_60") is None


def attributable_spike(f: Facts) -> tuple[Quantity | None, str | None]:
    """The serum M-protein a single clone can be judged on.

    In a biclonal gammopathy with an IgM and a non-IgM clone the one spike cannot be attributed to
    either, so the total only bounds each (<= total): it still settles "< 30 g/L" when the total is
    below 30, and leaves ">= 30 g/L" not assessable otherwise."""
    q = f.serum_mp
    if q is not None and f.ivig_igg:
        return None, IVIG_SPIKE_NOTE
    if q is None or not f.mixed_igm:
        return q, None
    hi = q.interval.hi
    if hi == INF:
        return None, "biclonal IgM + non-IgM: the spike cannot be attributed to one clone"
    return (
        Quantity(hi, q.unit, Comparator.LE),
        "biclonal IgM + non-IgM: the total spike only bounds each clone",
    )


IVIG_SPIKE_NOTE = (
    f"within {R.IVIG_WINDOW_MONTHS} months of the last IVIg dose: an IgG M-protein (value or bound) is "
    "unreliable (§5); repeat it after the window or follow the clone by immunofixation"
)


def ivig_igg_unreliable(panel: Panel, heavy: tuple[HeavyChain, ...]) -> bool:
    """§5: an IgG clone's M-protein is unreliable while IVIg is given and about 3 months after the last
    dose (the same window as the IVIG_IGG_UNRELIABLE flag)."""
    from .flags import ivig_window_end  # flags imports this module: imported here, once per call

    c, on = panel.clinical, panel.collected_on
    last = c.ivig_last_dose_on if c is not None else None
    if last is None or on is None or HeavyChain.IGG not in heavy:
        return False
    return on <= ivig_window_end(last)


def single_light_chain(panel: Panel) -> LightChain | None:
    """The light chain of the clone(s) — serum, else urine immunofixation — when all share one
    (it names the involved chain)."""
    clones = panel.serum_ife.clones if panel.serum_ife is not None else ()
    if not clones and panel.urine is not None and panel.urine.ife is not None:
        clones = panel.urine.ife.clones
    chains = {c.light_chain for c in clones}
    return next(iter(chains)) if len(chains) == 1 else None


def _pct(v: Decimal | None) -> Interval | None:
    return None if v is None else Interval.point(v)


_NO_LABS = Labs()


def build_facts(panel: Panel) -> Facts:
    """Derive the shared facts and evaluate the myeloma-defining events (§2.1)."""
    # ref: §2.1 R — with no clearance or eGFR sent, the CKD-EPI 2021 estimate stands in for both (the R
    # rule and the renal FLC interval of §4): the rules read it as the panel's eGFR.
    egfr = estimate(panel)
    if egfr is not None and panel.labs is not None:
        panel = panel._replace(labs=panel.labs._replace(egfr=egfr.quantity))
    marrow = panel.marrow
    clonal = marrow.clonal_plasma_cells_percent if marrow else None
    morph = marrow.plasma_cells_percent if marrow else None
    notes: list[str] = []
    # ref: §2.9 — total plasma cells by morphology stand in for clonal BMPC when no clonal figure
    # is given (said in the output); flow-cytometry percentages are never used for 10 %/60 %.
    if clonal is not None:
        bmpc, bmpc_source = clonal, "clonal"
        if morph is not None:
            # ref: §2.9 / §2.1 S / §2.2 — the clonal figure decides; a total on the other side of 60 %
            # or 10 % is said, never dropped unseen.
            cut = next(
                (c for c in (R.BMPC_SLIM_PERCENT, R.BMPC_MYELOMA_PERCENT) if morph >= c > clonal), None
            )
            if cut is not None:
                notes.append(
                    f"Total plasma cells by morphology ({_fmt(morph)} %) reach {cut:g} % while the clonal "
                    f"figure ({_fmt(clonal)} %) does not: the clonal figure decides (clinical-reference "
                    "§2.9); the discordance is for review (a trephine CD138 count settles the marrow burden)."
                )
    elif morph is not None:
        bmpc, bmpc_source = morph, "morphology"
        notes.append(
            "Clonal plasma-cell percentage not given: total plasma cells by morphology "
            f"({_fmt(morph)} %) stand in for clonal BMPC (clinical-reference §2.9)."
        )
    else:
        bmpc, bmpc_source = None, None
    if marrow is not None and marrow.flow_plasma_cells_percent is not None:
        notes.append(
            f"Flow-cytometry plasma cells ({_fmt(marrow.flow_plasma_cells_percent)} %) under-estimate "
            "the marrow burden and were not used for the 10 %/60 % thresholds (§2.9)."
        )
    clones = panel.serum_ife.clones if panel.serum_ife else ()
    heavy = tuple(c.heavy_chain for c in clones if c.heavy_chain is not None)
    flc_summary, ratio, iu = summarize(
        panel.flc, panel.labs, panel.clinical, single_light_chain(panel), *_creatinine_renal(panel, egfr)
    )
    facts = Facts(
        panel=panel,
        flc=flc_summary,
        iu=iu,
        ratio=ratio,
        bmpc=_pct(bmpc),
        bmpc_source=bmpc_source,
        clonal_bmpc=_pct(clonal),
        serum_mp=panel.spep.m_protein if panel.spep else None,
        urine_mp=panel.urine.m_protein_24h if panel.urine else None,
        heavy_chains=heavy,
        clone_labels=tuple(c.label for c in clones),
        mixed_igm=HeavyChain.IGM in heavy and any(h is not HeavyChain.IGM for h in heavy),
        urine_discordant=panel.urine is not None
        and panel.urine.ife is not None
        and panel.urine.ife.result is IfeResult.NEGATIVE
        and panel.urine.m_protein_24h is not None
        and gt(panel.urine.m_protein_24h.interval, ZERO) is True,
        notes=notes,
    )
    if flc_summary is not None:
        facts.notes.extend(flc_summary.notes)
    if facts.serum_mp is not None and ivig_igg_unreliable(panel, heavy):
        facts.ivig_igg = True
        facts.notes.append(
            "The serum M-protein of the IgG clone was not used for the M-protein criteria and risk factors: "
            f"within {R.IVIG_WINDOW_MONTHS} months of the last IVIg dose IgG-based values and bounds are "
            "unreliable (clinical-reference §5)."
        )
    if egfr is not None:
        facts.egfr_estimate = egfr
        fl = panel.flc
        facts.notes.append(_egfr_note(egfr, fl is None or fl.kappa is None or fl.lambda_ is None))
    _evaluate_mde(facts)
    return facts


def _creatinine_renal(panel: Panel, egfr: EstimatedGfr | None) -> tuple[bool, Tri]:
    """What a creatinine sent without a clearance, eGFR or estimate (age or sex not given) says of the
    renal FLC interval (§4: eGFR < 60): (applies, renal). renal True when the CKD-EPI 2021 equation is
    below 60 at every adult age and sex the request leaves open (egfr.highest_plausible), False when it
    is 60 or more at every one (egfr.lowest_plausible); otherwise None (undecided) when the age is given
    (only the sex is open) or the equation could fall below 40 at some age, else (applies False) renal
    function counts as not given and the default interval applies."""
    labs, patient = panel.labs, panel.patient
    if egfr is not None or labs is None or labs.creatinine is None:
        return False, None
    if labs.egfr is not None or labs.creatinine_clearance is not None:
        return False, None
    age = patient.age_years if patient is not None else None
    sex = patient.sex if patient is not None else None
    lowest = lowest_plausible(labs.creatinine, age, sex)
    highest = highest_plausible(labs.creatinine, age, sex)
    # ref: §4 — the Freelite renal interval is the default when eGFR or CrCl < 60.
    if highest is not None and highest < R.FLC_RENAL_CUTOFF:
        return True, True
    if lowest is not None and lowest >= R.FLC_RENAL_CUTOFF:
        return True, False
    if age is not None or lowest is None or lowest < R.CREATININE_CLEARANCE_ML_MIN:
        return True, None
    return False, None


def _egfr_note(e: EstimatedGfr, flc_missing: bool) -> str:
    comp = e.quantity.comparator
    shown = f"{'' if comp is None else str(comp) + ' '}{_fmt(e.display)} {EGFR_UNIT}"
    return (
        "No creatinine clearance or eGFR was read from the request (an HL7 or FHIR result whose code is "
        "not in the code map is not read: see the input notes): eGFR estimated by the race-free CKD-EPI 2021 "
        f"equation from creatinine, age and sex ({shown}), used for the renal criterion and the renal FLC "
        "interval. The estimate assumes a stable creatinine (not valid in acute kidney injury)"
        + (
            # Said only beside an estimate that could be < 40 (§2.1 R), never beside a normal one.
            ", and a renal impairment is not shown to be caused by the clone: many older patients have an "
            "eGFR below 40 from other causes (clinical-reference §2.1)."
            if lt(e.quantity.interval, R.CREATININE_CLEARANCE_ML_MIN) is not False
            else " (clinical-reference §2.1)."
        )
        + (
            " Serum free light chains were not given: they are needed to look for a light-chain cause."
            if flc_missing
            else ""
        )
    )


def _fmt(v: Decimal) -> str:
    return f"{float(v):g}"


EGFR_AS_CLEARANCE = "eGFR used as the estimated creatinine clearance"
EGFR_ESTIMATED = (
    "eGFR estimated by CKD-EPI 2021 from creatinine, age and sex (§2.1): assumes a stable creatinine"
)


# ref: §1.1 — the plausible reference limits a relative rule is judged against when the limit is not sent.
def _limit(window: R.Window | None) -> R.Window:
    if window is None:
        raise LookupError("ruleset.PLAUSIBILITY lacks a reference-limit window the relative rules need")
    return window


_CA_ULN_WINDOW = _limit(R.PLAUSIBILITY["calcium"].upper_limit)
_HB = R.PLAUSIBILITY["hemoglobin"]
_HB_LLN_WINDOWS = {"female": _limit(_HB.lower_limit_female), "male": _limit(_HB.lower_limit_male)}
_HB_LLN_WIDE = _limit(_HB.lower_limit)


def _window_note(what: str, window: R.Window, unit: str, settled: bool) -> str:
    span = f"{_fmt(window.low)}-{_fmt(window.high)} {unit}"
    if settled:
        return f"no {what} given: not met against any plausible {what} ({span}, §1.1)"
    return (
        f"no {what} given: a plausible {what} ({span}, §1.1) could make it met; send the laboratory's range"
    )


def _evaluate_mde(f: Facts) -> None:
    labs = f.panel.labs
    patient = f.panel.patient
    sex = patient.sex if patient is not None else None
    if labs is None:
        labs = _NO_LABS
    _hypercalcemia(f, labs.calcium)
    _renal(f, labs.creatinine, labs.creatinine_clearance, labs.egfr)
    _anemia(f, labs.hemoglobin, sex)
    imaging = f.panel.imaging
    lytic = imaging.osteolytic_lesions if imaging else None
    # ref: §2.1 B — ≥ 1 osteolytic lesion (lesions other than a biopsied plasmacytoma, §2.8).
    f.mde["bone_lesions"] = C.BONE_LESIONS.on_count(f, lytic, "lesions")
    # ref: §2.1 S — clonal BMPC ≥ 60 %.
    f.mde["bmpc_ge_60"] = C.BMPC_60.on_bmpc(f, flow_opens=True)
    _light_chain_ratio(f)
    mri = imaging.mri_focal_lesions if imaging else None
    # ref: §2.1 M — > 1 focal lesion (each ≥ 5 mm) on MRI.
    f.mde["mri_focal_lesions"] = C.MRI_LESIONS.on_count(f, mri, "lesions")
    measured = f.mde_measured
    measured["bone_lesions"] = lytic is not None
    measured["bmpc_ge_60"] = f.bmpc is not None
    measured["mri_focal_lesions"] = mri is not None


def _hypercalcemia(f: Facts, calcium: Quantity | None) -> None:
    """§2.1 C: calcium > 2.75 mmol/L, or > 0.25 mmol/L above the laboratory's ULN."""
    if calcium is None:
        f.criteria.append(C.CA_ABSOLUTE.absent)
        f.criteria.append(C.CA_ABOVE_ULN.absent)
        f.mde["hypercalcemia"] = None
        f.mde_measured["hypercalcemia"] = False
        return
    # ref: §2.1 C — > 2.75 mmol/L.
    c_abs = C.CA_ABSOLUTE.on_quantity(f, calcium, unit="mmol/L")
    row = C.CA_ABOVE_ULN
    if calcium.reference_range is not None:
        # ref: §2.1 C — > 0.25 mmol/L above the laboratory's ULN.
        limit = calcium.reference_range.high + row.cutoff  # type: ignore[operator]
        c_uln = row.on_quantity(f, calcium, cutoff=limit, threshold=row.with_limit(limit), unit="mmol/L")
    else:
        # ref: §1.1 — no ULN sent: not met only when no plausible ULN (2.45-2.80) + 0.25 could meet it.
        c_uln = _not_met_or_open(row.compare(calcium.interval, _CA_ULN_WINDOW.low + row.cutoff))  # type: ignore[misc,operator]
        note = _window_note("ULN", _CA_ULN_WINDOW, "mmol/L", c_uln is False)
        row.record(f, c_uln, calcium.value, "mmol/L", _comp(calcium), note)
    event = f.mde["hypercalcemia"] = either(c_abs, c_uln)
    f.mde_measured["hypercalcemia"] = event is not None
    if event is None and c_abs is False and calcium.reference_range is None:
        # Open for want of the laboratory's ULN (§1.1); a bound beside it asks for the exact value
        # (MDE_NEEDS).
        f.mde_needs["hypercalcemia"] = ("labs.calcium.reference_range",)


def _not_met_or_open(could_meet: Tri) -> Tri:
    """A relative rule judged against every plausible limit: not met when none could meet it, else
    not assessable (one that every plausible limit meets is met by the absolute rule already)."""
    return False if could_meet is False else None


def _anemia(f: Facts, hb: Quantity | None, sex: str | None) -> None:
    """§2.1 A: haemoglobin < 100 g/L, or > 20 g/L below the laboratory's LLN."""
    # ref: §2.1 A — haemoglobin < 100 g/L.
    a_abs = C.HB_ABSOLUTE.on_quantity(f, hb)
    row = C.HB_BELOW_LLN
    if hb is None:
        f.criteria.append(row.absent)
        a_lln: Tri = None
    elif hb.reference_range is not None:
        # ref: §2.1 A — > 20 g/L below the laboratory's LLN: haemoglobin < LLN - 20.
        limit = hb.reference_range.low - row.cutoff  # type: ignore[operator]
        a_lln = lt(hb.interval, limit)
        row.record(f, a_lln, hb.value, hb.unit, _comp(hb), None, row.with_limit(limit))
    else:
        # ref: §1.1 — no LLN sent: not met only when no plausible LLN - 20 could meet it, with the
        # sex-specific window for a woman or a man and the wider one otherwise.
        window = _HB_LLN_WINDOWS.get(sex or "", _HB_LLN_WIDE)
        a_lln = _not_met_or_open(lt(hb.interval, window.high - row.cutoff))  # type: ignore[operator]
        note = _window_note("LLN", window, "g/L", a_lln is False)
        if sex not in _HB_LLN_WINDOWS:
            note += " (sex not female or male: the wider window)"
        row.record(f, a_lln, hb.value, "g/L", _comp(hb), note)
    event = f.mde["anemia"] = either(a_abs, a_lln)
    f.mde_measured["anemia"] = event is not None
    if event is None and a_abs is False and hb.reference_range is None:  # type: ignore[union-attr]
        # Open for want of the laboratory's LLN (§1.1); a bound beside it asks for the exact value
        # (MDE_NEEDS).
        f.mde_needs["anemia"] = ("labs.hemoglobin.reference_range",)


def _renal(f: Facts, creatinine: Quantity | None, clearance: Quantity | None, egfr: Quantity | None) -> None:
    """§2.1 R: creatinine clearance < 40 mL/min, or creatinine > 177 µmol/L (> 2 mg/dL)."""
    # ref: §2.1 R — creatinine > 177 µmol/L (> 2 mg/dL).
    r_cr = C.CREATININE.on_quantity(f, creatinine)
    # ref: §2.1 R — clearance < 40 mL/min, measured or estimated by a validated equation: an eGFR is
    # that estimate when no measured clearance is sent (said in the note), and the CKD-EPI 2021
    # estimate when neither is sent (Facts.egfr_estimate).
    used = clearance if clearance is not None else egfr
    note = None
    if clearance is None and egfr is not None:
        note = EGFR_ESTIMATED if f.egfr_estimate is not None else EGFR_AS_CLEARANCE
    elif clearance is not None and egfr is not None:
        note = _egfr_disagrees(clearance, egfr)
    if used is None and creatinine is not None and r_cr is False:
        r_cl = _clearance_without_estimate(f, creatinine)
    else:
        r_cl = C.CLEARANCE.on_quantity(f, used, note)
    f.mde["renal_insufficiency"] = either(r_cr, r_cl)
    needs = _renal_needs(creatinine, clearance, r_cr, r_cl)
    if needs:
        f.mde_needs["renal_insufficiency"] = needs
    # Operational choice: a creatinine that decides its rule, with no clearance or eGFR and no estimate
    # (age or sex not given), does not hold the category open; its clearance rule stays not_assessable
    # in criteria[] and in the comment. A bound that its rule cannot decide counts as not done.
    f.mde_measured["renal_insufficiency"] = (
        (creatinine is not None or used is not None)
        and (creatinine is None or r_cr is not None)
        and (used is None or r_cl is not None)
    )
    if f.renal_open:
        f.mde_measured["renal_insufficiency"] = False


def _egfr_disagrees(clearance: Quantity, egfr: Quantity) -> str | None:
    """The note naming an eGFR sent beside a measured clearance when the two decide §2.1 R's
    clearance < 40 differently (the measured clearance decides; the eGFR is never dropped unseen)."""
    cutoff = R.CREATININE_CLEARANCE_ML_MIN  # ref: §2.1 R — clearance < 40 mL/min
    by_clearance, by_egfr = lt(clearance.interval, cutoff), lt(egfr.interval, cutoff)
    if by_egfr is None or by_clearance is None or by_egfr is by_clearance:
        return None
    shown = f"{_comp(egfr) or ''}{float(egfr.value):g} mL/min/1.73m2"
    return (
        f"The measured clearance decides; the eGFR sent ({shown}) {'is' if by_egfr else 'is not'} below "
        f"{cutoff:g} and would decide otherwise: the two disagree (§2.1 R accepts either), for clinical "
        "review"
    )


def _clearance_without_estimate(f: Facts, creatinine: Quantity) -> Tri:
    """§2.1 R with a creatinine that does not meet its own rule and no clearance, eGFR or estimate (age or
    sex not given, or age < 18): not met only when the CKD-EPI 2021 equation stays >= 40 for every
    plausible adult age and either sex (egfr.lowest_plausible; never for a patient under 18, whom the
    adults' equation does not describe); otherwise not assessable, and the
    category stays open until a clearance or eGFR is sent (the conservative reading: the reference gives
    no rule for an unestimable creatinine)."""
    patient = f.panel.patient
    lowest = lowest_plausible(
        creatinine,
        patient.age_years if patient is not None else None,
        patient.sex if patient is not None else None,
    )
    # ref: §2.1 R — clearance < 40 mL/min.
    settled = lowest is not None and lowest >= R.CREATININE_CLEARANCE_ML_MIN
    if not settled:
        f.renal_open = True
    # ref: §2.1 R — the CKD-EPI 2021 estimate is for age >= 18.
    child = (
        patient is not None and patient.age_years is not None and patient.age_years < R.CKD_EPI_MIN_AGE_YEARS
    )
    why = _NO_ESTIMATE_CHILD if child else _NO_ESTIMATE_WHY[settled]
    return C.CLEARANCE.record(f, False if settled else None, None, note=why)


# Why the clearance rule is settled or open without an estimate, worded from the CLEARANCE row (§2.1 R)
# and the equation's minimum age (ruleset.CKD_EPI_MIN_AGE_YEARS).
_NO_ESTIMATE = (
    f"no clearance or eGFR, and no estimate (age >= {C.fmt(R.CKD_EPI_MIN_AGE_YEARS)} and sex female or male "
    "needed): "
)
_NO_ESTIMATE_WHY = {
    True: _NO_ESTIMATE
    + C.stated(C.CLEARANCE, "the CKD-EPI 2021 equation stays", met=False).removesuffix(f" {C.CLEARANCE.unit}")
    + " for this creatinine at any plausible adult age and either sex",
    False: _NO_ESTIMATE
    + f"at some plausible age or sex this creatinine gives a CKD-EPI 2021 estimate {C.CLEARANCE.op} "
    f"{C.fmt(C.CLEARANCE.cutoff)}; send a measured creatinine clearance or an eGFR",
}
_NO_ESTIMATE_CHILD = (
    "no clearance or eGFR: the CKD-EPI 2021 equation is for adults "
    f"(age >= {C.fmt(R.CKD_EPI_MIN_AGE_YEARS)}) and says nothing of a child's clearance at this "
    "creatinine; send a measured creatinine clearance or an eGFR"
)


def _renal_needs(
    creatinine: Quantity | None, clearance: Quantity | None, r_cr: Tri, r_cl: Tri
) -> tuple[str, ...]:
    """The fields that would settle an open §2.1 R, never one that was sent and decided its rule."""
    if creatinine is None and r_cl is None and clearance is None:
        return ()  # nothing usable sent: MDE_NEEDS (creatinine, eGFR)
    needs: list[str] = []
    if r_cl is None:
        needs.append("labs.creatinine_clearance" if clearance is not None else "labs.egfr")
    if r_cr is None and creatinine is not None and r_cl is not True:
        needs.append("labs.creatinine")
    return tuple(needs)


def _light_chain_ratio(f: Facts) -> None:
    """§2.1 Li: involved/uninvolved FLC ratio ≥ 100 with the involved chain ≥ 100 mg/L (Freelite)."""
    # Judged on whichever chain is in excess, so a second clone (or light-chain escape) opposite the
    # heavy-chain clone's light chain is not missed; a chain below 100 mg/L settles it on its own.
    row = C.FLC_RATIO_100
    li: Tri = None
    kappa_side: Tri = None
    lambda_side: Tri = None
    flc_in = f.panel.flc
    if flc_in is not None and flc_in.kappa is not None and flc_in.lambda_ is not None:
        r = f.ratio
        kappa_side = both(
            None if r is None else row.compare(r, row.cutoff),  # type: ignore[misc,arg-type]
            row.compare(flc_in.kappa.interval, row.alt),  # type: ignore[misc,arg-type]
        )
        lambda_side = both(
            None  # λ/κ divided exactly (the reciprocal of a rounded κ/λ can fall short of 100)
            if r is None
            else row.compare(flc_in.lambda_.interval.over(flc_in.kappa.interval), row.cutoff),  # type: ignore[misc,arg-type]
            row.compare(flc_in.lambda_.interval, row.alt),  # type: ignore[misc,arg-type]
        )
        li = either(kappa_side, lambda_side)
    flc = f.flc
    note = None
    # A non-IgM heavy-chain clone (an IgM clone's SLiM findings are its "myeloma features", §2.5).
    lc = single_light_chain(f.panel) if f.heavy_chains and HeavyChain.IGM not in f.heavy_chains else None
    if lc is not None and li is True:
        clone_side, other_side = (
            (kappa_side, lambda_side) if lc is LightChain.KAPPA else (lambda_side, kappa_side)
        )
        if other_side is True and clone_side is not True:
            # ref: §2.1 Li — the involved chain is the clone's: a ratio of >= 100 on the other chain (an
            # IgG-kappa clone beside lambda 1000 / kappa 5 mg/L) is a possible second, light-chain clone,
            # not this clone's biomarker: discordant, to be settled by repeating FLC and immunofixation.
            f.li_discordant = True
            li = None
            note = (
                f"ratio >= 100 only on the chain opposite the clone's {lc} light chain (a possible second "
                "clone, or an error): repeat serum free light chains and immunofixation (§2.1)"
            )
    measured = li is not None
    if li is None and not f.li_discordant and flc_in is not None:
        # Both chains sent, one as a bound that leaves the rule open: the bound chain is what is needed,
        # never the chain already given exactly.
        bounds = tuple(
            n
            for n, q in (("flc.kappa", flc_in.kappa), ("flc.lambda", flc_in.lambda_))
            if q is not None and not q.interval.exact
        )
        if bounds and flc_in.kappa is not None and flc_in.lambda_ is not None:
            f.mde_needs["flc_ratio_ge_100"] = bounds
    if flc is not None and flc.assay != "freelite":
        # ref: §2.1 Li / §4 — validated on Freelite only: not assessable with another assay; values that
        # would meet it are escalated (urgent Freelite measurement, haematology review) and hold the
        # category open until a Freelite result is sent.
        f.li_escalated = li is True
        note = (
            f"measured with {ASSAY_WORDS.get(flc.assay, flc.assay)}: the threshold was validated on "
            "Freelite only"
            + (
                "; the ratio would meet it: urgent Freelite measurement and haematology review"
                if f.li_escalated
                else ""
            )
        )
        li, measured = None, li is not None and not f.li_escalated
        if f.li_escalated:
            f.mde_needs["flc_ratio_ge_100"] = ("flc.assay",)
    f.mde["flc_ratio_ge_100"] = row.record(
        f, li, flc.involved_uninvolved_ratio if flc else None, "ratio", None, note
    )
    f.mde_measured["flc_ratio_ge_100"] = measured


# An FLC assay as a sentence names it.
ASSAY_WORDS = {
    "freelite": "the Freelite assay",
    "n_latex": "the Siemens N Latex assay",
    "sebia": "the Sebia assay",
    "other": "an assay other than Freelite",
}


def _comp(q: Quantity) -> str | None:
    c = q.comparator
    return None if c is None else _COMP_TEXT[c]
