"""Every threshold of clinical-reference §2 and §4, just below / at / just above, in both unit systems.

Each row: (id, request body, criterion id, expected status, expected classification or None).
Strictness is as published: '>' and '<' exclude the boundary, '≥' includes it.
"""

from __future__ import annotations

import pytest

from .helpers import (
    clone,
    code,
    ife,
    igm,
    light_chain,
    merge,
    mgus_igg,
    q,
    run,
    smm_igg,
    status,
)

MET, NOT, NA = "met", "not_met", "not_assessable"
MM, SMM, MGUS = "MULTIPLE_MYELOMA", "SMOLDERING_MYELOMA", "MGUS_NON_IGM"


def _labs(**kw):
    return smm_igg(labs=kw)


# --- §2.1 myeloma-defining events on an SMM panel (clonal BMPC 15 %): met -> myeloma, not -> SMM ---
CA_ABS = "mde.hypercalcemia.absolute"
CA_ULN = "mde.hypercalcemia.above_uln"
CREA = "mde.renal_insufficiency.creatinine"
CLEAR = "mde.renal_insufficiency.clearance"
HB_ABS = "mde.anemia.absolute"
HB_LLN = "mde.anemia.below_lln"

CRAB_ROWS = [
    # C: > 2.75 mmol/L (> 11 mg/dL); ULN 2.55 keeps the ULN rule (> 2.80) out of the way.
    (
        "calcium_2.74_mmol_not_hypercalcaemic",
        _labs(calcium=q(2.74, "mmol/L", rr=(2.15, 2.55))),
        CA_ABS,
        NOT,
        SMM,
    ),
    (
        "calcium_exactly_2.75_mmol_is_not_above_2.75",
        _labs(calcium=q(2.75, "mmol/L", rr=(2.15, 2.55))),
        CA_ABS,
        NOT,
        SMM,
    ),
    (
        "calcium_2.76_mmol_is_hypercalcaemic",
        _labs(calcium=q(2.76, "mmol/L", rr=(2.15, 2.55))),
        CA_ABS,
        MET,
        MM,
    ),
    (
        "calcium_10.9_mgdl_not_hypercalcaemic",
        _labs(calcium=q(10.9, "mg/dL", rr=(8.6, 10.2))),
        CA_ABS,
        NOT,
        SMM,
    ),
    (
        "calcium_11_mgdl_is_2.7446_mmol_not_hypercalcaemic",
        _labs(calcium=q(11, "mg/dL", rr=(8.6, 10.2))),
        CA_ABS,
        NOT,
        SMM,
    ),
    (
        "calcium_11.02_mgdl_is_2.7496_mmol_not_hypercalcaemic",
        _labs(calcium=q(11.02, "mg/dL", rr=(8.6, 10.2))),
        CA_ABS,
        NOT,
        SMM,
    ),
    (
        "calcium_11.03_mgdl_is_2.7521_mmol_hypercalcaemic",
        _labs(calcium=q(11.03, "mg/dL", rr=(8.6, 10.2))),
        CA_ABS,
        MET,
        MM,
    ),
    # C: > ULN + 0.25 mmol/L using the quantity's own reference range (ULN 2.45, the lowest plausible
    # upper limit of §1.1 -> 2.70).
    ("calcium_2.69_below_uln_plus_0.25", _labs(calcium=q(2.69, "mmol/L", rr=(2.1, 2.45))), CA_ULN, NOT, SMM),
    (
        "calcium_exactly_uln_plus_0.25_is_not_above",
        _labs(calcium=q(2.70, "mmol/L", rr=(2.1, 2.45))),
        CA_ULN,
        NOT,
        SMM,
    ),
    ("calcium_2.71_above_uln_plus_0.25", _labs(calcium=q(2.71, "mmol/L", rr=(2.1, 2.45))), CA_ULN, MET, MM),
    # ULN 9.9 mg/dL = 2.47018 mmol/L -> threshold 2.72018 mmol/L = 10.902 mg/dL.
    (
        "calcium_10.89_mgdl_uln_9.9_not_above",
        _labs(calcium=q(10.89, "mg/dL", rr=(8.6, 9.9))),
        CA_ULN,
        NOT,
        SMM,
    ),
    (
        "calcium_10.90_mgdl_uln_9.9_not_above",
        _labs(calcium=q(10.90, "mg/dL", rr=(8.6, 9.9))),
        CA_ULN,
        NOT,
        SMM,
    ),
    ("calcium_10.91_mgdl_uln_9.9_above", _labs(calcium=q(10.91, "mg/dL", rr=(8.6, 9.9))), CA_ULN, MET, MM),
    (
        # ref: §1.1 — no ULN sent: 2.5 mmol/L cannot exceed any plausible ULN (2.45-2.80) + 0.25.
        "calcium_2.5_without_reference_range_cannot_exceed_any_plausible_uln",
        _labs(calcium=q(2.5, "mmol/L")),
        CA_ULN,
        NOT,
        None,
    ),
    # R: creatinine > 177 umol/L (> 2 mg/dL); 177 umol/L = 2.00226 mg/dL.
    ("creatinine_176.9_umol_not_renal", _labs(creatinine=q(176.9, "umol/L")), CREA, NOT, SMM),
    ("creatinine_exactly_177_umol_is_not_above", _labs(creatinine=q(177, "umol/L")), CREA, NOT, SMM),
    ("creatinine_177.1_umol_is_renal", _labs(creatinine=q(177.1, "umol/L")), CREA, MET, MM),
    ("creatinine_2_mgdl_is_176.8_umol_not_renal", _labs(creatinine=q(2, "mg/dL")), CREA, NOT, SMM),
    ("creatinine_2.002_mgdl_is_176.98_umol_not_renal", _labs(creatinine=q(2.002, "mg/dL")), CREA, NOT, SMM),
    ("creatinine_2.003_mgdl_is_177.07_umol_renal", _labs(creatinine=q(2.003, "mg/dL")), CREA, MET, MM),
    # R: creatinine clearance < 40 mL/min (eGFR removed so that only the measured clearance counts).
    ("clearance_39.9_is_renal", _labs(creatinine_clearance=q(39.9, "mL/min"), egfr=None), CLEAR, MET, MM),
    (
        "clearance_exactly_40_is_not_below_40",
        _labs(creatinine_clearance=q(40, "mL/min"), egfr=None),
        CLEAR,
        NOT,
        SMM,
    ),
    ("clearance_40.1_not_renal", _labs(creatinine_clearance=q(40.1, "mL/min"), egfr=None), CLEAR, NOT, SMM),
    # A: Hb < 100 g/L (< 10 g/dL); LLN 115 keeps the LLN rule (< 95) out of the way.
    ("hb_99.9_gl_is_anaemia", _labs(hemoglobin=q(99.9, "g/L", rr=(115, 160))), HB_ABS, MET, MM),
    ("hb_exactly_100_gl_is_not_below_100", _labs(hemoglobin=q(100, "g/L", rr=(115, 160))), HB_ABS, NOT, SMM),
    ("hb_100.1_gl_not_anaemia", _labs(hemoglobin=q(100.1, "g/L", rr=(115, 160))), HB_ABS, NOT, SMM),
    ("hb_9.99_gdl_is_anaemia", _labs(hemoglobin=q(9.99, "g/dL", rr=(11.5, 16))), HB_ABS, MET, MM),
    ("hb_exactly_10_gdl_is_not_below_10", _labs(hemoglobin=q(10.0, "g/dL", rr=(11.5, 16))), HB_ABS, NOT, SMM),
    ("hb_10.01_gdl_not_anaemia", _labs(hemoglobin=q(10.01, "g/dL", rr=(11.5, 16))), HB_ABS, NOT, SMM),
    # A: > 20 g/L below the quantity's own LLN (LLN 125 -> < 105).
    ("hb_104.9_more_than_20_below_lln", _labs(hemoglobin=q(104.9, "g/L", rr=(125, 165))), HB_LLN, MET, MM),
    ("hb_exactly_20_below_lln_is_not_more", _labs(hemoglobin=q(105, "g/L", rr=(125, 165))), HB_LLN, NOT, SMM),
    ("hb_105.1_less_than_20_below_lln", _labs(hemoglobin=q(105.1, "g/L", rr=(125, 165))), HB_LLN, NOT, SMM),
    (
        "hb_10.49_gdl_more_than_2_gdl_below_lln",
        _labs(hemoglobin=q(10.49, "g/dL", rr=(12.5, 16.5))),
        HB_LLN,
        MET,
        MM,
    ),
    (
        "hb_10.5_gdl_exactly_2_gdl_below_lln",
        _labs(hemoglobin=q(10.5, "g/dL", rr=(12.5, 16.5))),
        HB_LLN,
        NOT,
        SMM,
    ),
    (
        "hb_10.51_gdl_less_than_2_gdl_below_lln",
        _labs(hemoglobin=q(10.51, "g/dL", rr=(12.5, 16.5))),
        HB_LLN,
        NOT,
        SMM,
    ),
    ("hb_without_reference_range_lln_rule_not_assessable", _labs(hemoglobin=q(110, "g/L")), HB_LLN, NA, None),
    # B: >= 1 osteolytic lesion.
    ("no_osteolytic_lesion", smm_igg(imaging={"osteolytic_lesions": 0}), "mde.bone_lesions", NOT, SMM),
    (
        "one_osteolytic_lesion_is_bone_disease",
        smm_igg(imaging={"osteolytic_lesions": 1}),
        "mde.bone_lesions",
        MET,
        MM,
    ),
    (
        "two_osteolytic_lesions_is_bone_disease",
        smm_igg(imaging={"osteolytic_lesions": 2}),
        "mde.bone_lesions",
        MET,
        MM,
    ),
    # S: clonal BMPC >= 60 %.
    (
        "bmpc_59.9_is_not_slim",
        smm_igg(marrow={"clonal_plasma_cells_percent": 59.9}),
        "mde.bmpc_ge_60",
        NOT,
        SMM,
    ),
    (
        "bmpc_exactly_60_is_an_mde",
        smm_igg(marrow={"clonal_plasma_cells_percent": 60}),
        "mde.bmpc_ge_60",
        MET,
        MM,
    ),
    ("bmpc_60.1_is_an_mde", smm_igg(marrow={"clonal_plasma_cells_percent": 60.1}), "mde.bmpc_ge_60", MET, MM),
    # M: > 1 focal lesion on MRI.
    (
        "one_mri_focal_lesion_is_not_an_mde",
        smm_igg(imaging={"mri_focal_lesions": 1}),
        "mde.mri_focal_lesions",
        NOT,
        SMM,
    ),
    (
        "two_mri_focal_lesions_is_an_mde",
        smm_igg(imaging={"mri_focal_lesions": 2}),
        "mde.mri_focal_lesions",
        MET,
        MM,
    ),
    (
        "three_mri_focal_lesions_is_an_mde",
        smm_igg(imaging={"mri_focal_lesions": 3}),
        "mde.mri_focal_lesions",
        MET,
        MM,
    ),
]


