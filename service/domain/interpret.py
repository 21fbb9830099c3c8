"""The engine's one entry point: interpret(panel) -> Interpretation."""

from __future__ import annotations

from typing import Any

from . import advice
from .classify import classify
from .egfr import EGFR_UNIT, INPUTS
from .facts import Facts, build_facts
from .flags import build_flags, ivig_window_end, ordered, scleromyxedema_status, thyroid_abnormal
from .panel import HeavyChain, Panel
from .results import MGUS_CODES, Classification, Code, Flag, Interpretation
from .risk import assess
from .ruleset import RULESET_VERSION
from .serial import serial_flags

MGCS_LABEL = (
    "Monoclonal gammopathy of clinical significance (MGCS: scleromyxoedema{status}), not of undetermined "
    "significance; the clone is in the {range} range"
)
MGCS_STATUS_WORDS = {"suspected": " suspected"}
SERIAL_WORDS = {
    "EVOLVING_M_PROTEIN": "the evolving M-protein rule",
    "EVOLVING_HEMOGLOBIN": "the evolving haemoglobin rule",
    "RISING_M_PROTEIN_SUCCESSIVE": "the rule of an M-protein rising on two successive results",
}
MGCS_RANGE = {"MGUS_NON_IGM": "non-IgM MGUS", "MGUS_IGM": "IgM MGUS", "MGUS_LIGHT_CHAIN": "light-chain MGUS"}


def interpret(panel: Panel) -> Interpretation:
    """Classify, stratify and flag one patient's work-up."""
    facts = build_facts(panel)
    out = classify(facts)
    if out.code is Code.INDETERMINATE:
        out.provisional = bool(out.missing)  # however the outcome was built (see classify._indeterminate)
    risk = assess(facts, out.code)
    flags = build_flags(facts, out, risk)
    if panel.history:
        flags.extend(_serial(panel, facts, out.code))
    if out.igm_logic:
        facts.notes.append(
            "IgM gammopathies do not use the myeloma CRAB logic (clinical-reference §2.5): the CRAB/SLiM "
            "criteria are listed for information only."
        )
    label = out.label
    if out.code in MGUS_CODES and any([fl.code == "MGCS_SCLEROMYXEDEMA" for fl in flags]):
        status = MGCS_STATUS_WORDS.get(scleromyxedema_status(facts) or "", "")
        label = out.label = MGCS_LABEL.format(status=status, range=MGCS_RANGE[out.code])
        # ref: §5 — never "of undetermined significance" anywhere in an MGCS answer: a risk model that
        # does not apply names the category as the answer does.
        for r in risk.values():
            if r.reason and "the category is " in r.reason:
                r.reason = r.reason.split("the category is ", 1)[0] + "the category is " + _lower_first(label)
    extra = _scleromyxoedema_missing(panel, facts, flags)
    if "urine.ife" in extra and out.code in (Code.INDETERMINATE, Code.NO_MONOCLONAL_PROTEIN):
        out.provisional = True  # ref: §5 — a positive urine immunofixation would place a clone
    missing = list(dict.fromkeys(out.missing + [n for r in risk.values() for n in r.needed] + extra))
    flags_t = ordered(flags)
    recs = advice.recommendations(facts, out, risk, flags_t, missing)
    text = advice.comment(facts, out, risk, flags_t, recs, missing)
    # The list and the MYELOMA_DEFINING_EVENT flag always agree: both name every §2.1 event met beside
    # a monoclonal protein. Beside an IgM clone they are listed too (the contract's "any CRAB feature or
    # SLiM biomarker present"), while the category does not rest on them (§2.5: the IgM criteria do not
    # use the myeloma CRAB logic; the flag and a note say so). Without a monoclonal protein nothing is
    # attributable to a clone (§2.1): the values are in criteria[] and CRAB_WITHOUT_MONOCLONAL_PROTEIN.
    mde = (
        ()
        if out.code is Code.NO_MONOCLONAL_PROTEIN
        else tuple([k for k, v in facts.mde.items() if v is True])
    )
    return Interpretation(
        RULESET_VERSION,
        Classification(out.code, label, out.provisional, out.isotype, tuple(out.reasons)),
        tuple(facts.criteria),
        mde,
        facts.flc,
        risk,
        flags_t,
        tuple(recs),
        tuple(missing),
        text,
        tuple(facts.notes),
        _derived(facts),
    )


def _lower_first(label: str) -> str:
    return label[0].lower() + label[1:]


def _serial(panel: Panel, facts: Facts, code: Code) -> list[Flag]:
    """§3.5 flags across the dated panels; with no monoclonal protein now, a note instead of a flag."""
    last = panel.clinical.ivig_last_dose_on if panel.clinical is not None else None
    ivig = last is not None and HeavyChain.IGG in facts.heavy_chains
    s_flags, s_notes = serial_flags(panel, ivig_window_end(last) if ivig and last is not None else None)
    out = s_flags
    if s_flags and code is Code.NO_MONOCLONAL_PROTEIN:
        # §3.5 describes a clone's progression: with no monoclonal protein found now, a serial
        # finding is reported as a note, not as a flag asking for haematology review.
        facts.notes.append(
            "Serial results meet "
            + ", ".join(SERIAL_WORDS.get(fl.code, fl.code) for fl in s_flags)
            + " (clinical-reference §3.5), but no monoclonal protein is detected on this panel: not "
            "raised as a flag; review the earlier results if a clone was known."
        )
        out = []
    facts.notes.extend(s_notes)
    return out


def _scleromyxoedema_missing(panel: Panel, facts: Facts, flags: list[Flag]) -> list[str]:
    """What would settle a scleromyxoedema (§5) that the category itself does not ask for."""
    extra: list[str] = []
    clinical = panel.clinical
    if clinical is not None and scleromyxedema_status(facts) == "suspected":
        # What would settle a suspected scleromyxoedema (§5): the diagnosis, or the histology (3).
        if clinical.scleromyxedema is None and clinical.histology_mucin_fibrosis is None:
            extra.append("clinical.histology_mucin_fibrosis")
        if thyroid_abnormal(facts) is None:
            extra.append("labs.tsh")  # Rongioletti (4): a TSH with its range, or a stated absence
    if any(fl.code == "SCLEROMYXEDEMA_NO_PARAPROTEIN" for fl in flags) and (
        panel.urine is None or panel.urine.ife is None
    ):
        extra.append("urine.ife")  # §5: repeat serum/urine IFE; a positive urine IFE would place a clone
    return extra


def _derived(facts: Facts) -> dict[str, Any]:
    """Values the service computed (api-contract 1.1): the CKD-EPI 2021 eGFR of §2.1 R."""
    e = facts.egfr_estimate
    if e is None:
        return {}
    comp = e.quantity.comparator
    return {
        "egfr": {
            "value": e.display,
            "unit": EGFR_UNIT,
            "comparator": None if comp is None else str(comp),
            "method": "CKD-EPI 2021",
            "inputs": list(INPUTS),
            "note": "Race-free CKD-EPI 2021 (Inker et al., N Engl J Med 2021;385:1737-49); assumes a stable "
            "creatinine; used for the renal criterion and the renal FLC interval (clinical-reference §2.1, "
            "§4). Shown to one decimal (more where one decimal would read as the cut-off of 40 or 60); the "
            "rules use the unrounded estimate.",
        }
    }
