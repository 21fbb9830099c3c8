"""Flags: MGCS and scleromyxoedema (clinical-reference §5) and the operational flags of the contract."""

from __future__ import annotations

from datetime import date

from . import criteria as C
from . import ruleset as R
from .catalogue import FLAGS, SERUM_PARAPROTEIN_TESTS, tests_words
from .classify import Outcome, screen_tests_not_done
from .facts import ASSAY_WORDS, MDE_NAMES, Facts
from .panel import Clinical, IfeResult, Scleromyxedema
from .quantity import ZERO, band_below_limit, ge, gt, lt
from .results import Code, Flag, RiskResult, Severity
from .serial import add_months
from .tri import Tri, any_of, both, either, negate

RONGIOLETTI_SRC = R.RONGIOLETTI
CLONE_SHOWN = frozenset(
    {
        Code.MGUS_NON_IGM,
        Code.MGUS_IGM,
        Code.MGUS_LIGHT_CHAIN,
        Code.SMOLDERING_MYELOMA_LIGHT_CHAIN,
        Code.WALDENSTROM_RANGE,
    }
)
REFERRAL_CODES = frozenset(
    {
        Code.SMOLDERING_MYELOMA,
        Code.SMOLDERING_MYELOMA_LIGHT_CHAIN,
        Code.MULTIPLE_MYELOMA,
        Code.WALDENSTROM_RANGE,
        Code.SOLITARY_PLASMACYTOMA,
    }
)
# What a clone beyond the MGUS range is, in the words of a scleromyxoedema flag (§5: MGCS is a clone
# "not malignant by size"; these are haematological diseases in their own right).
CLONE_BEYOND_MGCS = {
    Code.SMOLDERING_MYELOMA: "a clone in the smouldering-myeloma range",
    Code.SMOLDERING_MYELOMA_LIGHT_CHAIN: "a light-chain clone in the smouldering-myeloma range",
    Code.MULTIPLE_MYELOMA: "multiple myeloma",
    Code.WALDENSTROM_RANGE: "an IgM clone in the Waldenström range",
    Code.SOLITARY_PLASMACYTOMA: "a solitary plasmacytoma",
    # Not beyond MGUS for certain, but not shown to be within it either: no "not malignant by size".
    Code.INDETERMINATE: "a monoclonal protein whose category is not settled yet",
}
_ORDER = {Severity.URGENT: 0, Severity.REFER: 1, Severity.INFO: 2}

CRAB_EVENTS = frozenset({"hypercalcemia", "renal_insufficiency", "anemia", "bone_lesions"})


def monoclonal_protein_detected(f: Facts) -> Tri:
    """Whether any test shows a monoclonal protein (None: nothing positive, something undecided)."""
    p = f.panel
    signals: list[Tri] = []
    if p.serum_ife is not None:
        signals.append(p.serum_ife.result is IfeResult.POSITIVE)
    if f.serum_mp is not None:
        # ref: §6 — an M-protein sent below a limit ("< 16 g/L") is a peak seen but not quantified; with
        # no immunofixation to say otherwise it shows a monoclonal protein.
        signals.append(
            True if p.serum_ife is None and band_below_limit(f.serum_mp) else gt(f.serum_mp.interval, ZERO)
        )
    if p.urine is not None:
        if p.urine.ife is not None:
            signals.append(p.urine.ife.result is IfeResult.POSITIVE)
        if f.urine_mp is not None:
            signals.append(gt(f.urine_mp.interval, ZERO))
    if f.flc is not None:
        # An abnormal ratio counts as a clone only with the involved chain not shown normal (§2.6).
        signals.append(
            None
            if f.flc.abnormal is True and f.flc.involved_raised is None
            else bool(f.flc.abnormal and f.flc.involved_raised)
        )
    return any_of(signals) if signals else None


def paraprotein_tests_not_done(f: Facts) -> list[str]:
    """The sensitive tests for a small paraprotein that were not done: a negative electrophoresis alone
    does not exclude the small clones of scleromyxoedema (§5: repeat serum/urine IFE and FLC)."""
    p = f.panel
    return [
        test
        for test, missing in (
            ("serum_ife", p.serum_ife is None),
            ("flc", f.flc is None or f.flc.abnormal is None),
            ("urine_ife", p.urine is None or p.urine.ife is None),
        )
        if missing
    ]