def _li(kappa, lam, light="kappa"):
    return smm_igg(flc={"kappa": kappa, "lambda": lam}, serum_ife=ife(clone("IgG", light)))


LI = "mde.flc_ratio_ge_100"
LI_ROWS = [
    # Li: involved/uninvolved >= 100 AND involved FLC >= 100 mg/L; both conditions on both sides.
    ("ratio_100_involved_100_is_an_mde", _li(q(100, "mg/L"), q(1, "mg/L")), LI, MET, MM),
    ("ratio_100_involved_99.9_is_not", _li(q(99.9, "mg/L"), q(0.999, "mg/L")), LI, NOT, SMM),
    ("ratio_100.1_involved_100.1_is_an_mde", _li(q(100.1, "mg/L"), q(1, "mg/L")), LI, MET, MM),
    ("ratio_99.5_involved_200_is_not", _li(q(200, "mg/L"), q(2.01, "mg/L")), LI, NOT, SMM),
    ("ratio_exactly_100_involved_200_is_an_mde", _li(q(200, "mg/L"), q(2, "mg/L")), LI, MET, MM),
    ("ratio_100.5_involved_201_is_an_mde", _li(q(201, "mg/L"), q(2, "mg/L")), LI, MET, MM),
    ("mgdl_ratio_100_involved_10_mgdl_is_an_mde", _li(q(10, "mg/dL"), q(0.1, "mg/dL")), LI, MET, MM),
    ("mgdl_ratio_100_involved_9.99_mgdl_is_not", _li(q(9.99, "mg/dL"), q(0.0999, "mg/dL")), LI, NOT, SMM),
    ("mgdl_ratio_99.5_involved_20_mgdl_is_not", _li(q(20, "mg/dL"), q(0.201, "mg/dL")), LI, NOT, SMM),
    (
        "lambda_clone_ratio_100_involved_100_is_an_mde",
        _li(q(1, "mg/L"), q(100, "mg/L"), "lambda"),
        LI,
        MET,
        MM,
    ),
    (
        "lambda_clone_ratio_99_involved_100_is_not",
        _li(q(1.01, "mg/L"), q(100, "mg/L"), "lambda"),
        LI,
        NOT,
        SMM,
    ),
]


