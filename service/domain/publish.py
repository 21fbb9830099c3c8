"""The ruleset as a laboratory reads it (GET /v1/ruleset), generated from the data the engine applies.

Every criterion an answer can carry is published from its row of the table (``criteria.ROWS``): id,
section, fact, operator, cut-off, the fields it needs and the very wording the answer shows. The rules
that combine criteria (the myeloma-defining events, the IMWG categories, risk models, serial patterns)
are described with their numbers filled from the same cited constants and rows, never typed again; the
flags and recommendations (code, section, severity, referral, meaning) come from their catalogue
(``catalogue``)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from . import catalogue
from . import criteria as C
from . import ruleset as R
from .criteria import fmt

_INF = D("Infinity")


def _num(x: D) -> float | None:
    return None if x == _INF else float(x)


def _bands(bands: tuple[R.Band, ...]) -> list[dict[str, Any]]:
    return [
        {"above": float(b.lo), "above_inclusive": b.lo_closed, "up_to": _num(b.hi), "points": b.points}
        for b in bands
    ]


def _window(w: R.Window | None) -> dict[str, Any] | None:
    return None if w is None else {"low": w.low, "high": w.high}


def _plain(v: Any) -> Any:
    if isinstance(v, D):
        return _num(v)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


def _rule(rid: str, section: str, citation: str, text: str, thresholds: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": rid,
        "section": section,
        "citation": citation,
        "description": text,
        "thresholds": _plain(thresholds),
    }


def _mde_rules() -> list[dict[str, Any]]:
    """§2.1: each event as the alternatives of its rows, worded by the rows."""
    ca_uln = R.PLAUSIBILITY["calcium"].upper_limit
    assert ca_uln is not None
    return [
        _rule(
            "mde.hypercalcemia",
            "§2.1",
            R.IMWG_2014,
            f"Serum calcium {C.CA_ABOVE_ULN.threshold}, or {C.CA_ABSOLUTE.threshold}. Without the "
            "laboratory's ULN (§1.1) the ULN rule is not met only when no plausible ULN could meet it "
            f"(calcium <= {fmt(ca_uln.low + C.CA_ABOVE_ULN.cutoff)} mmol/L); otherwise it is not "  # type: ignore[operator]
            "assessable and holds the category open",
            {
                "above_uln_mmol_l": C.CA_ABOVE_ULN.cutoff,
                "absolute_mmol_l": C.CA_ABSOLUTE.cutoff,
                "plausible_uln_mmol_l": _window(ca_uln),
            },
        ),
    ] + _renal_rules()


def _renal_rules() -> list[dict[str, Any]]:
    """§2.1 R: the renal rule, with the CKD-EPI 2021 estimate it may rest on."""
    return [
        _rule(
            "mde.renal_insufficiency",
            "§2.1",
            R.IMWG_2014,
            f"Creatinine clearance {C.CLEARANCE.threshold} (eGFR used as the estimate when no clearance is "
            "given; with neither, the race-free CKD-EPI 2021 eGFR from creatinine, age >= "
            f"{fmt(R.CKD_EPI_MIN_AGE_YEARS)} and sex female or male, also used for the renal FLC "
            "interval; with no estimate either, not met only when the equation stays >= "
            f"{fmt(C.CLEARANCE.cutoff)} at every adult age and either sex), or serum creatinine "
            f"{C.CREATININE.threshold}",
            {
                "creatinine_clearance_ml_min": C.CLEARANCE.cutoff,
                "creatinine_umol_l": C.CREATININE.cutoff,
                "ckd_epi_2021": {
                    "citation": R.CKD_EPI_2021,
                    "constant": R.CKD_EPI_CONSTANT,
                    "kappa": dict(R.CKD_EPI_KAPPA),
                    "alpha": dict(R.CKD_EPI_ALPHA),
                    "high_exponent": R.CKD_EPI_HIGH_EXPONENT,
                    "age_base": R.CKD_EPI_AGE_BASE,
                    "female_factor": R.CKD_EPI_FEMALE_FACTOR,
                    "min_age_years": R.CKD_EPI_MIN_AGE_YEARS,
                },
            },
        ),
    ] + _anaemia_and_slim_rules()


def _anaemia_and_slim_rules() -> list[dict[str, Any]]:
    """§2.1 A, B, S, Li, M: anaemia (relative to a plausible LLN when none is sent) and the rest."""
    hb = R.PLAUSIBILITY["hemoglobin"]
    assert hb.lower_limit and hb.lower_limit_female and hb.lower_limit_male
    below = C.HB_BELOW_LLN.cutoff
    lln_settled = (
        f"female >= {fmt(hb.lower_limit_female.high - below)} g/L; male >= "  # type: ignore[operator]
        f"{fmt(hb.lower_limit_male.high - below)} g/L; other or unknown sex >= "  # type: ignore[operator]
        f"{fmt(hb.lower_limit.high - below)} g/L"  # type: ignore[operator]
    )
    return [
        _rule(
            "mde.anemia",
            "§2.1",
            R.IMWG_2014,
            f"Haemoglobin {C.HB_BELOW_LLN.threshold}, or {C.HB_ABSOLUTE.threshold}. Without the "
            "laboratory's LLN (§1.1) the LLN rule is not met only when no plausible LLN could meet it "
            f"({lln_settled}); otherwise it is not assessable and holds the category open",
            {
                "below_lln_g_l": C.HB_BELOW_LLN.cutoff,
                "absolute_g_l": C.HB_ABSOLUTE.cutoff,
                "plausible_lln_g_l": {
                    "female": _window(hb.lower_limit_female),
                    "male": _window(hb.lower_limit_male),
                    "other_or_unknown": _window(hb.lower_limit),
                },
            },
        ),
        _rule(
            "mde.bone_lesions",
            "§2.1",
            R.IMWG_2014,
            f"{C.BONE_LESIONS.threshold} on skeletal radiography, CT or PET-CT",
            {"osteolytic_lesions_min": C.BONE_LESIONS.cutoff},
        ),
        _rule("mde.bmpc_ge_60", "§2.1", R.IMWG_2014, C.BMPC_60.threshold, {"bmpc_percent": C.BMPC_60.cutoff}),
        _rule(
            "mde.flc_ratio_ge_100",
            "§2.1",
            R.IMWG_2014,
            f"{C.FLC_RATIO_100.threshold}. With another assay not assessable; values that would meet it "
            "are escalated (urgent Freelite measurement and haematology review) and hold the category open",
            {"ratio": C.FLC_RATIO_100.cutoff, "involved_mg_l": C.FLC_RATIO_100.alt},
        ),
        _rule(
            "mde.mri_focal_lesions",
            "§2.1",
            R.IMWG_2014,
            C.MRI_LESIONS.threshold,
            {"more_than": C.MRI_LESIONS.cutoff},
        ),
    ]


def _category_rules() -> list[dict[str, Any]]:
    """§2.2–§2.9: the categories, worded from their rows."""
    b10, b10_60, u500, s30 = C.BMPC_10.threshold, C.BMPC_10_TO_60.threshold, C.URINE_500, C.SERUM_30
    m10 = fmt(R.BMPC_MYELOMA_PERCENT)
    return [
        _rule(
            "category.multiple_myeloma",
            "§2.2",
            R.IMWG_2014,
            f"{b10} or biopsy-proven plasmacytoma, and >= 1 MDE; or (§2.8) a biopsy-proven plasmacytoma with "
            f"{b10} (with total plasma cells by morphology only: INDETERMINATE, myeloma likely, confirm "
            "clonality)",
            {"bmpc_percent": C.BMPC_10.cutoff},
        ),
        _rule(
            "category.smoldering_myeloma",
            "§2.3",
            R.IMWG_2014,
            f"Serum M-protein (IgG or IgA) {s30.op} {fmt(s30.cutoff)} {s30.unit} or urine M-protein "
            f"{u500.threshold} and/or {b10_60}; no MDE, no amyloidosis",
            {
                "serum_m_protein_g_l": s30.cutoff,
                "urine_m_protein_mg_24h": u500.cutoff,
                "bmpc_percent_low": C.BMPC_10_TO_60.cutoff,
                "bmpc_percent_high": C.BMPC_10_TO_60.high,
            },
        ),
        _rule(
            "category.mgus_non_igm",
            "§2.4",
            R.IMWG_2014,
            f"Serum M-protein < {fmt(s30.cutoff)} {s30.unit}; clonal BMPC < {m10} %; no CRAB or amyloidosis",
            {"serum_m_protein_g_l": s30.cutoff, "bmpc_percent": R.BMPC_MYELOMA_PERCENT},
        ),
    ] + _igm_light_chain_and_plasmacytoma_rules()


def _igm_light_chain_and_plasmacytoma_rules() -> list[dict[str, Any]]:
    """§2.5–§2.8: IgM, light-chain and plasmacytoma categories, worded from their rows."""
    u500, m10 = C.URINE_500, fmt(R.BMPC_MYELOMA_PERCENT)
    return [
        _rule(
            "category.mgus_igm_and_waldenstrom_range",
            "§2.5",
            R.KYLE_WM_2012,
            f"IgM M-protein < {fmt(C.IGM_30.cutoff)} g/L and lymphoplasmacytic infiltration < "
            f"{fmt(C.LPL_10.cutoff)} % without end-organ features: IgM MGUS; otherwise the Waldenström range",
            {"igm_m_protein_g_l": C.IGM_30.cutoff, "lpl_infiltrate_percent": C.LPL_10.cutoff},
        ),
        _rule(
            "category.mgus_light_chain",
            "§2.6",
            R.IMWG_2014,
            "Abnormal FLC ratio with the involved chain raised, no heavy chain on IFE, no CRAB or "
            f"amyloidosis, clonal BMPC < {m10} %, urine M-protein < {fmt(u500.cutoff)} {u500.unit}",
            {
                "ratio_low": R.MAYO_MGUS_FLC_RATIO_LOW,
                "ratio_high": R.MAYO_MGUS_FLC_RATIO_HIGH,
                "bmpc_percent": R.BMPC_MYELOMA_PERCENT,
                "urine_m_protein_mg_24h": u500.cutoff,
            },
        ),
        _rule(
            "category.smoldering_myeloma_light_chain",
            "§2.7",
            "Working definition (not IMWG 2014)",
            f"No heavy chain on IFE, urine M-protein {C.URINE_500_LC.threshold} and/or "
            f"{C.BMPC_10_TO_60_LC.threshold}, no MDE",
            {
                "urine_m_protein_mg_24h": C.URINE_500_LC.cutoff,
                "bmpc_percent_low": C.BMPC_10_TO_60_LC.cutoff,
                "bmpc_percent_high": C.BMPC_10_TO_60_LC.high,
            },
        ),
        _rule(
            "category.solitary_plasmacytoma",
            "§2.8",
            R.IMWG_2014,
            f"Biopsy-proven solitary lesion; marrow without clonal plasma cells (< {m10} %: minimal marrow "
            f"involvement; >= {m10} % is multiple myeloma); imaging normal apart from the lesion; no CRAB",
            {"bmpc_percent": R.BMPC_MYELOMA_PERCENT},
        ),
    ]


def _data_rules() -> list[dict[str, Any]]:
    """§2.9 and §5: what the criteria need, and when the marrow is asked for."""
    m10, m60 = fmt(R.BMPC_MYELOMA_PERCENT), fmt(R.BMPC_SLIM_PERCENT)
    return [
        _rule(
            "data.complete_screen",
            "§2.9",
            R.DISPENZIERI_2009,
            "A negative screen is complete only with SPEP, serum immunofixation and serum FLC (24-hour urine "
            "immunofixation added when amyloidosis is reported): NO_MONOCLONAL_PROTEIN without them is "
            "provisional and names them. Clonal marrow plasma cells above 0 % with no monoclonal protein "
            "found are INDETERMINATE, never NO_MONOCLONAL_PROTEIN. Renal insufficiency or anaemia "
            "(§2.1 R, A) asks for FLC and immunofixation urgently and never says that other causes are "
            "more likely",
            {},
        ),
        _rule(
            "data.marrow_figures",
            "§2.9",
            R.IMWG_2014,
            f"The clonal plasma-cell figure decides the {m10} % and {m60} % thresholds; total plasma cells "
            "by morphology stand in when no clonal figure is given (said in a note), and a total that "
            f"reaches {m10} % or {m60} % beside a clonal figure below it is named in a note",
            {"bmpc_percent": R.BMPC_MYELOMA_PERCENT, "slim_percent": R.BMPC_SLIM_PERCENT},
        ),
        _rule(
            "data.flow_cytometry",
            "§2.9",
            R.IMWG_2014,
            f"Flow-cytometry plasma cells never meet a threshold; >= {m10} % without a morphological or "
            "clonal figure rules out a final MGUS (INDETERMINATE, marrow morphology requested, urgently at "
            f">= {m60} %); above a morphology figure below {m10} %, or at >= {m10} % above a clonal figure "
            f"below {m10} %, the trephine (CD138) count is asked for and the category stays provisional; "
            f"at >= {m60} % above a lower marrow figure the >= {m60} % criterion is not assessable and the "
            "trephine count is asked for urgently (indeterminate below "
            f"{m10} %, provisional smouldering myeloma from {m10} %)",
            {"bmpc_percent": R.BMPC_MYELOMA_PERCENT, "urgent_percent": R.BMPC_SLIM_PERCENT},
        ),
        _rule(
            "data.marrow_recommended",
            "§2.9, §3.2, §5",
            f"{R.IMWG_FOLLOW_UP_2010}; {R.FERMAND_2018}",
            "Marrow examination recommended when not given: MDE without marrow; SMM, plasmacytoma, "
            "Waldenström range; intermediate/high-risk and light-chain MGUS; an M-spike >= "
            f"{fmt(R.MAYO_MGUS_M_PROTEIN_G_L)} g/L without immunofixation; a monoclonal gammopathy with "
            "scleromyxoedema whatever the Mayo risk group",
            {"m_spike_without_ife_g_l": R.MAYO_MGUS_M_PROTEIN_G_L},
        ),
    ]


def _risk_rules() -> list[dict[str, Any]]:
    """§3.1–§3.4: the risk models and follow-up."""
    lo, hi = fmt(R.MAYO_MGUS_FLC_RATIO_LOW), fmt(R.MAYO_MGUS_FLC_RATIO_HIGH)
    return [
        _rule(
            "risk.mgus_mayo_2005",
            "§3.1",
            R.MAYO_MGUS_2005,
            f"Factors: M-protein >= {fmt(R.MAYO_MGUS_M_PROTEIN_G_L)} g/L; non-IgG isotype; FLC ratio < {lo} "
            f"or > {hi} (with an assay other than Freelite, known only where the assay's own interval gives "
            "the same verdict; an IgG M-protein within the IVIg window leaves the M-protein factor unknown, "
            "§5)",
            {
                "m_protein_g_l": R.MAYO_MGUS_M_PROTEIN_G_L,
                "flc_ratio_low": R.MAYO_MGUS_FLC_RATIO_LOW,
                "flc_ratio_high": R.MAYO_MGUS_FLC_RATIO_HIGH,
                "groups": [
                    {
                        "factors": i,
                        "group": g,
                        "progression_20y_percent": p,
                        "progression_20y_competing_death_percent": c,
                    }
                    for i, (g, p, c) in enumerate(R.MAYO_MGUS_GROUPS)
                ],
            },
        ),
        # The follow-up schedule is prose of §3.2: its intervals are the recommendations' own data.
        _rule(
            "follow_up",
            "§3.2",
            R.IMWG_FOLLOW_UP_2010,
            "Low-risk MGUS: SPEP at 6 months, then every 2-3 years; intermediate/high-risk MGUS: "
            "marrow at baseline, review at 6 months then yearly (light-chain MGUS too: its FLC ratio "
            "is abnormal); SMM: re-test at 2-3 months, then every 4-6 months for 1 year, then every "
            "6-12 months",
            {},
        ),
    ] + _smm_risk_rules()


def _smm_risk_rules() -> list[dict[str, Any]]:
    """§3.3–§3.4: smouldering-myeloma risk models."""
    return [
        _rule(
            "risk.smm_mayo_2018",
            "§3.3",
            R.MAYO_SMM_2018,
            f"Factors: BMPC > {fmt(R.SMM_2018_BMPC_PERCENT)} %; M-protein > {fmt(R.SMM_2018_M_PROTEIN_G_L)} "
            f"g/L; involved/uninvolved FLC ratio > {fmt(R.SMM_2018_FLC_RATIO)}",
            {
                "bmpc_percent": R.SMM_2018_BMPC_PERCENT,
                "m_protein_g_l": R.SMM_2018_M_PROTEIN_G_L,
                "flc_ratio": R.SMM_2018_FLC_RATIO,
                "groups": [
                    {
                        "factors": f"{i}" if i < 2 else ">=2",
                        "group": g,
                        "median_ttp_months": m,
                        "progression_2y_percent": p,
                    }
                    for i, (g, m, p) in enumerate(R.SMM_2018_GROUPS)
                ],
            },
        ),
        _rule(
            "risk.smm_imwg_2020",
            "§3.4",
            R.IMWG_SMM_2020,
            "Points for FLC ratio, M-protein, BMPC and high-risk FISH; totals grouped",
            {
                "flc_ratio_bands": _bands(R.SMM_2020_FLC_BANDS),
                "m_protein_g_l_bands": _bands(R.SMM_2020_M_PROTEIN_BANDS),
                "bmpc_percent_bands": _bands(R.SMM_2020_BMPC_BANDS),
                "fish_points": R.SMM_2020_FISH_POINTS,
                "groups": [
                    {"group": g, "min_total": t, "progression_2y_percent": float(p)}
                    for g, t, p in R.SMM_2020_GROUPS
                ],
            },
        ),
    ]


def _serial_rules() -> list[dict[str, Any]]:
    """§3.5: patterns across dated panels."""
    pct = lambda x: fmt(x * 100)  # noqa: E731 — a fraction as the percentage the wording shows
    return [
        _rule(
            "serial.evolving_m_protein",
            "§3.5",
            R.RAVI_2016,
            f">= {pct(R.EVOLVING_EARLY_RISE_FRACTION)} % rise within the first {R.EVOLVING_EARLY_MONTHS} "
            f"months (only if M-protein >= {fmt(R.EVOLVING_EARLY_MIN_M_PROTEIN_G_L)} g/L) and/or >= "
            f"{pct(R.EVOLVING_RISE_FRACTION)} % rise within {R.EVOLVING_MONTHS} months, with a minimum "
            f"absolute rise of {fmt(R.EVOLVING_MIN_ABSOLUTE_RISE_G_L)} g/L",
            {
                "early_rise_fraction": R.EVOLVING_EARLY_RISE_FRACTION,
                "early_months": R.EVOLVING_EARLY_MONTHS,
                "early_min_m_protein_g_l": R.EVOLVING_EARLY_MIN_M_PROTEIN_G_L,
                "rise_fraction": R.EVOLVING_RISE_FRACTION,
                "months": R.EVOLVING_MONTHS,
                "min_absolute_rise_g_l": R.EVOLVING_MIN_ABSOLUTE_RISE_G_L,
            },
        ),
        _rule(
            "serial.evolving_hemoglobin",
            "§3.5",
            R.RAVI_2016,
            f"Haemoglobin fall >= {fmt(R.EVOLVING_HB_FALL_G_L)} g/L within {R.EVOLVING_HB_MONTHS} months",
            {"fall_g_l": R.EVOLVING_HB_FALL_G_L, "months": R.EVOLVING_HB_MONTHS},
        ),
        _rule(
            "serial.rising_m_protein_successive",
            "§3.5",
            R.RAJKUMAR_2015,
            f"M-protein rise >= {pct(R.SUCCESSIVE_RISE_FRACTION)} % on two successive evaluations within "
            f"{R.SUCCESSIVE_RISE_MONTHS} months (both >= {pct(R.SUCCESSIVE_RISE_FRACTION)} % above an "
            f"earlier result, the three within {R.SUCCESSIVE_RISE_MONTHS} months)",
            {"rise_fraction": R.SUCCESSIVE_RISE_FRACTION, "months": R.SUCCESSIVE_RISE_MONTHS},
        ),
    ]


def _flc_and_mgcs_rules() -> list[dict[str, Any]]:
    """§4 and §5."""
    return [
        _rule(
            "flc.reference_intervals",
            "§4",
            "Katzmann 2002; Hutchison 2008; manufacturers",
            "Serum FLC kappa/lambda ratio intervals by assay and renal function (the Freelite renal "
            f"interval when eGFR or CrCl < {fmt(R.FLC_RENAL_CUTOFF)}; when renal data sent do not decide "
            "it, the ratio's verdict stands only where both Freelite intervals agree)",
            {
                name: {
                    "ratio_low": i.ratio_low,
                    "ratio_high": i.ratio_high,
                    "basis": i.basis,
                    "kappa_mg_l": list(i.kappa) if i.kappa else None,
                    "lambda_mg_l": list(i.lambda_) if i.lambda_ else None,
                }
                for name, i in R.FLC_INTERVALS.items()
            }
            | {"renal_cutoff_ml_min": R.FLC_RENAL_CUTOFF},
        ),
        _rule(
            "mgcs.scleromyxedema",
            "§5",
            f"{R.FERMAND_2018}; {R.RONGIOLETTI}; {R.EDF_S1}",
            "Monoclonal gammopathy with scleromyxoedema is an MGCS: refer to haematology and "
            "dermatology; fever/neurological signs = dermato-neuro syndrome (emergency)",
            {},
        ),
        _rule(
            "ivig.igg_values_unreliable",
            "§5",
            R.FERMAND_2018,
            f"Within {R.IVIG_WINDOW_MONTHS} calendar months of the last IVIg dose "
            "(clinical.ivig_last_dose_on; the reference says 'about 3 months'), IgG-based values and bounds "
            "are reported as unreliable and an IgG M-protein decides no criterion or risk factor; beside "
            "renal insufficiency or anaemia the output says IVIg can "
            "raise creatinine or cause haemolysis",
            {"window_months": R.IVIG_WINDOW_MONTHS},
        ),
    ]


def _criterion_rules() -> list[dict[str, Any]]:
    """One rule per criterion id an answer can carry, from its row."""
    return [_plain(r) for r in C.describe()]


def describe() -> dict[str, Any]:
    """The ruleset in force as plain data: version, every rule with thresholds and citation (the
    criteria first, then the rules that combine them), and the changelog. A myeloma-defining event that
    is one criterion (bone lesions, BMPC >= 60 %, the FLC ratio, MRI lesions) is one rule: its criterion,
    with the event's fuller description."""
    rules = {r["id"]: r for r in _criterion_rules()}
    for r in (
        _mde_rules()
        + _category_rules()
        + _data_rules()
        + _risk_rules()
        + _serial_rules()
        + _flc_and_mgcs_rules()
    ):
        same = rules.get(r["id"])
        if same is None:
            rules[r["id"]] = r
        else:
            same["description"] = r["description"]
            same["thresholds"] = same["thresholds"] | r["thresholds"]
    return {
        "ruleset_version": R.RULESET_VERSION,
        "rules": list(rules.values()),
        **catalogue.describe(),
        "changelog": _plain(R.CHANGELOG),
    }
