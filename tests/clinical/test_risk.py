"""Risk models of clinical-reference §3.1, §3.3 and §3.4: every band edge just below / at / just above."""

from __future__ import annotations

import pytest

from .helpers import (
    FISH_NEGATIVE,
    clone,
    factor,
    ife,
    igm,
    mgus_igg,
    q,
    risk,
    run,
    s6_body,
    smm_igg,
)

MAYO = "mgus_mayo_2005"
SMM18 = "smm_mayo_2018"
SMM20 = "smm_imwg_2020"

# --- §3.1 Mayo MGUS: M-protein >= 15 g/L; non-IgG; FLC ratio < 0.26 or > 1.65 ---------------------------
MP15, NON_IGG, FLC_ABN = "m_protein_ge_15_g_l", "non_igg_isotype", "abnormal_flc_ratio"
LOW, LI, HI, HIGH = "low", "low_intermediate", "high_intermediate", "high"


def _mp(v, unit):
    return mgus_igg(spep={"m_protein": q(v, unit)})


def _ratio(k, lam, unit="mg/L"):
    return mgus_igg(flc={"kappa": q(k, unit), "lambda": q(lam, unit)})


def _iso(heavy):
    return mgus_igg(serum_ife=ife(clone(heavy, "kappa")))


MAYO_ROWS = [
    ("m_protein_14.9_gl_is_not_a_factor", _mp(14.9, "g/L"), MP15, "absent", LOW),
    ("m_protein_exactly_15_gl_is_a_factor", _mp(15, "g/L"), MP15, "present", LI),
    ("m_protein_15.1_gl_is_a_factor", _mp(15.1, "g/L"), MP15, "present", LI),
    ("m_protein_1.49_gdl_is_not_a_factor", _mp(1.49, "g/dL"), MP15, "absent", LOW),
    ("m_protein_exactly_1.5_gdl_is_a_factor", _mp(1.5, "g/dL"), MP15, "present", LI),
    ("m_protein_1.51_gdl_is_a_factor", _mp(1.51, "g/dL"), MP15, "present", LI),
    ("flc_ratio_1.64_is_not_a_factor", _ratio(32.8, 20), FLC_ABN, "absent", LOW),
    ("flc_ratio_exactly_1.65_is_not_a_factor", _ratio(33, 20), FLC_ABN, "absent", LOW),
    ("flc_ratio_1.66_is_a_factor", _ratio(33.2, 20), FLC_ABN, "present", LI),
    ("flc_ratio_mgdl_exactly_1.65_is_not_a_factor", _ratio(3.3, 2, "mg/dL"), FLC_ABN, "absent", LOW),
    ("flc_ratio_mgdl_1.66_is_a_factor", _ratio(3.32, 2, "mg/dL"), FLC_ABN, "present", LI),
    ("flc_ratio_0.259_is_a_factor", _ratio(10.36, 40), FLC_ABN, "present", LI),
    ("flc_ratio_exactly_0.26_is_not_a_factor", _ratio(10.4, 40), FLC_ABN, "absent", LOW),
    ("flc_ratio_0.261_is_not_a_factor", _ratio(10.44, 40), FLC_ABN, "absent", LOW),
    ("igg_is_not_a_factor", _iso("IgG"), NON_IGG, "absent", LOW),
    ("iga_is_a_factor", _iso("IgA"), NON_IGG, "present", LI),
    ("igd_is_a_factor", _iso("IgD"), NON_IGG, "present", LI),
    ("igm_mgus_is_a_factor", igm(), NON_IGG, "present", LI),
]


@pytest.mark.parametrize(
    ("body", "factor_id", "factor_status", "group"), [r[1:] for r in MAYO_ROWS], ids=[r[0] for r in MAYO_ROWS]
)
def test_mayo_mgus_factor_edges(body, factor_id, factor_status, group):
    result = run(body)
    assert factor(result, MAYO, factor_id)["status"] == factor_status
    assert risk(result, MAYO)["group"] == group