@pytest.mark.parametrize(
    ("body", "criterion", "expected", "category"),
    [r[1:] for r in CRAB_ROWS + LI_ROWS],
    ids=[r[0] for r in CRAB_ROWS + LI_ROWS],
)
def test_myeloma_defining_event_thresholds_are_applied_as_published(body, criterion, expected, category):
    result = run(body)
    assert status(result, criterion) == expected
    if category is not None:
        assert code(result) == category
    if expected == MET:
        assert "MYELOMA_DEFINING_EVENT" in {f["code"] for f in result["flags"]}


# --- §2.2–§2.8 category thresholds -----------------------------------------------------------------
SERUM30 = "serum_m_protein_ge_30"
URINE500 = "urine_m_protein_ge_500"
BMPC10 = "bmpc_ge_10"
IGM30 = "igm_m_protein_ge_30"
LPL10 = "lymphoplasmacytic_infiltrate_ge_10"
WR = "WALDENSTROM_RANGE"


def _urine(v, unit):
    return mgus_igg(urine={"m_protein_24h": q(v, unit), "ife": ife(clone("IgG", "kappa"))})


CATEGORY_ROWS = [
    ("m_protein_29.9_gl_is_mgus", mgus_igg(spep={"m_protein": q(29.9, "g/L")}), SERUM30, NOT, MGUS),
    ("m_protein_exactly_30_gl_is_smm", mgus_igg(spep={"m_protein": q(30, "g/L")}), SERUM30, MET, SMM),
    ("m_protein_30.1_gl_is_smm", mgus_igg(spep={"m_protein": q(30.1, "g/L")}), SERUM30, MET, SMM),
    ("m_protein_2.99_gdl_is_mgus", mgus_igg(spep={"m_protein": q(2.99, "g/dL")}), SERUM30, NOT, MGUS),
    ("m_protein_exactly_3_gdl_is_smm", mgus_igg(spep={"m_protein": q(3.0, "g/dL")}), SERUM30, MET, SMM),
    ("m_protein_3.01_gdl_is_smm", mgus_igg(spep={"m_protein": q(3.01, "g/dL")}), SERUM30, MET, SMM),
    (
        "iga_m_protein_exactly_30_gl_is_smm",
        mgus_igg(spep={"m_protein": q(30, "g/L")}, serum_ife=ife(clone("IgA", "lambda"))),
        SERUM30,
        MET,
        SMM,
    ),
    ("urine_499_mg_is_mgus", _urine(499, "mg/24h"), URINE500, NOT, MGUS),
    ("urine_exactly_500_mg_is_smm", _urine(500, "mg/24h"), URINE500, MET, SMM),
    ("urine_501_mg_is_smm", _urine(501, "mg/24h"), URINE500, MET, SMM),
    ("urine_0.499_g_is_mgus", _urine(0.499, "g/24h"), URINE500, NOT, MGUS),
    ("urine_exactly_0.5_g_is_smm", _urine(0.5, "g/24h"), URINE500, MET, SMM),
    ("urine_0.501_g_is_smm", _urine(0.501, "g/24h"), URINE500, MET, SMM),
    ("bmpc_9.9_is_mgus", mgus_igg(marrow={"clonal_plasma_cells_percent": 9.9}), BMPC10, NOT, MGUS),
    ("bmpc_exactly_10_is_smm", mgus_igg(marrow={"clonal_plasma_cells_percent": 10}), BMPC10, MET, SMM),
    ("bmpc_10.1_is_smm", mgus_igg(marrow={"clonal_plasma_cells_percent": 10.1}), BMPC10, MET, SMM),
    (
        "morphology_plasma_cells_10_stand_in_for_clonal",
        mgus_igg(marrow={"clonal_plasma_cells_percent": None, "plasma_cells_percent": 10}),
        BMPC10,
        MET,
        SMM,
    ),
    (
        "morphology_plasma_cells_9.9_stand_in_for_clonal",
        mgus_igg(marrow={"clonal_plasma_cells_percent": None, "plasma_cells_percent": 9.9}),
        BMPC10,
        NOT,
        MGUS,
    ),
    # §2.2: myeloma needs BMPC >= 10 % (or a plasmacytoma) with the MDE.
    (
        "mde_with_bmpc_exactly_10_is_myeloma",
        mgus_igg(marrow={"clonal_plasma_cells_percent": 10}, labs={"calcium": q(2.76, "mmol/L")}),
        BMPC10,
        MET,
        MM,
    ),
    (
        "mde_with_bmpc_10.1_is_myeloma",
        mgus_igg(marrow={"clonal_plasma_cells_percent": 10.1}, labs={"calcium": q(2.76, "mmol/L")}),
        BMPC10,
        MET,
        MM,
    ),
    # §2.5 IgM
    ("igm_29.9_gl_is_igm_mgus", igm(spep={"m_protein": q(29.9, "g/L")}), IGM30, NOT, "MGUS_IGM"),
    ("igm_exactly_30_gl_is_waldenstrom_range", igm(spep={"m_protein": q(30, "g/L")}), IGM30, MET, WR),
    ("igm_30.1_gl_is_waldenstrom_range", igm(spep={"m_protein": q(30.1, "g/L")}), IGM30, MET, WR),
    ("igm_2.99_gdl_is_igm_mgus", igm(spep={"m_protein": q(2.99, "g/dL")}), IGM30, NOT, "MGUS_IGM"),
    ("igm_exactly_3_gdl_is_waldenstrom_range", igm(spep={"m_protein": q(3.0, "g/dL")}), IGM30, MET, WR),
    ("igm_3.01_gdl_is_waldenstrom_range", igm(spep={"m_protein": q(3.01, "g/dL")}), IGM30, MET, WR),
    (
        "lpl_infiltrate_9.9_is_igm_mgus",
        igm(marrow={"lymphoplasmacytic_infiltrate_percent": 9.9}),
        LPL10,
        NOT,
        "MGUS_IGM",
    ),
    (
        "lpl_infiltrate_exactly_10_is_waldenstrom_range",
        igm(marrow={"lymphoplasmacytic_infiltrate_percent": 10}),
        LPL10,
        MET,
        WR,
    ),
    (
        "lpl_infiltrate_10.1_is_waldenstrom_range",
        igm(marrow={"lymphoplasmacytic_infiltrate_percent": 10.1}),
        LPL10,
        MET,
        WR,
    ),
]