def scleromyxedema_status(f: Facts) -> str | None:
    """'confirmed', 'suspected' (also when the eruption and histology criteria are both reported)
    or None."""
    c = f.panel.clinical
    if c is None:
        return None
    if c.scleromyxedema in (Scleromyxedema.CONFIRMED, Scleromyxedema.SUSPECTED):
        return str(c.scleromyxedema)
    if c.scleromyxedema is None and _eruption_reported(c) and c.histology_mucin_fibrosis is not False:
        # Rongioletti (1), the generalised papular and sclerodermoid eruption, reported without a
        # stated diagnosis and with the histology (3) pending or typical: treat as suspected, so that
        # the MGCS referral and, with fever or neurological signs, the dermato-neuro emergency are
        # never lost while the biopsy is awaited (§5). A histology reported negative rules it out.
        return "suspected"
    if (
        c.scleromyxedema is Scleromyxedema.ABSENT
        and _eruption_reported(c)
        and c.histology_mucin_fibrosis is True
        and thyroid_abnormal(f) is not True
    ):
        # Rongioletti (1) and (3) reported met, (4) not refuted, contradict a stated absence: the
        # referral and the emergency are not lost to the contradiction, which is said (build_flags).
        # With thyroid disease (4 not met) the stated absence is consistent and stands.
        return "suspected"
    return None


def _eruption_reported(c: Clinical) -> bool:
    """Rongioletti (1), the generalised papular and sclerodermoid eruption, reported present."""
    return c.papular_eruption is True and c.sclerodermoid_induration is True


def thyroid_abnormal(f: Facts) -> Tri:
    """Thyroid disease reported, or TSH outside its own reference range."""
    c = f.panel.clinical
    labs = f.panel.labs
    tsh = labs.tsh if labs else None
    disease: Tri = c.thyroid_disease if c else None
    tsh_out: Tri = None
    if tsh is not None and tsh.reference_range is not None:
        rr = tsh.reference_range
        tsh_out = either(lt(tsh.interval, rr.low), gt(tsh.interval, rr.high))
    if True in (disease, tsh_out):
        return True
    # Either a stated absence of thyroid disease or a TSH within its range settles Rongioletti (4)
    # ("absence of thyroid disease (TSH within its range)"), unless the other says otherwise.
    return False if False in (disease, tsh_out) else None


def _tsh_without_range(f: Facts) -> bool:
    labs = f.panel.labs
    return labs is not None and labs.tsh is not None and labs.tsh.reference_range is None


def rongioletti_criteria(f: Facts, mp: Tri, thyroid: Tri) -> None:
    """Record the four scleromyxoedema criteria (Rongioletti) when the skin is part of the work-up."""
    c = f.panel.clinical
    if c is None or (
        c.scleromyxedema is None
        and c.papular_eruption is None
        and c.sclerodermoid_induration is None
        and c.histology_mucin_fibrosis is None
    ):
        return
    eruption = both(c.papular_eruption, c.sclerodermoid_induration)
    C.RONGIOLETTI_ERUPTION.record(f, eruption, None)
    C.RONGIOLETTI_MP.record(f, mp, None)
    C.RONGIOLETTI_HISTOLOGY.record(f, c.histology_mucin_fibrosis, None)
    C.RONGIOLETTI_THYROID.record(
        f,
        negate(thyroid),
        None,
        note="TSH sent without a reference range: not used" if _tsh_without_range(f) else None,
    )