@pytest.mark.parametrize(
    ("body", "group", "progression", "competing"),
    [
        (mgus_igg(), LOW, 5, 2),
        (_iso("IgA"), LI, 21, 10),
        (mgus_igg(serum_ife=ife(clone("IgA", "kappa")), spep={"m_protein": q(15, "g/L")}), HI, 37, 18),
        (
            mgus_igg(
                serum_ife=ife(clone("IgA", "kappa")),
                spep={"m_protein": q(1.5, "g/dL")},
                flc={"kappa": q(33.2, "mg/L"), "lambda": q(20, "mg/L")},
            ),
            HIGH,
            58,
            27,
        ),
    ],
    ids=[
        "zero_factors_low",
        "one_factor_low_intermediate",
        "two_factors_high_intermediate",
        "three_factors_high",
    ],
)
def test_mayo_mgus_groups_carry_both_20_year_progression_figures(body, group, progression, competing):
    mayo = risk(run(body), MAYO)
    assert mayo["group"] == group
    assert mayo["progression_20y_percent"] == progression
    assert mayo["progression_20y_competing_death_percent"] == competing


def test_worked_example_leaves_the_mayo_group_open_between_low_and_low_intermediate():
    mayo = risk(run(s6_body()), MAYO)
    assert mayo["group"] is None
    assert mayo["possible_groups"] == ["low", "low_intermediate"]
    assert "spep.m_protein" in mayo["needed"]


def test_flc_not_measured_is_never_counted_as_an_absent_mayo_factor():
    mayo = risk(run(mgus_igg(flc=None)), MAYO)
    assert factor({"risk": {MAYO: mayo}}, MAYO, FLC_ABN)["status"] == "unknown"
    assert mayo["group"] is None
    assert set(mayo["possible_groups"]) == {LOW, LI}


# --- §3.3 Mayo 2018 "20/2/20": strict '>' ----------------------------------------------------------------
BM20, MP20, FR20 = "bmpc_gt_20_percent", "m_protein_gt_20_g_l", "flc_ratio_gt_20"
INT = "intermediate"


def _smm(**over):
    return smm_igg(**over)


SMM18_ROWS = [
    ("bmpc_19.9_is_not_a_factor", _smm(marrow={"clonal_plasma_cells_percent": 19.9}), BM20, "absent", LOW),
    (
        "bmpc_exactly_20_is_not_a_factor",
        _smm(marrow={"clonal_plasma_cells_percent": 20}),
        BM20,
        "absent",
        LOW,
    ),
    ("bmpc_20.1_is_a_factor", _smm(marrow={"clonal_plasma_cells_percent": 20.1}), BM20, "present", INT),
    ("m_protein_19.9_gl_is_not_a_factor", _smm(spep={"m_protein": q(19.9, "g/L")}), MP20, "absent", LOW),
    ("m_protein_exactly_20_gl_is_not_a_factor", _smm(spep={"m_protein": q(20, "g/L")}), MP20, "absent", LOW),
    ("m_protein_20.1_gl_is_a_factor", _smm(spep={"m_protein": q(20.1, "g/L")}), MP20, "present", INT),
    ("m_protein_1.99_gdl_is_not_a_factor", _smm(spep={"m_protein": q(1.99, "g/dL")}), MP20, "absent", LOW),
    (
        "m_protein_exactly_2_gdl_is_not_a_factor",
        _smm(spep={"m_protein": q(2.0, "g/dL")}),
        MP20,
        "absent",
        LOW,
    ),
    ("m_protein_2.01_gdl_is_a_factor", _smm(spep={"m_protein": q(2.01, "g/dL")}), MP20, "present", INT),
    (
        "flc_ratio_19.9_is_not_a_factor",
        _smm(flc={"kappa": q(199, "mg/L"), "lambda": q(10, "mg/L")}),
        FR20,
        "absent",
        LOW,
    ),
    (
        "flc_ratio_exactly_20_is_not_a_factor",
        _smm(flc={"kappa": q(200, "mg/L"), "lambda": q(10, "mg/L")}),
        FR20,
        "absent",
        LOW,
    ),
    (
        "flc_ratio_20.1_is_a_factor",
        _smm(flc={"kappa": q(201, "mg/L"), "lambda": q(10, "mg/L")}),
        FR20,
        "present",
        INT,
    ),
    (
        "flc_ratio_mgdl_exactly_20_is_not_a_factor",
        _smm(flc={"kappa": q(20, "mg/dL"), "lambda": q(1, "mg/dL")}),
        FR20,
        "absent",
        LOW,
    ),
    (
        "flc_ratio_mgdl_20.1_is_a_factor",
        _smm(flc={"kappa": q(20.1, "mg/dL"), "lambda": q(1, "mg/dL")}),
        FR20,
        "present",
        INT,
    ),
    (
        "lambda_clone_involved_uninvolved_20.1_is_a_factor",
        _smm(serum_ife=ife(clone("IgG", "lambda")), flc={"kappa": q(10, "mg/L"), "lambda": q(201, "mg/L")}),
        FR20,
        "present",
        INT,
    ),
]


