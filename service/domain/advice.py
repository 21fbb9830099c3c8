"""Recommendations (follow-up of clinical-reference §3.2) and the narrative comment."""

from __future__ import annotations

from decimal import Decimal

from . import ruleset as R
from .classify import Outcome
from .facts import CRITERION_NAMES, MDE_NAMES, Facts
from .results import Code, Flag, Recommendation, RiskResult, Status

CRAB_TESTS = ("spep", "flc", "hemoglobin", "calcium", "creatinine")
SRC32 = f"{R.IMWG_FOLLOW_UP_2010}; clinical-reference §3.2"


def _d(x: int) -> Decimal:
    return Decimal(x)


MODEL_NAMES = {
    "mgus_mayo_2005": "Mayo 2005 MGUS risk",
    "smm_mayo_2018": "Mayo 2018 20/2/20 SMM risk",
    "smm_imwg_2020": "IMWG 2020 SMM risk score",
}


def _mgus_follow_up(mayo: RiskResult, marrow_done: bool) -> Recommendation:
    groups = set(mayo.possible_groups)
    if groups == {"low"}:
        # ref: §3.2 — low-risk MGUS: SPEP at 6 months, then every 2–3 years if stable.
        return Recommendation(
            "FOLLOW_UP",
            "Low-risk MGUS: repeat serum protein electrophoresis in 6 months, then every 2-3 years if "
            "stable or when symptoms arise. Baseline bone-marrow examination and skeletal survey are "
            f"not routinely indicated ({SRC32}).",
            _d(6), "every 2-3 years if stable, or when symptoms arise", ("spep",),
        )
    if "low" not in groups:
        # ref: §3.2 — intermediate/high-risk MGUS: marrow at baseline; review at 6 months, then yearly.
        marrow = ("the baseline bone-marrow examination this risk group needs has been done"
                  if marrow_done else "bone-marrow aspirate and biopsy at baseline")
        return Recommendation(
            "FOLLOW_UP",
            f"Intermediate- or high-risk MGUS: {marrow}; review at 6 months, then yearly for life "
            f"({SRC32}).",
            _d(6), "yearly for life", CRAB_TESTS,
        )
    return Recommendation(
        "FOLLOW_UP",
        "Review at 6 months (common to every possible risk group). Afterwards: every 2-3 years if the "
        "missing data show low-risk MGUS; yearly for life, with a baseline bone-marrow examination, if "
        f"intermediate or high risk ({SRC32}).",
        _d(6), "depends on the risk group once the missing data are known", CRAB_TESTS,
    )