def build_flags(f: Facts, out: Outcome, risk: dict[str, RiskResult]) -> list[Flag]:
    """All flags for the panel, most urgent first."""
    flags: list[Flag] = []
    c = f.panel.clinical
    sclero = scleromyxedema_status(f)
    mp = monoclonal_protein_detected(f)
    if mp is not True and out.code in CLONE_SHOWN:
        mp = True  # the category itself rests on a monoclonal protein (e.g. light-chain MGUS)
    thyroid = thyroid_abnormal(f)
    not_done = paraprotein_tests_not_done(f) if sclero is not None and mp is not True else []
    # Rongioletti (2) is not met only once serum immunofixation and FLC were done and found nothing
    # (urine immunofixation is asked for, but a serum IFE and FLC that find nothing settle it).
    screened = not SERUM_PARAPROTEIN_TESTS.intersection(not_done)
    # An FLC ratio outside its interval did not "find nothing", even without a raised involved chain
    # (§2.6 does not place it as a clone): the criterion is open, not absent.
    flc_unsettled = f.flc is not None and f.flc.abnormal is True
    rongioletti_criteria(f, mp if mp is not False or (screened and not flc_unsettled) else None, thyroid)
    if (
        c is not None
        and c.scleromyxedema is Scleromyxedema.CONFIRMED
        and False in (c.papular_eruption, c.sclerodermoid_induration, c.histology_mucin_fibrosis)
    ):
        # The stated diagnosis is kept (the clinician's), but the contradiction is said.
        f.notes.append(
            "Scleromyxoedema is reported confirmed although Rongioletti criterion (1) or (3) is reported "
            "absent: check the clinical data (clinical-reference §5)."
        )
    if (
        c is not None
        and c.scleromyxedema is Scleromyxedema.ABSENT
        and _eruption_reported(c)
        and c.histology_mucin_fibrosis is not False
        and thyroid is not True
    ):
        f.notes.append(
            "Scleromyxoedema is reported absent although Rongioletti criteria (1) and (3) are reported met: "
            "it is treated as suspected, so that the MGCS referral and the dermato-neuro emergency are not "
            "lost; check the clinical data (clinical-reference §5)."
            if sclero is not None
            else "Scleromyxoedema is reported absent although Rongioletti criterion (1), the generalised "
            "papular and sclerodermoid eruption, is reported met and the histology (3) is not given: "
            "check the clinical data (clinical-reference §5)."
        )
    if sclero is not None:
        flags.extend(_scleromyxoedema_flags(f, out, sclero, mp is True, not_done, thyroid))
    met = [k for k, v in f.mde.items() if v is True]
    event = _event_flag(f, out, met)
    if event is not None:
        flags.append(event)
    li = _li_non_freelite(f)
    if li is not None:
        flags.append(li)
    marrow_flag = _marrow_indicated(f, out, risk, sclero is not None and mp is True)
    if marrow_flag:
        flags.append(FLAGS["MARROW_EXAMINATION_RECOMMENDED"].make(marrow_flag))
    referral = _referral_flag(f, out, met)
    if referral is not None:
        flags.append(referral)
    flags.extend(_flc_flags(f))
    ivig = ivig_flag(f)
    if ivig is not None:
        flags.append(ivig)
    return flags


_SRC5 = "clinical-reference §5"


