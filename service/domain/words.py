"""Report wording: the words a lab report uses for request fields and risk factors (never the names)."""

from __future__ import annotations

from decimal import Decimal

# The request fields missing_data names, in the words of a lab report (the comment is pasted into one;
# missing_data and the recommendation's tests keep the field paths for an LIS).
FIELD_WORDS: dict[str, str] = {
    "spep.m_protein": "the serum M-protein (quantified)",
    "serum_ife": "serum immunofixation",
    "urine.ife": "urine immunofixation",
    "urine.m_protein_24h": "the 24-hour urine M-protein",
    "flc.kappa": "serum free kappa",
    "flc.lambda": "serum free lambda",
    "flc.kappa.reference_range": "the laboratory's free kappa reference range",
    "flc.lambda.reference_range": "the laboratory's free lambda reference range",
    "flc.ratio_reference_range": "the laboratory's FLC ratio interval",
    "marrow.clonal_plasma_cells_percent": "bone-marrow clonal plasma cells (%)",
    "marrow.plasma_cells_percent": "bone-marrow plasma cells by morphology (%), the higher of aspirate "
    "and trephine biopsy (CD138)",
    "marrow.lymphoplasmacytic_infiltrate_percent": "bone-marrow lymphoplasmacytic infiltration (%)",
    "labs.calcium": "calcium",
    "labs.creatinine": "creatinine",
    "labs.egfr": "eGFR (or creatinine clearance)",
    "clinical.end_stage_renal_disease": (
        "confirmation of the end-stage renal disease reported beside an eGFR or clearance of 60 or more"
    ),
    "labs.creatinine_clearance": "an exact creatinine clearance",
    "labs.hemoglobin": "haemoglobin",
    "labs.tsh": "TSH with its reference range",
    "imaging.osteolytic_lesions": "skeletal imaging (osteolytic lesions)",
    "imaging.mri_focal_lesions": "MRI (focal lesions)",
    "cytogenetics": "FISH cytogenetics",
    "clinical.plasmacytoma": "whether a plasmacytoma was biopsied",
    "clinical.igm_related_symptoms": "IgM-related symptoms",
    "clinical.histology_mucin_fibrosis": "skin histology (mucin, fibroblasts, fibrosis)",
    "clinical.thyroid_disease": "thyroid disease",
    "labs.calcium.reference_range": "the laboratory's calcium reference range",
    "labs.hemoglobin.reference_range": "the laboratory's haemoglobin reference range",
    "flc.assay": "serum free light chains measured with Freelite",
}


# Risk-model factors (risk.py ids), in words.
FACTOR_WORDS: dict[str, str] = {
    "m_protein_ge_15_g_l": "M-protein >= 15 g/L",
    "non_igg_isotype": "non-IgG isotype",
    "abnormal_flc_ratio": "abnormal FLC ratio",
    "bmpc_gt_20_percent": "BMPC > 20 %",
    "m_protein_gt_20_g_l": "M-protein > 20 g/L",
    "flc_ratio_gt_20": "involved/uninvolved FLC ratio > 20",
    "flc_ratio": "involved/uninvolved FLC ratio",
    "m_protein": "M-protein",
    "bmpc": "BMPC",
    "high_risk_fish": "high-risk FISH",
}


def field_words(field_path: str) -> str:
    """A request field in the words of a lab report (the path itself when none is known)."""
    return FIELD_WORDS.get(field_path, field_path)


def group_words(group: str) -> str:
    """A risk group id in words (high_intermediate -> high-intermediate)."""
    return group.replace("_", "-")


def figure(value: float, digits: int, limits: tuple[float, ...] = ()) -> str:
    """``value`` to ``digits`` significant digits, with as many more as it takes not to print a limit
    the value is not equal to: 39.9988 against a cut-off of 40 is shown 39.999, never "40 (< 40)"."""
    txt = f"{value:.{digits}g}"
    for more in range(digits + 1, 16):
        if not any(float(txt) == limit != value for limit in limits):
            break
        txt = f"{value:.{more}g}"
    return txt


def places_clear_of(value: Decimal, places: int, limits: tuple[Decimal, ...] = ()) -> Decimal:
    """``value`` rounded to ``places`` decimals, with more where that rounding would land on a limit
    the value is not equal to (an eGFR of 39.9988 is 39.999, not 40.0, beside the cut-off of 40)."""
    shown = round(value, places)
    while any(shown == limit != value for limit in limits) and places < 12:
        places += 1
        shown = round(value, places)
    return shown