def recommendations(
    f: Facts, out: Outcome, risk: dict[str, RiskResult], flags: list[Flag], missing: list[str]
) -> list[Recommendation]:
    """What to do next, as structured items."""
    recs: list[Recommendation] = []
    codes = {fl.code for fl in flags}
    if "DERMATO_NEURO_SYNDROME" in codes:
        recs.append(Recommendation("EMERGENCY_ADMISSION",
                                   "Possible dermato-neuro syndrome: emergency admission "
                                   "(clinical-reference §5)."))
    if "MGCS_SCLEROMYXEDEMA" in codes:
        recs.append(Recommendation(
            "REFER_HEMATOLOGY_DERMATOLOGY",
            "Refer to haematology and dermatology for monoclonal gammopathy of clinical significance "
            f"(scleromyxoedema). {R.IVIG_CONTEXT}"))
    if "SCLEROMYXEDEMA_NO_PARAPROTEIN" in codes:
        recs.append(Recommendation(
            "REPEAT_IFE_FLC",
            "Repeat serum and urine immunofixation and serum free light chains: about 10 % of "
            "scleromyxoedema patients have no detectable paraprotein at first (clinical-reference §5).",
            tests=("serum_ife", "urine_ife", "flc")))
    if "MARROW_EXAMINATION_RECOMMENDED" in codes:
        recs.append(Recommendation("MARROW_EXAMINATION",
                                   "Bone-marrow aspirate and biopsy (clinical-reference §2.9, §3.2).",
                                   tests=("marrow",)))
    if out.code in (Code.MGUS_NON_IGM, Code.MGUS_IGM):
        marrow = f.panel.marrow
        marrow_done = f.bmpc is not None or (
            marrow is not None and marrow.lymphoplasmacytic_infiltrate_percent is not None)
        recs.append(_mgus_follow_up(risk["mgus_mayo_2005"], marrow_done))
    elif out.code in (Code.SMOLDERING_MYELOMA, Code.SMOLDERING_MYELOMA_LIGHT_CHAIN):
        # ref: §3.2 — SMM: re-test 2–3 months after recognition; then every 4–6 months for 1 year,
        # then every 6–12 months.
        recs.append(Recommendation(
            "FOLLOW_UP",
            "Smouldering myeloma: re-test 2-3 months after recognition; if stable every 4-6 months for "
            f"1 year, then every 6-12 months ({SRC32}).",
            (_d(2), _d(3)), "every 4-6 months for 1 year, then every 6-12 months", CRAB_TESTS))
    elif out.code is Code.MGUS_LIGHT_CHAIN:
        recs.append(Recommendation(
            "HEMATOLOGY_FOLLOW_UP",
            "Light-chain MGUS: the ruleset holds no follow-up interval specific to it (§3.2 covers "
            "heavy-chain MGUS and SMM); haematology to set surveillance with serum FLC."))
    if out.code is Code.WALDENSTROM_RANGE:
        recs.append(Recommendation(
            "REFER_HEMATOLOGY",
            "Refer to haematology: Waldenström range. Smouldering Waldenström macroglobulinaemia is "
            "usually managed by surveillance, symptomatic disease by treatment; haematology sets which."))
    elif out.code in (Code.MULTIPLE_MYELOMA, Code.SOLITARY_PLASMACYTOMA) or \
            "HEMATOLOGY_REFERRAL" in codes and out.code is Code.INDETERMINATE:
        recs.append(Recommendation(
            "REFER_HEMATOLOGY",
            "Refer to haematology for staging and treatment decisions; a surveillance interval does "
            "not apply." if out.code is not Code.INDETERMINATE else
            "Refer to haematology to complete the assessment; no surveillance interval until the "
            "category is settled."))
    evolving = codes & {"EVOLVING_M_PROTEIN", "EVOLVING_HEMOGLOBIN", "RISING_M_PROTEIN_SUCCESSIVE"}
    if evolving:
        recs.append(Recommendation(
            "EVOLVING_PATTERN_REVIEW",
            f"Serial results show an evolving pattern ({', '.join(sorted(evolving))}): haematology "
            "review now; a risk-based interval above may be too long for this patient "
            "(clinical-reference §3.5)."))
    workup = list(missing)
    if out.code in (Code.MGUS_NON_IGM, Code.MGUS_IGM) and \
            risk["mgus_mayo_2005"].possible_groups == ("low",):
        # ref: §3.2 — low-risk MGUS: baseline marrow and skeletal survey are not routinely indicated;
        # the category stays provisional (§2.9) but they are not asked for.
        workup = [m for m in workup if not m.startswith(("marrow.", "imaging."))]
    if workup:
        recs.append(Recommendation(
            "COMPLETE_WORKUP",
            f"Data that would settle or confirm the interpretation: {', '.join(workup)}.",
            tests=tuple(workup)))
    return recs


def _q(v: Decimal | None, unit: str | None = None, comparator: str | None = None) -> str:
    if v is None:
        return "not reported"
    txt = f"{float(v):.4g}"
    return f"{comparator or ''}{txt}{' ' + unit if unit else ''}"