def _scleromyxoedema_flags(
    f: Facts, out: Outcome, sclero: str, mp: bool, not_done: list[str], thyroid: Tri
) -> list[Flag]:
    """§5: MGCS or a scleromyxoedema without paraprotein, the dermato-neuro emergency, thyroid disease."""
    flags: list[Flag] = []
    c = f.panel.clinical
    if thyroid is True:
        # Rongioletti (4), the absence of thyroid disease, is not met: the diagnosis stands as reported
        # (the referral with it), but never as if every criterion held (THYROID_DISEASE_EXCLUSION).
        sclero = f"{sclero} as reported; thyroid disease to exclude first, Rongioletti criterion 4"
    if mp:
        flags.append(
            FLAGS["MGCS_SCLEROMYXEDEMA"].make(
                (
                    (
                        f"Monoclonal gammopathy with scleromyxoedema ({sclero}): a monoclonal gammopathy "
                        "of clinical significance (MGCS), not of undetermined significance. The skin "
                        "disease, not the size of the clone, drives the referral (mortality above 20 %). "
                        "Refer to haematology and dermatology."
                    )
                    if out.code not in CLONE_BEYOND_MGCS
                    else (
                        f"Scleromyxoedema ({sclero}) with {CLONE_BEYOND_MGCS[out.code]}: the clonal "
                        "disorder needs haematology in its own right, and the skin disease (mortality "
                        "above 20 %) needs dermatology alongside. Refer to haematology and dermatology."
                    )
                )
                + f" {R.IVIG_CONTEXT} ({R.FERMAND_2018}; {R.RONGIOLETTI}; {_SRC5})",
            )
        )
    else:
        flags.append(
            FLAGS["SCLEROMYXEDEMA_NO_PARAPROTEIN"].make(
                f"Scleromyxoedema ({sclero}) without a detected monoclonal protein"
                + (
                    " (an FLC ratio outside its interval without a raised involved light chain does not "
                    "place a clone, clinical-reference §2.6)"
                    if f.flc is not None and f.flc.abnormal is True
                    else ""
                )
                + ": about 10 % of patients have no detectable paraprotein at first. "
                + (
                    f"Not done yet: {tests_words(not_done)}: "
                    f"do {'it' if len(not_done) == 1 else 'them'}; "
                    "if no paraprotein is found, repeat serum and urine immunofixation and serum free "
                    "light chains; "
                    if not_done
                    else "Repeat serum and urine immunofixation and serum free light chains; "
                )
                + f"refer to dermatology and haematology ({R.RONGIOLETTI}; {_SRC5}).",
            )
        )
    if c is not None and (c.fever is True or c.neurologic_signs is True):
        signs = " and ".join(
            n for n, v in (("fever", c.fever), ("neurological signs", c.neurologic_signs)) if v
        )
        flags.append(FLAGS["DERMATO_NEURO_SYNDROME"].render(signs=signs))
    if thyroid is True:
        flags.append(FLAGS["THYROID_DISEASE_EXCLUSION"].render())
    return flags


def _event_flag(f: Facts, out: Outcome, met: list[str]) -> Flag | None:
    """§2.1: the events met, beside a clone (MYELOMA_DEFINING_EVENT) or without one."""
    if met and out.code is Code.NO_MONOCLONAL_PROTEIN:
        return _crab_without_monoclonal_protein(f, met)
    if met:
        # api-contract: raised for any CRAB feature or SLiM biomarker present, whatever the clone.
        # Beside an IgM clone the findings do not change the category (§2.5: the IgM criteria do not
        # use the myeloma CRAB logic), but hypercalcaemia, renal failure, anaemia or lesions still need
        # urgent assessment, and IgM myeloma is rare, not impossible.
        names = ", ".join(MDE_NAMES[k] for k in met)
        return FLAGS["MYELOMA_DEFINING_EVENT"].make(
            (
                f"Myeloma-defining event(s) beside an IgM clone: {names}. The IgM criteria do not use "
                "the myeloma CRAB/SLiM logic (clinical-reference §2.5), so the category does not rest "
                "on them; IgM myeloma and other causes need haematological assessment."
                if out.igm_logic
                else f"Myeloma-defining event(s): {names}."
            )
            + (
                " CRAB features must be confirmed clinically as attributable to the plasma-cell disorder."
                if any(k in CRAB_EVENTS for k in met)
                else ""
            )
            + _estimate_caveat(f)
            + f" ({R.IMWG_2014}; clinical-reference §2.1).",
            tuple({"event": k} for k in met),
        )
    return None


def _referral_flag(f: Facts, out: Outcome, met: list[str]) -> Flag | None:
    """HEMATOLOGY_REFERRAL: the category, a plasmacytoma, or events beside an IgM clone."""
    c = f.panel.clinical
    if out.code in REFERRAL_CODES or (
        out.code is Code.INDETERMINATE
        and (
            (met and not out.igm_logic)
            or out.igm_logic
            or out.refer
            or (c is not None and c.amyloidosis is True)
        )
    ):
        return FLAGS["HEMATOLOGY_REFERRAL"].make(f"{out.label}: refer to haematology.")
    elif c is not None and c.plasmacytoma is True:
        # api-contract: HEMATOLOGY_REFERRAL for a plasmacytoma, whatever category the rest allows (a
        # biopsy-proven plasma-cell tumour that §2.8 cannot place is still a haematology case).
        return FLAGS["HEMATOLOGY_REFERRAL"].make(
            f"{out.label}: biopsy-proven plasmacytoma; refer to haematology.",
        )
    elif met and out.igm_logic:
        # The urgent MYELOMA_DEFINING_EVENT beside an IgM clone asks for haematological assessment: the
        # referral goes with it, or the MGUS surveillance schedule would be the only action reported.
        return FLAGS["HEMATOLOGY_REFERRAL"].make(
            f"{out.label} with myeloma-defining finding(s): refer to haematology to assess their cause "
            "before the surveillance schedule applies.",
        )
    return None


