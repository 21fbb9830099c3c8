"""Recommendations (follow-up of clinical-reference §3.2) and the narrative comment."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from . import criteria as C
from . import ruleset as R
from .catalogue import tests_words
from .classify import Outcome, screen_tests_not_done
from .facts import CRITERION_NAMES, EGFR_AS_CLEARANCE, EGFR_ESTIMATED, MDE_NAMES, Facts
from .flags import CLONE_BEYOND_MGCS, SCREEN_EVENTS, paraprotein_tests_not_done
from .panel import IfeResult
from .quantity import ZERO, gt
from .results import MGUS_CODES, Code, Criterion, Flag, Recommendation, RiskResult, Status
from .words import field_words, figure

CRAB_TESTS = ("spep", "flc", "hemoglobin", "calcium", "creatinine")
LC_MGUS_TESTS = ("flc", "hemoglobin", "calcium", "creatinine")  # no heavy chain: no M-spike to follow
URINE_TEST = "urine_m_protein"  # 24-hour urine protein electrophoresis
SRC32 = f"{R.IMWG_FOLLOW_UP_2010}; clinical-reference §3.2"


def _d(x: int) -> Decimal:
    return Decimal(x)


MODEL_NAMES = {
    "mgus_mayo_2005": "Mayo 2005 MGUS risk",
    "smm_mayo_2018": "Mayo 2018 20/2/20 SMM risk",
    "smm_imwg_2020": "IMWG 2020 SMM risk score",
}


def _mgus_follow_up(
    mayo: RiskResult, marrow_done: bool, marrow_asked: bool, evolving: frozenset[str] = frozenset()
) -> Recommendation:
    groups = set(mayo.possible_groups)
    if groups == {"low"}:
        # ref: §3.2 — low-risk MGUS: SPEP at 6 months, then every 2–3 years if stable. Serial results
        # that evolve (§3.5) are not stable: the longer interval and "no marrow" wait on haematology.
        return Recommendation(
            "FOLLOW_UP",
            "Low-risk MGUS: repeat serum protein electrophoresis in 6 months, then every 2-3 years if "
            "stable or when symptoms arise. "
            + (
                "The marrow result asked for above decides whether the category stands "
                if marrow_asked
                else "The serial results are not stable (an evolving pattern): haematology review decides "
                "the interval and whether the marrow is examined "
                if evolving
                else "Baseline bone-marrow examination and skeletal survey are not routinely indicated "
            )
            + f"({SRC32}).",
            _d(6),
            "every 2-3 years if stable, or when symptoms arise"
            + ("; the serial results are not stable: haematology review decides" if evolving else ""),
            ("spep", "hemoglobin") if "EVOLVING_HEMOGLOBIN" in evolving else ("spep",),
        )
    if "low" not in groups:
        # ref: §3.2 — intermediate/high-risk MGUS: marrow at baseline; review at 6 months, then yearly.
        marrow = (
            "the baseline bone-marrow examination this risk group needs has been done"
            if marrow_done
            else "bone-marrow aspirate and biopsy at baseline"
        )
        return Recommendation(
            "FOLLOW_UP",
            f"Intermediate- or high-risk MGUS: {marrow}; review at 6 months, then yearly for life ({SRC32}).",
            _d(6),
            "yearly for life",
            CRAB_TESTS,
            asks_marrow=not marrow_done,
        )
    return Recommendation(
        "FOLLOW_UP",
        "Review at 6 months (common to every possible risk group). Afterwards: every 2-3 years if the "
        "missing data show low-risk MGUS; yearly for life, with a baseline bone-marrow examination, if "
        f"intermediate or high risk ({SRC32}).",
        _d(6),
        "depends on the risk group once the missing data are known",
        CRAB_TESTS,
    )


def recommendations(
    f: Facts, out: Outcome, risk: dict[str, RiskResult], flags: Sequence[Flag], missing: list[str]
) -> list[Recommendation]:
    """What to do next, as structured items."""
    recs: list[Recommendation] = []
    codes = {fl.code for fl in flags}
    recs.extend(_skin_and_repeat_advice(f, out, codes))
    recs.extend(_screen_and_marrow_advice(f, out, codes))
    if "MARROW_EXAMINATION_RECOMMENDED" in codes and not out.trephine:  # else the trephine count's
        recs.append(
            Recommendation(
                "MARROW_EXAMINATION",
                "Bone-marrow aspirate and biopsy (clinical-reference §2.9, §3.2).",
                tests=("marrow",),
            )
        )
    recs.extend(_with_urine(f, _follow_up(f, out, risk, codes)))
    recs.extend(_referral_advice(out, codes))
    evolving = codes & EVOLVING_CODES
    if evolving:
        recs.append(
            Recommendation(
                "EVOLVING_PATTERN_REVIEW",
                f"Serial results show an evolving pattern ({', '.join(sorted(evolving))}): haematology "
                "review now; a risk-based interval above may be too long for this patient "
                "(clinical-reference §3.5).",
            )
        )
    workup = list(missing)
    if _low_risk_schedule(out, risk, codes):
        workup = [m for m in workup if not m.startswith(_NOT_ROUTINE)]
    if workup:
        recs.append(
            Recommendation(
                "COMPLETE_WORKUP",
                "Data that would settle or confirm the interpretation: "
                + ", ".join(_words(m) for m in workup)
                + ".",
                tests=tuple(workup),
            )
        )
    return recs


def _skin_and_repeat_advice(f: Facts, out: Outcome, codes: set[str]) -> list[Recommendation]:
    """§5 (emergency, MGCS referral, a paraprotein not yet found) and §2.6 (an FLC finding to repeat)."""
    recs: list[Recommendation] = []
    if "DERMATO_NEURO_SYNDROME" in codes:
        recs.append(
            Recommendation(
                "EMERGENCY_ADMISSION",
                "Possible dermato-neuro syndrome: emergency admission (clinical-reference §5).",
            )
        )
    if "MGCS_SCLEROMYXEDEMA" in codes:
        recs.append(
            Recommendation(
                "REFER_HEMATOLOGY_DERMATOLOGY",
                (
                    "Refer to haematology and dermatology for monoclonal gammopathy of clinical significance "
                    "(scleromyxoedema). "
                    if out.code not in CLONE_BEYOND_MGCS
                    else "Refer to haematology and dermatology: scleromyxoedema with "
                    f"{CLONE_BEYOND_MGCS[out.code]}. "
                )
                + R.IVIG_CONTEXT,
            )
        )
    if "SCLEROMYXEDEMA_NO_PARAPROTEIN" in codes:
        not_done = paraprotein_tests_not_done(f)
        recs.append(
            Recommendation(
                "REPEAT_IFE_FLC",
                (
                    f"Do {tests_words(not_done)} (not done yet); if no paraprotein is found, repeat "
                    if not_done
                    else "Repeat "
                )
                + "serum and urine immunofixation and serum free light chains: about 10 % of "
                "scleromyxoedema patients have no detectable paraprotein at first (clinical-reference §5).",
                tests=("serum_ife", "urine_ife", "flc"),
            )
        )
    if out.repeat_flc and "SCLEROMYXEDEMA_NO_PARAPROTEIN" not in codes:
        # No interval is given: the reference holds none for an FLC finding that no clone explains.
        recs.append(
            Recommendation(
                "REPEAT_IFE_FLC",
                "Repeat serum free light chains with serum and urine immunofixation: light-chain MGUS "
                "needs an abnormal ratio with a raised involved chain (clinical-reference §2.6).",
                tests=("serum_ife", "urine_ife", "flc"),
            )
        )
    return recs


def _with_urine(f: Facts, recs: list[Recommendation]) -> list[Recommendation]:
    """A clone seen in the urine (a urine M-protein above 0 that immunofixation does not contradict, or
    a positive urine immunofixation) is followed there too: the 24-hour urine joins the tests of the
    follow-up (light-chain smouldering myeloma is defined by it, §2.7)."""
    urine = f.panel.urine
    if urine is None:
        return recs
    ife_positive = urine.ife is not None and urine.ife.result is IfeResult.POSITIVE
    measured = f.urine_mp is not None and gt(f.urine_mp.interval, ZERO) is True and not f.urine_discordant
    if not (ife_positive or measured):
        return recs
    for r in recs:
        if r.code == "FOLLOW_UP" and URINE_TEST not in r.tests:
            r.tests = (*r.tests, URINE_TEST)
    return recs


def _follow_up(f: Facts, out: Outcome, risk: dict[str, RiskResult], codes: set[str]) -> list[Recommendation]:
    """§3.2 (and §5 beside an MGCS): the surveillance schedule of the category."""
    recs: list[Recommendation] = []
    mgcs = "MGCS_SCLEROMYXEDEMA" in codes
    if mgcs and out.code in MGUS_CODES:
        # ref: §5 — the skin disease, not the size of the clone, drives management: no low-risk MGUS
        # schedule (every 2-3 years, no marrow) beside an MGCS referral; §3.2's review at 6 months is
        # common to every MGUS risk group.
        recs.append(
            Recommendation(
                "FOLLOW_UP",
                "Monoclonal gammopathy of clinical significance (scleromyxoedema): review at 6 months at the "
                "latest (common to every MGUS risk group, §3.2), then as haematology and dermatology decide "
                "with the treatment of the skin disease; the MGUS surveillance schedule by clone size does "
                "not apply (clinical-reference §5).",
                _d(6),
                "as haematology and dermatology decide",
                LC_MGUS_TESTS if out.code is Code.MGUS_LIGHT_CHAIN else CRAB_TESTS,
            )
        )
    elif out.code in (Code.MGUS_NON_IGM, Code.MGUS_IGM):
        marrow = f.panel.marrow
        marrow_done = f.bmpc is not None or (
            marrow is not None and marrow.lymphoplasmacytic_infiltrate_percent is not None
        )
        recs.append(
            _mgus_follow_up(
                risk["mgus_mayo_2005"],
                marrow_done,
                "MARROW_EXAMINATION_RECOMMENDED" in codes or out.trephine,
                frozenset(codes & EVOLVING_CODES),
            )
        )
    elif out.code in (Code.SMOLDERING_MYELOMA, Code.SMOLDERING_MYELOMA_LIGHT_CHAIN):
        # ref: §3.2 — SMM: re-test 2–3 months after recognition; then every 4–6 months for 1 year,
        # then every 6–12 months.
        recs.append(
            Recommendation(
                "FOLLOW_UP",
                "Smouldering myeloma: re-test 2-3 months after recognition; if stable every 4-6 months for "
                f"1 year, then every 6-12 months ({SRC32}).",
                (_d(2), _d(3)),
                "every 4-6 months for 1 year, then every 6-12 months",
                CRAB_TESTS,
            )
        )
    elif out.code is Code.MGUS_LIGHT_CHAIN:
        # ref: §3.2 — low-risk MGUS is "M-protein < 15 g/L, IgG, normal FLC ratio"; light-chain MGUS
        # has an abnormal ratio by definition, so the intermediate/high-risk schedule applies.
        marrow_text = (
            "the baseline bone-marrow examination has been done"
            if f.bmpc is not None
            else "bone-marrow aspirate and biopsy at baseline"
        )
        recs.append(
            Recommendation(
                "FOLLOW_UP",
                "Light-chain MGUS: the FLC ratio is abnormal by definition, so this is not low-risk MGUS "
                f"(M-protein < 15 g/L, IgG, normal FLC ratio): {marrow_text}; review at 6 months, "
                f"then yearly for life, with serum free light chains ({SRC32}).",
                _d(6),
                "yearly for life",
                LC_MGUS_TESTS,
                asks_marrow=f.bmpc is None,
            )
        )
    return recs


def _referral_advice(out: Outcome, codes: set[str]) -> list[Recommendation]:
    """Referral to haematology: the Waldenström range, myeloma, plasmacytoma, or a flagged referral."""
    recs: list[Recommendation] = []
    if out.code is Code.WALDENSTROM_RANGE:
        recs.append(
            Recommendation(
                "REFER_HEMATOLOGY",
                "Refer to haematology: Waldenström range. Smouldering Waldenström macroglobulinaemia is "
                "usually managed by surveillance, symptomatic disease by treatment; haematology sets which.",
            )
        )
    elif (
        out.code in (Code.MULTIPLE_MYELOMA, Code.SOLITARY_PLASMACYTOMA)
        or "HEMATOLOGY_REFERRAL" in codes
        and out.code in (Code.INDETERMINATE, Code.MGUS_IGM)
    ):
        recs.append(
            Recommendation(
                "REFER_HEMATOLOGY",
                "Refer to haematology for staging and treatment decisions; a surveillance interval does "
                "not apply."
                if out.code in (Code.MULTIPLE_MYELOMA, Code.SOLITARY_PLASMACYTOMA)
                else "Refer to haematology to complete the assessment; no surveillance interval until the "
                "category is settled."
                if out.code is Code.INDETERMINATE
                else "Refer to haematology: myeloma-defining finding(s) beside an IgM clone need assessment "
                "of their cause; the IgM MGUS follow-up applies once it is settled.",
            )
        )
    return recs


def _screen_and_marrow_advice(f: Facts, out: Outcome, codes: set[str]) -> list[Recommendation]:
    """§2.9: urgent FLC and immunofixation beside renal insufficiency or anaemia; the trephine count."""
    recs = []
    not_done = screen_tests_not_done(f)
    if not_done and any(f.mde.get(k) is True for k in SCREEN_EVENTS):
        recs.append(
            Recommendation(
                "URGENT_FLC_IFE",
                f"Urgent: {tests_words(not_done, ' and ')}: with renal insufficiency or anaemia, light-chain "
                "disease (light-chain cast nephropathy) may be missed by serum protein electrophoresis "
                "(clinical-reference §2.9).",
                tests=tuple(not_done),
            )
        )
    if "FLC_SLIM_RANGE_NON_FREELITE" in codes:
        recs.append(
            Recommendation(
                "URGENT_FREELITE_FLC",
                "Urgent serum free light chains with Freelite and haematology review: the ratio on another "
                "assay would meet the myeloma-defining threshold (clinical-reference §2.1).",
                tests=("flc",),
            )
        )
    if out.trephine:
        recs.append(
            Recommendation(
                "TREPHINE_CD138_COUNT",
                ("Urgent trephine" if out.refer else "Trephine")
                + " biopsy plasma-cell count (CD138): the flow-cytometry figure exceeds the marrow "
                "figure used, and IMWG takes the higher of aspirate and biopsy (clinical-reference §2.9).",
                tests=("marrow",),
            )
        )
    return recs


def _q(
    v: Decimal | int | None,
    unit: str | None = None,
    comparator: str | None = None,
    limits: tuple[float, ...] = (),
) -> str:
    if v is None:
        return "not reported"
    txt = figure(float(v), 4, limits)
    if comparator:
        txt = comparator + txt
    return f"{txt} {unit}" if unit else txt


_MET = Status.MET
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_FLC_STATE = {True: "abnormal", False: "within interval", None: "not assessable"}
# Flags whose message the comment repeats (the others are said by a recommendation or not at all).
_COMMENT_FLAGS = frozenset(
    {
        "MGCS_SCLEROMYXEDEMA",
        "DERMATO_NEURO_SYNDROME",
        "SCLEROMYXEDEMA_NO_PARAPROTEIN",
        "MYELOMA_DEFINING_EVENT",
        "EVOLVING_M_PROTEIN",
        "EVOLVING_HEMOGLOBIN",
        "RISING_M_PROTEIN_SUCCESSIVE",
        "THYROID_DISEASE_EXCLUSION",
        "NON_FREELITE_ASSAY",
        "CRAB_WITHOUT_MONOCLONAL_PROTEIN",
        "RENAL_FLC_INTERVAL_APPLIED",
        "FLC_SLIM_RANGE_NON_FREELITE",
        "IVIG_IGG_UNRELIABLE",
    }
)
EVOLVING_CODES = frozenset({"EVOLVING_M_PROTEIN", "EVOLVING_HEMOGLOBIN", "RISING_M_PROTEIN_SUCCESSIVE"})
_COMMENT_RECS = frozenset(
    {
        # MARROW_EXAMINATION and EMERGENCY_ADMISSION are said by their flags' messages already.
        "FOLLOW_UP",
        "EVOLVING_PATTERN_REVIEW",
        "REFER_HEMATOLOGY",
        "URGENT_FLC_IFE",
        "TREPHINE_CD138_COUNT",
    }
)
_LOW_RISK_MGUS = (Code.MGUS_NON_IGM, Code.MGUS_IGM)
_NOT_ROUTINE = ("marrow.", "imaging.")


def _words(field_path: str) -> str:
    return field_words(field_path)


def _low_risk_schedule(out: Outcome, risk: dict[str, RiskResult], flag_codes: set[str]) -> bool:
    """Whether the low-risk MGUS schedule applies, under which (§3.2) baseline marrow and skeletal
    survey are not routinely indicated: the category stays provisional (§2.9), but they are not asked
    for. Never beside an MGCS referral (§5: the skin disease, not the clone, drives management), nor
    when a marrow examination is asked for (a flow-cytometry figure at or above 10 %, §2.9)."""
    return (
        out.code in _LOW_RISK_MGUS
        and risk["mgus_mayo_2005"].possible_groups == ("low",)
        and "MARROW_EXAMINATION_RECOMMENDED" not in flag_codes
        and "MGCS_SCLEROMYXEDEMA" not in flag_codes
        and not out.trephine  # the trephine count asked for is a marrow result the category waits on
    )


def _not_routine_reason(hidden: list[str]) -> str:
    """Why a low-risk MGUS stays provisional, from the open criteria actually hidden (§2.9, §3.2)."""
    what = []
    if any(m.startswith("marrow.") for m in hidden):
        what.append("no marrow result")
    if any(m.startswith("imaging.") for m in hidden):
        what.append("no skeletal imaging")
    verb = "are" if len(what) > 1 else "is"
    return (
        f"Provisional: {' and '.join(what)}, which {verb} not routinely indicated for low-risk MGUS "
        "(clinical-reference §2.9, §3.2)."
    )


def _imwg_score(r: RiskResult) -> str:
    # ref: §3.4 — a score computed without FISH (or on a bounded value) is a lower bound, said so.
    if r.score_is_lower_bound and r.score_max is not None and r.score_max != r.score:
        return f", score at least {r.score} (up to {r.score_max} with the data not given)"
    return f", score {r.score}"


def _decisive(c: Criterion) -> str:
    name = CRITERION_NAMES.get(c.id, c.id)
    if c.note == EGFR_AS_CLEARANCE:
        name = "eGFR, as the estimated creatinine clearance"  # never printed as a measured clearance
    elif c.note == EGFR_ESTIMATED:
        name = "eGFR estimated by CKD-EPI 2021 from creatinine, age and sex"
    v = c.value
    if isinstance(v, Decimal | int) and not isinstance(v, bool):
        limits = tuple(float(n) for n in _NUMBER.findall(c.threshold or ""))
        return f"{name} {_q(v, c.unit, c.comparator, limits)} ({c.threshold})"
    return f"{name} ({c.threshold})"


def comment(
    f: Facts,
    out: Outcome,
    risk: dict[str, RiskResult],
    flags: Sequence[Flag],
    recs: list[Recommendation],
    missing: list[str],
) -> str:
    """A narrative a pathologist would sign: category, isotype, decisive findings, flags, next steps."""
    label = out.label
    head = label + " (provisional)" if out.provisional else label
    if out.isotype:
        head = f"{head}; isotype {out.isotype}"
    # The emergency opens the report: a reader who scans only its first line must not miss it (§5).
    emergency = [fl.message for fl in flags if fl.code == "DERMATO_NEURO_SYNDROME"]
    parts = [*emergency, head + "."]
    reasons = [r for r in out.reasons if r not in label]
    if reasons:
        parts.append("Basis: " + "; ".join(reasons) + ".")
    findings = _findings(f)
    if findings:
        parts.append("Findings: " + "; ".join(findings) + ".")
    # Without a clone, CRAB-range values decide nothing (the CRAB_WITHOUT_MONOCLONAL_PROTEIN flag says so).
    decisive = (
        []
        if out.code is Code.NO_MONOCLONAL_PROTEIN
        else [
            _decisive(c)
            for c in f.criteria
            if c.status is _MET and (c.id.startswith("mde.") or c.id == "igm_end_organ_features")
        ]
    )
    if decisive:
        parts.append("Decisive findings: " + "; ".join(decisive) + ".")
    if not out.igm_logic and True not in f.mde.values():
        # ref: §2.9 — a criterion that is not assessable is never summarised as absent.
        unknown = [MDE_NAMES[k] for k, v in f.mde.items() if v is None]
        parts.append(
            "No myeloma-defining event among those assessed; not assessable: " + ", ".join(unknown) + "."
            if unknown
            else "No myeloma-defining event."
        )
    marrow_flag = None
    for fl in flags:
        if fl.code in _COMMENT_FLAGS and fl.code != "DERMATO_NEURO_SYNDROME":
            parts.append(fl.message)
        elif fl.code == "MARROW_EXAMINATION_RECOMMENDED":
            marrow_flag = fl.message
    parts.extend(_risk_lines(risk))
    follow_up_asks_marrow = False
    for rec in recs:
        if rec.code == "FOLLOW_UP" and rec.asks_marrow:
            follow_up_asks_marrow = True
            break
    flag_codes = {fl.code for fl in flags}
    for rec in recs:
        if rec.code in _COMMENT_RECS and not (
            # The flag's message already asks for the same tests in the comment.
            rec.code == "URGENT_FLC_IFE" and "CRAB_WITHOUT_MONOCLONAL_PROTEIN" in flag_codes
        ):
            parts.append(rec.text)
    if marrow_flag is not None and not follow_up_asks_marrow:
        parts.append(marrow_flag)
    if missing:
        parts.extend(_missing_lines(out, risk, flags, missing))
    parts.extend(f.notes)
    return " ".join(parts)


def _risk_lines(risk: dict[str, RiskResult]) -> list[str]:
    """Each applicable risk model's group (or why it is not fully scored), in words."""
    lines = []
    for r in risk.values():
        if not r.applies:
            continue
        name = MODEL_NAMES[r.model]
        if r.group is not None:
            lines.append(
                f"Risk ({name}): {r.group.replace('_', '-')}"
                + (_imwg_score(r) if r.model == "smm_imwg_2020" else "")
                + "."
            )
        else:
            lines.append(f"Risk ({name}): not fully scored; {r.reason}.")
    return lines