@pytest.mark.parametrize(
    ("body", "criterion", "expected", "category"),
    [r[1:] for r in CATEGORY_ROWS],
    ids=[r[0] for r in CATEGORY_ROWS],
)
def test_category_thresholds_decide_the_imwg_category(body, criterion, expected, category):
    result = run(body)
    assert status(result, criterion) == expected
    assert code(result) == category


def test_mde_with_bmpc_9_9_percent_is_not_myeloma_nor_mgus_nor_smm():
    result = run(mgus_igg(marrow={"clonal_plasma_cells_percent": 9.9}, labs={"calcium": q(2.76, "mmol/L")}))
    assert status(result, BMPC10) == NOT
    assert code(result) not in {MM, SMM, MGUS, "MGUS_LIGHT_CHAIN"}


def test_flow_cytometry_percentage_is_never_used_for_the_10_percent_threshold():
    result = run(mgus_igg(marrow={"clonal_plasma_cells_percent": None, "flow_plasma_cells_percent": 15}))
    assert status(result, BMPC10) != MET
    assert code(result) != SMM


# --- §2.6 light-chain MGUS / §2.7 light-chain SMM / §2.8 plasmacytoma ---------------------------------
K = (3.3, 19.4)
LAM = (5.7, 26.3)
LC_MGUS, LC_SMM, NONE = "MGUS_LIGHT_CHAIN", "SMOLDERING_MYELOMA_LIGHT_CHAIN", "NO_MONOCLONAL_PROTEIN"


def _lc(kv, lv, unit="mg/L", rr_k=K, rr_l=LAM, **over):
    f = 0.1 if unit == "mg/dL" else 1
    return light_chain(
        q(kv, unit, rr=(rr_k[0] * f, rr_k[1] * f)), q(lv, unit, rr=(rr_l[0] * f, rr_l[1] * f)), **over
    )