def _flc_flags(f: Facts) -> list[Flag]:
    """§4: which FLC interval and assay the ratio was judged on."""
    flags: list[Flag] = []
    if f.flc is not None and f.flc.renal_interval:
        flags.append(
            FLAGS["RENAL_FLC_INTERVAL_APPLIED"].make(
                f"FLC ratio judged against {f.flc.basis} "
                f"({f.flc.interval_low}-{f.flc.interval_high})"
                + (" on the CKD-EPI 2021 eGFR estimate (§2.1)" if f.egfr_estimate is not None else "")
                + " (clinical-reference §4).",
            )
        )
    if f.flc is not None and f.flc.assay != "freelite":
        flags.append(FLAGS["NON_FREELITE_ASSAY"].render(assay=ASSAY_WORDS.get(f.flc.assay, f.flc.assay)))
    return flags


# ref: §2.9 — R or A met: light-chain cast nephropathy may be missed by SPEP.
SCREEN_EVENTS = ("renal_insufficiency", "anemia")


def _crab_without_monoclonal_protein(f: Facts, met: list[str]) -> Flag:
    """CRAB-range values with no monoclonal protein found (§2.1, §2.9)."""
    # ref: §2.1 — CRAB is end-organ damage attributable to a plasma-cell disorder; with none found
    # (classify only gets here with CRAB-range values, never a SLiM biomarker) it is not myeloma-
    # defining, but it is reported, with what would still exclude a clone.
    names = " and ".join(MDE_NAMES[k] for k in met).capitalize()
    not_done = screen_tests_not_done(f)
    if any(k in SCREEN_EVENTS for k in met):
        # ref: §2.9 — renal insufficiency or anaemia: never "other causes are more likely"; the tests
        # SPEP misses (light-chain cast nephropathy) are asked for urgently.
        text = (
            f"{names} without a monoclonal protein detected so far: light-chain disease (light-chain cast "
            "nephropathy) may be missed by serum protein electrophoresis (clinical-reference §2.9). "
            + (
                f"Urgent: {tests_words(not_done, ' and ')}."
                if not_done
                else "Serum immunofixation and free light chains found no clone; if a plasma-cell disorder "
                "is still suspected clinically, refer to haematology."
            )
        )
        urgent = bool(not_done)
    else:
        text = (
            f"{names} without a detectable monoclonal protein: not attributable to a plasma-cell disorder "
            "on these results (clinical-reference §2.1); other causes are more likely."
            + (
                " Serum free light chains are needed to exclude light-chain disease."
                if f.flc is None or f.flc.abnormal is None
                else ""
            )
            + " Non-secretory myeloma is rare: if it is still suspected clinically, refer to haematology."
        )
        urgent = False
    # The catalogue's severity (urgent, to haematology) while screening tests are missing; else information.
    return FLAGS["CRAB_WITHOUT_MONOCLONAL_PROTEIN"].make(
        text, tuple({"event": k} for k in met), other=not urgent
    )


def _estimate_caveat(f: Facts) -> str:
    """§2.1 R: renal insufficiency resting on the CKD-EPI 2021 estimate alone says what it assumes."""
    if f.egfr_estimate is None or f.mde.get("renal_insufficiency") is not True:
        return ""
    if any(c.id == "mde.renal_insufficiency.creatinine" and c.status == "met" for c in f.criteria):
        return ""
    return (
        " Renal insufficiency rests on the CKD-EPI 2021 eGFR estimate: it assumes a stable creatinine, and "
        "many older patients have an eGFR below 40 from other causes."
    )