def _missing_lines(
    out: Outcome, risk: dict[str, RiskResult], flags: Sequence[Flag], missing: list[str]
) -> list[str]:
    """What the category waits for, in words (a low-risk MGUS is not asked for a marrow, §3.2)."""
    lines = []
    low_risk = _low_risk_schedule(out, risk, {fl.code for fl in flags})
    shown = [m for m in missing if not m.startswith(_NOT_ROUTINE)] if low_risk else missing
    if low_risk and len(shown) < len(missing):
        lines.append(_not_routine_reason([m for m in missing if m.startswith(_NOT_ROUTINE)]))
    if shown:
        lines.append("Not assessable without: " + ", ".join(_words(m) for m in shown) + ".")
    return lines


# ref: §2.1 Li, §3.3, §3.4 — the involved/uninvolved cut-offs a kappa/lambda ratio is judged against,
# either chain involved: the SLiM ratio, 20/2/20 and the IMWG 2020 bands. A ratio just below one is
# never printed as it (99.996 is not "100" beside a smouldering answer).
_LI_CUT_OFF = C.FLC_RATIO_100.cutoff
assert isinstance(_LI_CUT_OFF, Decimal)
_RATIO_CUT_OFFS = tuple(
    float(x)
    for c in (_LI_CUT_OFF, R.SMM_2018_FLC_RATIO, *(b.lo for b in R.SMM_2020_FLC_BANDS if b.lo > 0))
    for x in (c, 1 / c)
)