def comment(
    f: Facts, out: Outcome, risk: dict[str, RiskResult], flags: list[Flag],
    recs: list[Recommendation], missing: list[str],
) -> str:
    """A narrative a pathologist would sign: category, isotype, decisive findings, flags, next steps."""
    parts: list[str] = []
    head = out.label + (" (provisional)" if out.provisional else "")
    if out.isotype:
        head += f"; isotype {out.isotype}"
    parts.append(head + ".")
    reasons = [r for r in out.reasons if r not in out.label]
    if reasons:
        parts.append("Basis: " + "; ".join(reasons) + ".")
    findings: list[str] = []
    if f.serum_mp is not None:
        q = f.serum_mp
        findings.append(f"serum M-protein {_q(q.value, 'g/L', q.comparator.value if q.comparator else None)}")
    if f.flc is not None:
        if f.flc.ratio is not None and f.flc.ratio.is_finite() and float(f.flc.ratio) != float("inf"):
            state = {True: "abnormal", False: "within interval", None: "not assessable"}[f.flc.abnormal]
            findings.append(
                f"FLC kappa/lambda ratio {float(f.flc.ratio):.3g} ({state}; interval "
                f"{f.flc.interval_low}-{f.flc.interval_high}, {f.flc.basis})"
                if f.flc.interval_low is not None else f"FLC ratio {float(f.flc.ratio):.3g} ({state})")
        else:
            findings.append("FLC ratio not determined")
    if f.bmpc is not None:
        src = "clonal" if f.bmpc_source == "clonal" else "total plasma cells by morphology"
        findings.append(f"marrow plasma cells {_q(f.bmpc.lo, '%')} ({src})")
    if f.urine_mp is not None:
        q = f.urine_mp
        comp = q.comparator.value if q.comparator else None
        findings.append(f"urine M-protein {_q(q.value, 'mg/24h', comp)}")
    if findings:
        parts.append("Findings: " + "; ".join(findings) + ".")
    met_criteria = [c for c in f.criteria if c.status is Status.MET and (
        c.id.startswith("mde.") or c.id == "igm_end_organ_features")]
    if met_criteria:
        parts.append("Decisive findings: " + "; ".join(
            f"{CRITERION_NAMES.get(c.id, c.id)} {_q(c.value, c.unit, c.comparator)} ({c.threshold})"
            if isinstance(c.value, Decimal | int) and not isinstance(c.value, bool) else
            f"{CRITERION_NAMES.get(c.id, c.id)} ({c.threshold})"
            for c in met_criteria) + ".")
    if not out.igm_logic:
        met = [k for k, v in f.mde.items() if v is True]
        unknown = [k for k, v in f.mde.items() if v is None]
        if not met:
            if unknown:
                parts.append("No myeloma-defining event among those assessable; not assessable: "
                             + ", ".join(MDE_NAMES[k] for k in unknown) + ".")
            else:
                parts.append("No myeloma-defining event.")
    for fl in flags:
        if fl.code in ("MGCS_SCLEROMYXEDEMA", "DERMATO_NEURO_SYNDROME", "SCLEROMYXEDEMA_NO_PARAPROTEIN",
                       "MYELOMA_DEFINING_EVENT", "EVOLVING_M_PROTEIN", "EVOLVING_HEMOGLOBIN",
                       "RISING_M_PROTEIN_SUCCESSIVE", "THYROID_DISEASE_EXCLUSION",
                       "IGM_WITH_MYELOMA_FEATURES", "NON_FREELITE_ASSAY",
                       "RENAL_FLC_INTERVAL_APPLIED"):
            parts.append(fl.message)
    for r in risk.values():
        if not r.applies:
            continue
        name = MODEL_NAMES[r.model]
        if r.group is not None:
            parts.append(f"Risk ({name}): {r.group.replace('_', '-')}"
                         + (f", score {r.score}" if r.model == "smm_imwg_2020" else "") + ".")
        else:
            parts.append(f"Risk ({name}): not fully scored; {r.reason}.")
    follow_up_asks_marrow = any(r.code == "FOLLOW_UP" and "bone-marrow aspirate" in r.text for r in recs)
    said_marrow = not follow_up_asks_marrow and any(
        fl.code == "MARROW_EXAMINATION_RECOMMENDED" for fl in flags)
    for rec in recs:
        if rec.code == "MARROW_EXAMINATION" and follow_up_asks_marrow:
            continue  # the follow-up text already asks for the marrow
        if rec.code in ("FOLLOW_UP", "MARROW_EXAMINATION", "REFER_HEMATOLOGY", "HEMATOLOGY_FOLLOW_UP",
                        "EMERGENCY_ADMISSION"):
            parts.append(rec.text)
    if said_marrow:
        parts.append(next(fl.message for fl in flags if fl.code == "MARROW_EXAMINATION_RECOMMENDED"))
    if missing:
        low_risk = out.code in (Code.MGUS_NON_IGM, Code.MGUS_IGM) and \
            risk["mgus_mayo_2005"].possible_groups == ("low",)
        shown = [m for m in missing if not (low_risk and m.startswith(("marrow.", "imaging.")))]
        if low_risk and len(shown) < len(missing):
            parts.append("Provisional: no marrow result, which is not routinely indicated for "
                         "low-risk MGUS (clinical-reference §2.9, §3.2).")
        if shown:
            parts.append("Not assessable without: " + ", ".join(shown) + ".")
    for n in f.notes:
        parts.append(n)
    return " ".join(parts)