def _li_non_freelite(f: Facts) -> Flag | None:
    """§2.1 Li with another assay: values that would meet the threshold are escalated, never silent."""
    if not f.li_escalated or f.flc is None:
        return None
    return FLAGS["FLC_SLIM_RANGE_NON_FREELITE"].render(assay=ASSAY_WORDS.get(f.flc.assay, f.flc.assay))


def ivig_window_end(last_dose: date) -> date:
    """The last day of the §5 window: the same day of the month IVIG_WINDOW_MONTHS later (the month's
    end when that day does not exist)."""
    # ref: §5 — "about 3 months after the last dose", read as calendar months (ruleset.IVIG_WINDOW_MONTHS).
    return add_months(last_dose, R.IVIG_WINDOW_MONTHS)


def ivig_flag(f: Facts) -> Flag | None:
    """§5: IgG-based values unreliable within the window after the last IVIg dose."""
    c, on = f.panel.clinical, f.panel.collected_on
    last = c.ivig_last_dose_on if c is not None else None
    if last is None or on is None or on > ivig_window_end(last):
        return None
    dated = (
        " (the panel is dated today: its collection date was not given)"
        if f.panel.collected_on_assumed
        else ""
    )
    text = (
        f"Last IVIg dose on {last.isoformat()}, within 3 months of this panel{dated}: IVIg is polyclonal "
        "IgG, so serum IgG and an IgG M-protein estimated from total IgG or from the gamma region are "
        "inflated or blurred, and IgG-based values and bounds are unreliable; immunofixation (and serum free "
        "light chains when abnormal) follows the clone (clinical-reference §5)."
    )
    met = [MDE_NAMES[k] for k in SCREEN_EVENTS if f.mde.get(k) is True]
    if met:
        text += (
            f" High-dose IVIg can also raise creatinine or cause haemolysis: the {' and '.join(met)} may "
            "be related to it."
        )
    return FLAGS["IVIG_IGG_UNRELIABLE"].make(text, ({"last_dose_on": last.isoformat()},))


def _marrow_indicated(f: Facts, out: Outcome, risk: dict[str, RiskResult], mgcs: bool) -> str | None:
    """Why a marrow examination is indicated and not given (§2.9, §3.2, §5), or None."""
    marrow = f.panel.marrow
    lpl_given = marrow is not None and marrow.lymphoplasmacytic_infiltrate_percent is not None
    if out.trephine and out.refer:
        return (
            "Flow-cytometry plasma cells at or above 60 % above the marrow figure: the trephine "
            "biopsy (CD138) plasma-cell count is needed urgently, as IMWG takes the higher of aspirate and "
            "biopsy and a marrow figure of 60 % or more is a myeloma-defining event (clinical-reference "
            "§2.1, §2.9)."
        )
    # A marrow result given: for an MGCS with an IgM clone, the lymphoplasmacytic infiltrate (§5: the
    # clone is characterised; §2.5: the IgM criteria read the infiltrate, a plasma-cell figure alone
    # does not characterise it); otherwise either figure.
    if (out.igm_logic and lpl_given) or (f.bmpc is not None and not (out.igm_logic and mgcs)):
        return None
    if out.code is Code.INDETERMINATE and any(v is True for v in f.mde.values()) and not out.igm_logic:
        return (
            "Myeloma-defining event without a marrow result: bone-marrow aspirate and biopsy are "
            "needed urgently to classify (clinical-reference §2.9)."
        )
    return (
        _marrow_for_flow(f, out)
        or _marrow_for_igm(out)
        or (_MARROW_MGCS if mgcs else None)
        or _marrow_for_spike_without_ife(f)
        or _marrow_for_category(out, risk)
    )


_MARROW_MGCS = (
    # ref: §5 — in MGCS the clone is characterised whatever its size: marrow for a monoclonal
    # gammopathy with scleromyxoedema whatever the Mayo risk group, unless a marrow result is given.
    "Monoclonal gammopathy with scleromyxoedema: bone-marrow aspirate and biopsy are recommended whatever "
    "the Mayo risk group, because treatment is directed at the clone (Fermand et al., Blood 2018; "
    "clinical-reference §5)."
)