def _findings(f: Facts) -> list[str]:
    """The measured findings the comment quotes: M-protein, FLC ratio, marrow, urine."""
    findings: list[str] = []
    q = f.serum_mp
    if q is not None:
        c = q.comparator
        findings.append("serum M-protein " + _q(q.value, "g/L", None if c is None else str(c)))
    flc = f.flc
    if flc is not None:
        ratio = flc.ratio
        if ratio is not None and ratio.is_finite() and float(ratio) != _FLOAT_INF:
            state = _FLC_STATE[flc.abnormal]
            limits = tuple(float(x) for x in (flc.interval_low, flc.interval_high) if x is not None)
            shown = figure(float(ratio), 3, limits + _RATIO_CUT_OFFS)
            findings.append(
                f"FLC kappa/lambda ratio {shown} ({state}; interval "
                f"{flc.interval_low}-{flc.interval_high}, {flc.basis})"
                if flc.interval_low is not None
                else f"FLC ratio {shown} ({state}; {flc.basis})"
            )
        else:
            findings.append("FLC ratio not determined")
    if f.bmpc is not None:
        src = "clonal" if f.bmpc_source == "clonal" else "total plasma cells by morphology"
        findings.append(f"marrow plasma cells {_q(f.bmpc.lo, '%')} ({src})")
    q = f.urine_mp
    if q is not None:
        c = q.comparator
        findings.append("urine M-protein " + _q(q.value, "mg/24h", None if c is None else str(c)))
    return findings


_FLOAT_INF = float("inf")