LC_ROWS = [
    # (id, body, expected flc.abnormal, expected category)
    ("ratio_1.64_is_normal", _lc(32.8, 20), False, NONE),
    ("ratio_exactly_1.65_is_normal", _lc(33, 20), False, NONE),
    ("ratio_1.66_kappa_raised_is_lc_mgus", _lc(33.2, 20), True, LC_MGUS),
    ("mgdl_ratio_1.64_is_normal", _lc(3.28, 2.0, "mg/dL"), False, NONE),
    ("mgdl_ratio_exactly_1.65_is_normal", _lc(3.3, 2.0, "mg/dL"), False, NONE),
    ("mgdl_ratio_1.66_kappa_raised_is_lc_mgus", _lc(3.32, 2.0, "mg/dL"), True, LC_MGUS),
    ("ratio_0.259_lambda_raised_is_lc_mgus", _lc(10.36, 40), True, LC_MGUS),
    ("ratio_exactly_0.26_is_normal", _lc(10.4, 40), False, NONE),
    ("ratio_0.261_is_normal", _lc(10.44, 40), False, NONE),
    ("mgdl_ratio_0.259_lambda_raised_is_lc_mgus", _lc(1.036, 4.0, "mg/dL"), True, LC_MGUS),
    ("mgdl_ratio_exactly_0.26_is_normal", _lc(1.04, 4.0, "mg/dL"), False, NONE),
]


@pytest.mark.parametrize(
    ("body", "abnormal", "category"), [r[1:] for r in LC_ROWS], ids=[r[0] for r in LC_ROWS]
)
def test_light_chain_mgus_needs_a_ratio_outside_0_26_to_1_65(body, abnormal, category):
    result = run(body)
    assert result["flc"]["abnormal"] is abnormal
    assert code(result) == category
    if abnormal:
        assert status(result, "flc_ratio_abnormal") == MET


RAISED_ROWS = [
    ("kappa_19.3_below_uln_not_raised", _lc(19.3, 9.65), NOT),
    ("kappa_exactly_uln_19.4_not_raised", _lc(19.4, 9.7), NOT),
    ("kappa_19.5_above_uln_raised", _lc(19.5, 9.75), MET),
    ("mgdl_kappa_exactly_uln_1.94_not_raised", _lc(1.94, 0.97, "mg/dL"), NOT),
    ("mgdl_kappa_1.95_above_uln_raised", _lc(1.95, 0.975, "mg/dL"), MET),
    ("lambda_26.3_at_uln_with_ratio_0.2_not_raised", _lc(5.26, 26.3), NOT),
    ("lambda_26.4_above_uln_with_ratio_0.2_raised", _lc(5.28, 26.4), MET),
]


@pytest.mark.parametrize(("body", "expected"), [r[1:] for r in RAISED_ROWS], ids=[r[0] for r in RAISED_ROWS])
def test_light_chain_mgus_needs_the_involved_chain_above_its_upper_limit(body, expected):
    result = run(body)
    assert result["flc"]["abnormal"] is True
    assert status(result, "involved_flc_raised") == expected
    assert (code(result) == LC_MGUS) is (expected == MET)


def _lc_urine(v, unit):
    return _lc(40, 10, urine={"m_protein_24h": q(v, unit), "ife": ife(clone(None, "kappa"))})


LC_SMM_ROWS = [
    ("bence_jones_499_mg_is_lc_mgus", _lc_urine(499, "mg/24h"), URINE500, NOT, LC_MGUS),
    ("bence_jones_exactly_500_mg_is_lc_smm", _lc_urine(500, "mg/24h"), URINE500, MET, LC_SMM),
    ("bence_jones_501_mg_is_lc_smm", _lc_urine(501, "mg/24h"), URINE500, MET, LC_SMM),
    ("bence_jones_0.499_g_is_lc_mgus", _lc_urine(0.499, "g/24h"), URINE500, NOT, LC_MGUS),
    ("bence_jones_exactly_0.5_g_is_lc_smm", _lc_urine(0.5, "g/24h"), URINE500, MET, LC_SMM),
    (
        "light_chain_bmpc_9.9_is_lc_mgus",
        _lc(40, 10, marrow={"clonal_plasma_cells_percent": 9.9}),
        BMPC10,
        NOT,
        LC_MGUS,
    ),
    (
        "light_chain_bmpc_exactly_10_is_lc_smm",
        _lc(40, 10, marrow={"clonal_plasma_cells_percent": 10}),
        BMPC10,
        MET,
        LC_SMM,
    ),
]


@pytest.mark.parametrize(
    ("body", "criterion", "expected", "category"),
    [r[1:] for r in LC_SMM_ROWS],
    ids=[r[0] for r in LC_SMM_ROWS],
)
def test_light_chain_smouldering_myeloma_thresholds(body, criterion, expected, category):
    result = run(body)
    assert status(result, criterion) == expected
    assert code(result) == category


def _plasmacytoma(bmpc):
    return mgus_igg(
        spep={"m_protein": q(5, "g/L")},
        clinical={"plasmacytoma": True},
        marrow={"clonal_plasma_cells_percent": bmpc},
    )


@pytest.mark.parametrize(
    ("bmpc", "category"),
    [
        (0, "SOLITARY_PLASMACYTOMA"),
        (9.9, "SOLITARY_PLASMACYTOMA"),
        (10, "MULTIPLE_MYELOMA"),  # ref: §2.8 — a plasmacytoma with clonal BMPC >= 10 % is myeloma
    ],
    ids=[
        "clean_marrow_is_solitary",
        "minimal_involvement_9.9_is_solitary",
        "bmpc_exactly_10_is_myeloma_not_solitary",
    ],
)
def test_solitary_plasmacytoma_allows_only_minimal_marrow_involvement_below_10_percent(bmpc, category):
    assert code(run(_plasmacytoma(bmpc))) == category