@pytest.mark.parametrize(
    ("body", "factor_id", "factor_status", "group"),
    [r[1:] for r in SMM18_ROWS],
    ids=[r[0] for r in SMM18_ROWS],
)
def test_mayo_2018_smm_factor_edges_are_strictly_greater_than_20(body, factor_id, factor_status, group):
    result = run(body)
    assert result["classification"]["code"] == "SMOLDERING_MYELOMA"
    assert factor(result, SMM18, factor_id)["status"] == factor_status
    assert risk(result, SMM18)["group"] == group


@pytest.mark.parametrize(
    ("body", "group", "ttp", "two_year"),
    [
        (_smm(), LOW, 110, 6),
        (_smm(marrow={"clonal_plasma_cells_percent": 25}), INT, 68, 18),
        (_smm(marrow={"clonal_plasma_cells_percent": 25}, spep={"m_protein": q(2.5, "g/dL")}), HIGH, 29, 44),
        (
            _smm(
                marrow={"clonal_plasma_cells_percent": 25},
                spep={"m_protein": q(2.5, "g/dL")},
                flc={"kappa": q(250, "mg/L"), "lambda": q(10, "mg/L")},
            ),
            HIGH,
            29,
            44,
        ),
    ],
    ids=["zero_factors_low", "one_factor_intermediate", "two_factors_high", "three_factors_high"],
)
def test_mayo_2018_groups_and_outcomes(body, group, ttp, two_year):
    r = risk(run(body), SMM18)
    assert r["group"] == group
    assert r["median_ttp_months"] == ttp
    assert r["progression_2y_percent"] == two_year


# --- §3.4 IMWG 2020 score ------------------------------------------------------------------------------
def _flc(k, lam=10, unit="mg/L"):
    return _smm(flc={"kappa": q(k, unit), "lambda": q(lam, unit)})


def _m(v, unit):
    return _smm(spep={"m_protein": q(v, unit)})


def _bm(v):
    return _smm(marrow={"clonal_plasma_cells_percent": v})


SMM20_ROWS = [
    ("ratio_9.9_scores_0", _flc(99), "flc_ratio", 0),
    ("ratio_exactly_10_scores_0", _flc(100), "flc_ratio", 0),
    ("ratio_10.1_scores_2", _flc(101), "flc_ratio", 2),
    ("ratio_mgdl_exactly_10_scores_0", _flc(10, 1, "mg/dL"), "flc_ratio", 0),
    ("ratio_mgdl_10.1_scores_2", _flc(10.1, 1, "mg/dL"), "flc_ratio", 2),
    ("ratio_24.9_scores_2", _flc(249), "flc_ratio", 2),
    ("ratio_exactly_25_scores_2", _flc(250), "flc_ratio", 2),
    ("ratio_25.1_scores_3", _flc(251), "flc_ratio", 3),
    ("ratio_39.9_scores_3", _flc(399), "flc_ratio", 3),
    ("ratio_exactly_40_scores_3", _flc(400), "flc_ratio", 3),
    ("ratio_40.1_scores_5", _flc(401), "flc_ratio", 5),
    (
        "lambda_clone_ratio_40.1_scores_5",
        _smm(serum_ife=ife(clone("IgG", "lambda")), flc={"kappa": q(10, "mg/L"), "lambda": q(401, "mg/L")}),
        "flc_ratio",
        5,
    ),
    ("m_protein_1.49_gdl_scores_0", _m(1.49, "g/dL"), "m_protein", 0),
    ("m_protein_exactly_1.5_gdl_scores_0", _m(1.5, "g/dL"), "m_protein", 0),
    ("m_protein_1.51_gdl_scores_3", _m(1.51, "g/dL"), "m_protein", 3),
    ("m_protein_2.99_gdl_scores_3", _m(2.99, "g/dL"), "m_protein", 3),
    ("m_protein_exactly_3_gdl_scores_3", _m(3.0, "g/dL"), "m_protein", 3),
    ("m_protein_3.01_gdl_scores_4", _m(3.01, "g/dL"), "m_protein", 4),
    ("m_protein_exactly_15_gl_scores_0", _m(15, "g/L"), "m_protein", 0),
    ("m_protein_15.1_gl_scores_3", _m(15.1, "g/L"), "m_protein", 3),
    ("m_protein_exactly_30_gl_scores_3", _m(30, "g/L"), "m_protein", 3),
    ("m_protein_30.1_gl_scores_4", _m(30.1, "g/L"), "m_protein", 4),
    ("bmpc_14.9_scores_0", _bm(14.9), "bmpc", 0),
    ("bmpc_exactly_15_scores_0", _bm(15), "bmpc", 0),
    ("bmpc_15.1_scores_2", _bm(15.1), "bmpc", 2),
    ("bmpc_exactly_20_scores_2", _bm(20), "bmpc", 2),
    ("bmpc_20.1_scores_3", _bm(20.1), "bmpc", 3),
    ("bmpc_exactly_30_scores_3", _bm(30), "bmpc", 3),
    ("bmpc_30.1_scores_5", _bm(30.1), "bmpc", 5),
    ("bmpc_exactly_40_scores_5", _bm(40), "bmpc", 5),
    ("bmpc_40.1_scores_6", _bm(40.1), "bmpc", 6),
    ("fish_all_negative_scores_0", _smm(cytogenetics=FISH_NEGATIVE), "high_risk_fish", 0),
    ("fish_t_4_14_scores_2", _smm(cytogenetics=FISH_NEGATIVE | {"t_4_14": True}), "high_risk_fish", 2),
    ("fish_t_14_16_scores_2", _smm(cytogenetics=FISH_NEGATIVE | {"t_14_16": True}), "high_risk_fish", 2),
    ("fish_gain_1q_scores_2", _smm(cytogenetics=FISH_NEGATIVE | {"gain_1q": True}), "high_risk_fish", 2),
    ("fish_del_13q_scores_2", _smm(cytogenetics=FISH_NEGATIVE | {"del_13q": True}), "high_risk_fish", 2),
    (
        "fish_two_abnormalities_still_score_2",
        _smm(cytogenetics=FISH_NEGATIVE | {"del_13q": True, "gain_1q": True}),
        "high_risk_fish",
        2,
    ),
]