def _marrow_for_flow(f: Facts, out: Outcome) -> str | None:
    marrow = f.panel.marrow
    flow = marrow.flow_plasma_cells_percent if marrow is not None else None
    if flow is None or flow < R.BMPC_MYELOMA_PERCENT or out.igm_logic:
        return None
    # ref: §2.9 — flow cytometry is never used for the 10 %/60 % thresholds, but it under-estimates:
    # a flow figure at 10 % or more rules out a final MGUS; morphology is needed, urgently at >= 60 %.
    urgent = flow >= R.BMPC_SLIM_PERCENT
    return (
        f"Flow-cytometry plasma cells {float(flow):g} % (at or above the "
        f"{'60' if urgent else '10'} % threshold, and flow under-estimates): the morphological or clonal "
        "plasma-cell percentage of the marrow (aspirate and trephine biopsy) is needed"
        + (" urgently" if urgent else "")
        + " to classify (clinical-reference §2.9)."
    )


def _marrow_for_igm(out: Outcome) -> str | None:
    if out.code is Code.INDETERMINATE and out.igm_logic:
        return (
            "IgM clone that the IgM criteria cannot place without a marrow result: bone-marrow "
            "aspirate and biopsy (lymphoplasmacytic infiltration) are needed "
            "(clinical-reference §2.5)."
        )
    return None


def _marrow_for_spike_without_ife(f: Facts) -> str | None:
    spike = f.serum_mp
    if (
        f.panel.serum_ife is not None
        or spike is None
        or ge(spike.interval, R.MAYO_MGUS_M_PROTEIN_G_L) is False  # a bound leaving 15 g/L open asks too
    ):
        return None
    # ref: §2.9 — every category a spike >= 15 g/L can turn out to be indicates a marrow (§3.2).
    which = (
        "M-spike >= 15 g/L"
        if ge(spike.interval, R.MAYO_MGUS_M_PROTEIN_G_L) is True
        else "M-spike sent as a bound that may be >= 15 g/L"
    )
    return (
        f"{which} without immunofixation: every category it can turn out to be (MGUS with a spike "
        ">= 15 g/L, smouldering myeloma, the Waldenström range) indicates a bone-marrow aspirate and "
        "biopsy (clinical-reference §2.9, §3.2)."
    )


def _marrow_for_category(out: Outcome, risk: dict[str, RiskResult]) -> str | None:
    if out.code in LABEL_SHORT:
        return (
            f"{LABEL_SHORT[out.code]} without a marrow result: bone-marrow aspirate and biopsy are "
            "needed to confirm the category (clinical-reference §2.9)."
        )
    if out.code is Code.MGUS_LIGHT_CHAIN:
        # ref: §3.2 — an abnormal FLC ratio (light-chain MGUS by definition) is not low-risk MGUS.
        return (
            "Light-chain MGUS (abnormal FLC ratio, so not low-risk MGUS): bone-marrow aspirate and "
            f"biopsy at baseline ({R.IMWG_FOLLOW_UP_2010}; clinical-reference §3.2)."
        )
    mayo = risk["mgus_mayo_2005"]
    if (
        out.code in (Code.MGUS_NON_IGM, Code.MGUS_IGM)
        and mayo.possible_groups
        and "low" not in mayo.possible_groups
    ):
        return (
            "Intermediate- or high-risk MGUS: bone-marrow aspirate and biopsy at baseline "
            f"({R.IMWG_FOLLOW_UP_2010}; clinical-reference §3.2)."
        )
    return None


LABEL_SHORT = {
    Code.SMOLDERING_MYELOMA: "Smouldering myeloma",
    Code.SMOLDERING_MYELOMA_LIGHT_CHAIN: "Light-chain smouldering myeloma",
    Code.SOLITARY_PLASMACYTOMA: "Solitary plasmacytoma",
    Code.WALDENSTROM_RANGE: "Waldenström range",
}


def ordered(flags: list[Flag]) -> tuple[Flag, ...]:
    """Most urgent first, otherwise in the order raised."""
    return tuple(sorted(flags, key=lambda fl: _ORDER[fl.severity]))