# --- §4 ratio intervals per assay and renal function ------------------------------------------------
FREELITE_RENAL = {"labs": {"egfr": q(59, "mL/min/1.73m2"), "creatinine_clearance": None}}
N_LATEX = ((6.7, 22.4), (8.3, 27.0))
SEBIA = ((5.2, 15.3), (8.2, 18.1))


def _assay(kv, lv, assay="freelite", renal=False, unit="mg/L", rr=(K, LAM)):
    over = {"flc": {"assay": assay}}
    if renal:
        over = merge(over, FREELITE_RENAL)
    return _lc(kv, lv, unit, rr[0], rr[1], **over)


INTERVAL_ROWS = [
    # (id, body, (low, high) reported, abnormal)
    ("freelite_1.65_normal", _assay(33, 20), (0.26, 1.65), False),
    ("freelite_1.66_abnormal", _assay(33.2, 20), (0.26, 1.65), True),
    ("freelite_0.26_normal", _assay(10.4, 40), (0.26, 1.65), False),
    ("freelite_0.259_abnormal", _assay(10.36, 40), (0.26, 1.65), True),
    ("renal_egfr_59_ratio_3.09_normal", _assay(61.8, 20, renal=True), (0.37, 3.10), False),
    ("renal_egfr_59_ratio_exactly_3.10_normal", _assay(62, 20, renal=True), (0.37, 3.10), False),
    ("renal_egfr_59_ratio_3.11_abnormal", _assay(62.2, 20, renal=True), (0.37, 3.10), True),
    ("renal_egfr_59_mgdl_ratio_3.10_normal", _assay(6.2, 2, renal=True, unit="mg/dL"), (0.37, 3.10), False),
    ("renal_egfr_59_mgdl_ratio_3.11_abnormal", _assay(6.22, 2, renal=True, unit="mg/dL"), (0.37, 3.10), True),
    ("renal_egfr_59_ratio_0.371_normal", _assay(37.1, 100, renal=True), (0.37, 3.10), False),
    ("renal_egfr_59_ratio_exactly_0.37_normal", _assay(37, 100, renal=True), (0.37, 3.10), False),
    ("renal_egfr_59_ratio_0.369_abnormal", _assay(36.9, 100, renal=True), (0.37, 3.10), True),
    (
        "egfr_59.9_selects_renal_interval_ratio_2_normal",
        _lc(
            40,
            20,
            flc={"assay": "freelite"},
            labs={"egfr": q(59.9, "mL/min/1.73m2"), "creatinine_clearance": None},
        ),
        (0.37, 3.10),
        False,
    ),
    (
        "egfr_exactly_60_keeps_normal_interval_ratio_2_abnormal",
        _lc(40, 20, labs={"egfr": q(60, "mL/min/1.73m2"), "creatinine_clearance": q(95, "mL/min")}),
        (0.26, 1.65),
        True,
    ),
    (
        "crcl_59_selects_renal_interval_ratio_2_normal",
        _lc(40, 20, labs={"egfr": None, "creatinine_clearance": q(59, "mL/min")}),
        (0.37, 3.10),
        False,
    ),
    (
        "crcl_exactly_60_keeps_normal_interval_ratio_2_abnormal",
        _lc(40, 20, labs={"egfr": None, "creatinine_clearance": q(60, "mL/min")}),
        (0.26, 1.65),
        True,
    ),
    ("n_latex_1.55_normal", _assay(31, 20, "n_latex", rr=N_LATEX), (0.31, 1.56), False),
    ("n_latex_exactly_1.56_normal", _assay(31.2, 20, "n_latex", rr=N_LATEX), (0.31, 1.56), False),
    ("n_latex_1.57_abnormal", _assay(31.4, 20, "n_latex", rr=N_LATEX), (0.31, 1.56), True),
    ("n_latex_mgdl_1.56_normal", _assay(3.12, 2, "n_latex", unit="mg/dL", rr=N_LATEX), (0.31, 1.56), False),
    ("n_latex_mgdl_1.57_abnormal", _assay(3.14, 2, "n_latex", unit="mg/dL", rr=N_LATEX), (0.31, 1.56), True),
    ("n_latex_0.311_normal", _assay(31.1, 100, "n_latex", rr=N_LATEX), (0.31, 1.56), False),
    ("n_latex_exactly_0.31_normal", _assay(31, 100, "n_latex", rr=N_LATEX), (0.31, 1.56), False),
    ("n_latex_0.309_abnormal", _assay(30.9, 100, "n_latex", rr=N_LATEX), (0.31, 1.56), True),
    ("sebia_1.43_normal", _assay(28.6, 20, "sebia", rr=SEBIA), (0.37, 1.44), False),
    ("sebia_exactly_1.44_normal", _assay(28.8, 20, "sebia", rr=SEBIA), (0.37, 1.44), False),
    ("sebia_1.45_abnormal", _assay(29, 20, "sebia", rr=SEBIA), (0.37, 1.44), True),
    ("sebia_mgdl_1.44_normal", _assay(2.88, 2, "sebia", unit="mg/dL", rr=SEBIA), (0.37, 1.44), False),
    ("sebia_mgdl_1.45_abnormal", _assay(2.9, 2, "sebia", unit="mg/dL", rr=SEBIA), (0.37, 1.44), True),
    ("sebia_0.371_normal", _assay(37.1, 100, "sebia", rr=SEBIA), (0.37, 1.44), False),
    ("sebia_exactly_0.37_normal", _assay(37, 100, "sebia", rr=SEBIA), (0.37, 1.44), False),
    (
        "sebia_end_stage_renal_2.23_normal",
        _assay(44.6, 20, "sebia", rr=SEBIA)
        | {"clinical": {"end_stage_renal_disease": True, "amyloidosis": False, "plasmacytoma": False}},
        (0.46, 2.23),
        False,
    ),
    (
        "sebia_end_stage_renal_2.24_abnormal",
        _assay(44.8, 20, "sebia", rr=SEBIA)
        | {"clinical": {"end_stage_renal_disease": True, "amyloidosis": False, "plasmacytoma": False}},
        (0.46, 2.23),
        True,
    ),
    ("sebia_0.369_abnormal", _assay(36.9, 100, "sebia", rr=SEBIA), (0.37, 1.44), True),
]