@pytest.mark.parametrize(
    ("body", "variable", "points"), [r[1:] for r in SMM20_ROWS], ids=[r[0] for r in SMM20_ROWS]
)
def test_imwg_2020_band_edges_score_as_published(body, variable, points):
    result = run(body)
    assert result["classification"]["code"] == "SMOLDERING_MYELOMA"
    r = risk(result, SMM20)
    assert factor(result, SMM20, variable)["points"] == points
    # Everything else in the base panel scores 0 and FISH is known: the total is the variable's points.
    assert r["score"] == points
    assert r["score_is_lower_bound"] is False


def _only_fish(**fish):
    """The SMM panel with only the given FISH results reported (the rest not tested)."""
    body = _smm(cytogenetics=None)
    body["cytogenetics"] = fish
    return body


GROUP_ROWS = [
    # ratio 15 (2) + t(4;14) (2) = 4
    (
        "score_4_is_low",
        _smm(
            flc={"kappa": q(150, "mg/L"), "lambda": q(10, "mg/L")},
            cytogenetics=FISH_NEGATIVE | {"t_4_14": True},
        ),
        4,
        LOW,
        3.8,
    ),
    # ratio 50 (5) = 5
    ("score_5_is_low_intermediate", _flc(500), 5, LI, 26),
    # ratio 50 (5) + M 2.0 g/dL (3) = 8
    (
        "score_8_is_low_intermediate",
        _smm(flc={"kappa": q(500, "mg/L"), "lambda": q(10, "mg/L")}, spep={"m_protein": q(2.0, "g/dL")}),
        8,
        LI,
        26,
    ),
    # ratio 50 (5) + M 3.5 g/dL (4) = 9
    (
        "score_9_is_intermediate",
        _smm(flc={"kappa": q(500, "mg/L"), "lambda": q(10, "mg/L")}, spep={"m_protein": q(3.5, "g/dL")}),
        9,
        "intermediate",
        51,
    ),
    # ratio 50 (5) + M 3.5 g/dL (4) + BMPC 25 (3) = 12
    (
        "score_12_is_intermediate",
        _smm(
            flc={"kappa": q(500, "mg/L"), "lambda": q(10, "mg/L")},
            spep={"m_protein": q(3.5, "g/dL")},
            marrow={"clonal_plasma_cells_percent": 25},
        ),
        12,
        "intermediate",
        51,
    ),
    # ratio 30 (3) + M 3.5 g/dL (4) + BMPC 41 (6) = 13
    (
        "score_13_is_high",
        _smm(
            flc={"kappa": q(300, "mg/L"), "lambda": q(10, "mg/L")},
            spep={"m_protein": q(3.5, "g/dL")},
            marrow={"clonal_plasma_cells_percent": 41},
        ),
        13,
        HIGH,
        73,
    ),
]