@pytest.mark.parametrize(
    ("body", "interval", "abnormal"), [r[1:] for r in INTERVAL_ROWS], ids=[r[0] for r in INTERVAL_ROWS]
)
def test_flc_ratio_is_judged_against_the_interval_of_its_assay_and_renal_function(body, interval, abnormal):
    result = run(body)
    ri = result["flc"]["reference_interval"]
    assert (ri["low"], ri["high"]) == pytest.approx(interval)
    assert result["flc"]["abnormal"] is abnormal
    assert code(result) == (LC_MGUS if abnormal else NONE)


# --- Bounds (comparators): a criterion is decided only when the bound settles it ----------------------
BOUND_ROWS = [
    ("m_protein_lt_16_decides_below_30", mgus_igg(spep={"m_protein": q(16, "g/L", "<")}), SERUM30, NOT),
    ("m_protein_lt_30_decides_below_30", mgus_igg(spep={"m_protein": q(30, "g/L", "<")}), SERUM30, NOT),
    ("m_protein_le_30_does_not_decide", mgus_igg(spep={"m_protein": q(30, "g/L", "<=")}), SERUM30, NA),
    ("m_protein_gt_29_does_not_decide", mgus_igg(spep={"m_protein": q(29, "g/L", ">")}), SERUM30, NA),
    ("m_protein_ge_30_decides_at_least_30", mgus_igg(spep={"m_protein": q(30, "g/L", ">=")}), SERUM30, MET),
    ("m_protein_gt_3_gdl_decides_at_least_30", mgus_igg(spep={"m_protein": q(3, "g/dL", ">")}), SERUM30, MET),
    (
        "m_protein_lt_0.1_gdl_decides_below_30",
        mgus_igg(spep={"m_protein": q(0.1, "g/dL", "<")}),
        SERUM30,
        NOT,
    ),
    (
        "calcium_lt_2.75_is_not_hypercalcaemic",
        _labs(calcium=q(2.75, "mmol/L", "<", rr=(2.15, 2.55))),
        CA_ABS,
        NOT,
    ),
    ("calcium_le_2.76_does_not_decide", _labs(calcium=q(2.76, "mmol/L", "<=", rr=(2.15, 2.55))), CA_ABS, NA),
    (
        "calcium_gt_2.75_is_hypercalcaemic",
        _labs(calcium=q(2.75, "mmol/L", ">", rr=(2.15, 2.55))),
        CA_ABS,
        MET,
    ),
    ("creatinine_gt_177_is_renal", _labs(creatinine=q(177, "umol/L", ">")), CREA, MET),
    ("creatinine_le_178_does_not_decide", _labs(creatinine=q(178, "umol/L", "<=")), CREA, NA),
    ("hb_lt_100_is_anaemia", _labs(hemoglobin=q(100, "g/L", "<", rr=(115, 160))), HB_ABS, MET),
    ("hb_ge_100_is_not_anaemia", _labs(hemoglobin=q(100, "g/L", ">=", rr=(115, 160))), HB_ABS, NOT),
    ("clearance_gt_90_is_not_renal", _labs(creatinine_clearance=q(90, "mL/min", ">"), egfr=None), CLEAR, NOT),
    (
        "kappa_below_detection_lt_1_lambda_150_is_li_mde",
        _li(q(1, "mg/L", "<"), q(150, "mg/L"), "lambda"),
        LI,
        MET,
    ),
    ("kappa_lt_2_lambda_150_leaves_li_undecided", _li(q(2, "mg/L", "<"), q(150, "mg/L"), "lambda"), LI, NA),
    ("creatinine_micro_sign_spelling_177.1_is_renal", _labs(creatinine=q(177.1, "µmol/L")), CREA, MET),
    (
        "urine_lt_500_decides_below",
        _urine(500, "mg/24h") | {"urine": {"m_protein_24h": q(500, "mg/24h", "<")}},
        URINE500,
        NOT,
    ),
]


@pytest.mark.parametrize(
    ("body", "criterion", "expected"), [r[1:] for r in BOUND_ROWS], ids=[r[0] for r in BOUND_ROWS]
)
def test_a_bound_decides_a_criterion_only_when_it_settles_it(body, criterion, expected):
    assert status(run(body), criterion) == expected