@pytest.mark.parametrize(
    ("body", "score", "group", "two_year"), [r[1:] for r in GROUP_ROWS], ids=[r[0] for r in GROUP_ROWS]
)
def test_imwg_2020_group_edges(body, score, group, two_year):
    r = risk(run(body), SMM20)
    assert r["score"] == score
    assert r["group"] == group
    assert r["progression_2y_percent"] == two_year


@pytest.mark.parametrize(
    ("body", "score", "group", "possible"),
    [
        (_smm(cytogenetics=None), 0, LOW, [LOW]),
        (_smm(cytogenetics=None, flc={"kappa": q(300, "mg/L"), "lambda": q(10, "mg/L")}), 3, None, [LOW, LI]),
        (
            _smm(
                cytogenetics=None,
                flc={"kappa": q(500, "mg/L"), "lambda": q(10, "mg/L")},
                spep={"m_protein": q(2.0, "g/dL")},
            ),
            8,
            None,
            [LI, "intermediate"],
        ),
        (
            _smm(
                cytogenetics=None,
                flc={"kappa": q(500, "mg/L"), "lambda": q(10, "mg/L")},
                spep={"m_protein": q(3.5, "g/dL")},
            ),
            9,
            "intermediate",
            ["intermediate"],
        ),
        (_only_fish(t_4_14=False), 0, LOW, [LOW]),
    ],
    ids=[
        "no_fish_score_0_still_low",
        "no_fish_score_3_open_low_or_low_intermediate",
        "no_fish_score_8_open_low_intermediate_or_intermediate",
        "no_fish_score_9_still_intermediate",
        "partial_fish_negative_is_still_a_lower_bound",
    ],
)
def test_imwg_2020_without_fish_reports_the_score_as_a_lower_bound(body, score, group, possible):
    r = risk(run(body), SMM20)
    assert r["score"] == score
    assert r["score_is_lower_bound"] is True
    assert r["group"] == group
    assert r["possible_groups"] == possible


def test_imwg_2020_one_positive_fish_result_settles_the_fish_term():
    r = risk(run(_only_fish(t_4_14=True)), SMM20)
    assert r["score"] == 2
    assert r["score_is_lower_bound"] is False


def test_smm_models_do_not_apply_to_mgus_and_mayo_mgus_does_not_apply_to_smm():
    mgus = run(mgus_igg())
    smm = run(smm_igg())
    assert risk(mgus, SMM18)["group"] is None and risk(mgus, SMM20)["group"] is None
    assert risk(mgus, SMM18)["reason"] and risk(mgus, SMM20)["reason"]
    assert risk(smm, MAYO)["group"] is None and risk(smm, MAYO)["reason"]


# --- Through HTTP -----------------------------------------------------------------------------------------
def _post(client, body):
    resp = client.post("/v1/interpretations", json=body)
    assert resp.status_code in (200, 201), resp.get_json()
    return resp.get_json()


def test_http_mayo_mgus_three_factors_is_high(client):
    body = mgus_igg(
        serum_ife=ife(clone("IgA", "kappa")),
        spep={"m_protein": q(1.5, "g/dL")},
        flc={"kappa": q(33.2, "mg/L"), "lambda": q(20, "mg/L")},
    )
    r = _post(client, body)["risk"][MAYO]
    assert r["group"] == HIGH
    assert r["progression_20y_percent"] == 58


def test_http_worked_example_mayo_needs_the_m_protein(client):
    r = _post(client, s6_body())["risk"][MAYO]
    assert r["group"] is None
    assert r["possible_groups"] == ["low", "low_intermediate"]
    assert "spep.m_protein" in r["needed"]


def test_http_mayo_2018_two_factors_at_edges_is_high(client):
    body = _smm(marrow={"clonal_plasma_cells_percent": 20.1}, spep={"m_protein": q(2.01, "g/dL")})
    r = _post(client, body)["risk"][SMM18]
    assert r["group"] == HIGH


def test_http_mayo_2018_factors_exactly_at_20_are_low(client):
    body = _smm(
        marrow={"clonal_plasma_cells_percent": 20},
        spep={"m_protein": q(2.0, "g/dL")},
        flc={"kappa": q(200, "mg/L"), "lambda": q(10, "mg/L")},
    )
    r = _post(client, body)["risk"][SMM18]
    assert r["group"] == LOW


def test_http_imwg_2020_exactly_3_gdl_scores_3(client):
    r = _post(client, _m(3.0, "g/dL"))["risk"][SMM20]
    assert r["score"] == 3
    assert r["group"] == LOW


def test_http_imwg_2020_without_fish_is_a_lower_bound(client):
    body = _smm(cytogenetics=None, flc={"kappa": q(300, "mg/L"), "lambda": q(10, "mg/L")})
    r = _post(client, body)["risk"][SMM20]
    assert r["score"] == 3
    assert r["score_is_lower_bound"] is True
    assert r["group"] is None
    assert r["possible_groups"] == ["low", "low_intermediate"]


def test_mayo_flc_factor_uses_the_published_0_26_to_1_65_cut_offs_even_with_renal_impairment():
    # §3.1 defines the factor as ratio < 0.26 or > 1.65; ratio 2.0 is a factor although the §4 renal
    # interval (0.37-3.10) calls it normal for the diagnostic ratio.
    result = run(
        mgus_igg(
            flc={"kappa": q(30, "mg/L"), "lambda": q(15, "mg/L")},
            labs={"egfr": q(50, "mL/min/1.73m2"), "creatinine_clearance": None},
        )
    )
    assert result["flc"]["abnormal"] is False
    assert factor(result, MAYO, FLC_ABN)["status"] == "present"


# --- §3.2 follow-up -------------------------------------------------------------------------------------
def _follow_up(result):
    items = [r for r in result["recommendations"] if r["code"] == "FOLLOW_UP"]
    assert items, result["recommendations"]
    return items[0]


def test_low_risk_mgus_is_re_tested_at_6_months_without_marrow():
    result = run(mgus_igg(marrow=None))
    assert _follow_up(result)["interval_months"] == 6
    assert "MARROW_EXAMINATION_RECOMMENDED" not in {f["code"] for f in result["flags"]}


def test_intermediate_risk_mgus_gets_a_baseline_marrow_and_review_at_6_months():
    result = run(mgus_igg(marrow=None, serum_ife=ife(clone("IgA", "kappa"))))
    assert _follow_up(result)["interval_months"] == 6
    assert "MARROW_EXAMINATION_RECOMMENDED" in {f["code"] for f in result["flags"]}


def test_smm_is_re_tested_2_to_3_months_after_recognition():
    assert _follow_up(run(smm_igg()))["interval_months"] == {"min": 2, "max": 3}


def test_a_free_light_chain_of_zero_asks_for_its_detection_limit_not_for_both_chains_again():
    # A chain of 0 mg/L gives no involved/uninvolved ratio: the FLC factors stay open, and what is needed
    # is that chain as the assay's detection limit, not the two chains already sent.
    from .helpers import clone, ife, q, run, smm_igg

    out = run(
        smm_igg(flc={"kappa": q(0, "mg/L"), "lambda": q(10, "mg/L")}, serum_ife=ife(clone("IgG", "lambda")))
    )
    assert [m for m in out["missing_data"] if m.startswith("flc.")] == ["flc.kappa"]
    assert any("reported as 0 mg/L" in n and "detection limit" in n for n in out["notes"])


@pytest.mark.parametrize("assay", ["sebia", "n_latex"])
def test_smm_risk_models_say_when_their_flc_ratio_is_not_freelite(assay):
    # §3.3, §3.4: the FLC cut-offs (> 20; 10/25/40) were derived on Freelite; a ratio from another assay
    # is scored as given, and the answer says so instead of reading as Freelite.
    from .helpers import q, run, smm_igg

    out = run(smm_igg(flc={"kappa": q(300, "mg/L"), "lambda": q(10, "mg/L"), "assay": assay}))
    for model in ("smm_mayo_2018", "smm_imwg_2020"):
        assert "derived on Freelite" in (out["risk"][model]["reason"] or "")
    freelite = run(smm_igg(flc={"kappa": q(300, "mg/L"), "lambda": q(10, "mg/L")}))
    assert "derived on Freelite" not in (freelite["risk"]["smm_mayo_2018"]["reason"] or "")