def test_m_protein_reported_below_16_gl_leaves_mayo_m_protein_factor_undecided():
    result = run(mgus_igg(spep={"m_protein": q(16, "g/L", "<")}))
    mayo = result["risk"]["mgus_mayo_2005"]
    assert [f["status"] for f in mayo["factors"] if f["id"] == "m_protein_ge_15_g_l"] == ["unknown"]
    assert mayo["group"] is None


# §2.1 Li at exactly 100 when the quotient does not terminate in decimal: κ/λ = 300/3 is 100, not
# 300 × 0.333… (a rounded reciprocal put 30 of these 91 pairs just below 100, "not met").
EXACT_100_PAIRS = [(round(lam * 100, 1), lam) for lam in (x / 10 for x in range(10, 101))]


@pytest.mark.parametrize(
    ("involved", "uninvolved"), EXACT_100_PAIRS, ids=[f"{k:g}/{v:g}" for k, v in EXACT_100_PAIRS]
)
@pytest.mark.parametrize("light", ["kappa", "lambda"])
def test_li_ratio_of_exactly_100_is_met_whatever_the_decimal_quotient(involved, uninvolved, light):
    kappa, lam = (involved, uninvolved) if light == "kappa" else (uninvolved, involved)
    result = run(_li(q(kappa, "mg/L"), q(lam, "mg/L"), light))
    assert status(result, LI) == MET
    assert code(result) == MM


@pytest.mark.parametrize(
    ("kappa", "lam", "expected", "category"),
    [
        (q(300, "mg/L"), q(3, "mg/L", "<"), MET, MM),  # the ratio is certainly above 100
        (q(300, "mg/L", ">="), q(3, "mg/L"), MET, MM),  # certainly at least 100
        (q(299.9, "mg/L"), q(3, "mg/L"), NOT, SMM),  # 99.97: just below
        (q(30, "mg/dL"), q(0.3, "mg/dL"), MET, MM),  # the same pair in mg/dL
    ],
    ids=["lambda_below_3", "kappa_at_least_300", "ratio_99.97", "mgdl_30_over_0.3"],
)
def test_li_bounds_and_units_at_a_ratio_of_exactly_100(kappa, lam, expected, category):
    result = run(_li(kappa, lam))
    assert status(result, LI) == expected
    assert code(result) == category


@pytest.mark.parametrize(
    ("body", "expected", "category"),
    [
        # IgG-kappa clone, lambda 1000 / kappa 5 mg/L: >= 100 only on the opposite chain, discordant
        (_li(q(5, "mg/L"), q(1000, "mg/L")), NA, "INDETERMINATE"),
        (
            merge(_li(q(5, "mg/L"), q(1000, "mg/L")), {"marrow": {"clonal_plasma_cells_percent": 5}}),
            NA,
            "INDETERMINATE",
        ),
        # the clone's own chain: met as before
        (_li(q(1000, "mg/L"), q(5, "mg/L")), MET, MM),
        (_li(q(5, "mg/L"), q(1000, "mg/L"), "lambda"), MET, MM),
        # below 100 on the opposite chain: no myeloma-defining event either way
        (_li(q(10, "mg/L"), q(300, "mg/L")), NOT, SMM),
    ],
    ids=["opposite_smm_range", "opposite_mgus_range", "own_kappa", "own_lambda", "opposite_30"],
)
def test_li_met_only_on_the_chain_opposite_the_clone_is_discordant_not_myeloma(body, expected, category):
    # §2.1 Li: the involved chain is the clone's. A ratio >= 100 on the other chain is a possible second
    # clone: not assessable, indeterminate and referred, FLC and immunofixation repeated; it was a final
    # myeloma resting on the discordant chain alone.
    result = run(body)
    assert status(result, LI) == expected
    assert code(result) == category
    if category == "INDETERMINATE":
        assert result["classification"]["provisional"] is True
        assert {"flc.kappa", "flc.lambda", "serum_ife"} <= set(result["missing_data"])
        assert "REPEAT_IFE_FLC" in {r["code"] for r in result["recommendations"]}


@pytest.mark.parametrize(
    ("kappa", "lam", "needed"),
    [
        (q(1000, "mg/L"), q(11, "mg/L", "<"), ["flc.lambda"]),
        (q(1000, "mg/L", ">"), q(11, "mg/L"), ["flc.kappa"]),
    ],
    ids=["lambda_bound", "kappa_bound"],
)
def test_an_open_li_asks_only_for_the_chain_sent_as_a_bound(kappa, lam, needed):
    # §2.1 Li open on a bound (1000 / "< 11": the ratio may be above 100): the exact value of the bounded
    # chain settles it; the chain sent exactly is not asked for again.
    result = run(_li(kappa, lam))
    assert status(result, LI) == NA
    flc_needed = [m for m in result["missing_data"] if m.startswith("flc.")]
    assert flc_needed == needed


def test_an_igm_clone_beside_a_ratio_of_100_on_the_other_chain_keeps_its_myeloma_features_reading():
    # §2.5: beside an IgM clone the SLiM findings are read as myeloma features (indeterminate, referred);
    # the discordance rule of a non-IgM clone does not turn them into an IgM MGUS.
    body = igm(flc={"kappa": q(5, "mg/L"), "lambda": q(1000, "mg/L")}, serum_ife=ife(clone("IgM", "kappa")))
    result = run(body)
    assert status(result, LI) == MET
    assert code(result) == "INDETERMINATE"
