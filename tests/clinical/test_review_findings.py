"""Regressions for the adversarial clinical review: each finding, as the reviewer reproduced it."""

from __future__ import annotations

import copy

import pytest

LABS = {
    "calcium": {"value": 2.3, "unit": "mmol/L", "reference_range": {"low": 2.15, "high": 2.55}},
    "creatinine": {"value": 80, "unit": "umol/L"},
    "egfr": {"value": 90, "unit": "mL/min/1.73m2"},
    "hemoglobin": {"value": 140, "unit": "g/L", "reference_range": {"low": 120, "high": 160}},
}
B = {
    "spep": {"m_protein": {"value": 10, "unit": "g/L"}},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
    "flc": {"kappa": {"value": 15, "unit": "mg/L"}, "lambda": {"value": 12, "unit": "mg/L"}},
    "marrow": {"clonal_plasma_cells_percent": 5},
    "urine": {"m_protein_24h": {"value": 0, "unit": "mg/24h"}, "ife": {"result": "negative", "clones": []}},
    "labs": LABS,
    "imaging": {"osteolytic_lesions": 0, "mri_focal_lesions": 0},
    "clinical": {"plasmacytoma": False, "amyloidosis": False},
}
Z = {"spep": {"m_protein": {"value": 0, "unit": "g/L"}}, "serum_ife": {"result": "negative", "clones": []}}


IGM_KAPPA = {"result": "positive", "clones": [{"heavy_chain": "IgM", "light_chain": "kappa"}]}
IGM_LAMBDA = {"result": "positive", "clones": [{"heavy_chain": "IgM", "light_chain": "lambda"}]}
BICLONAL = {
    "result": "positive",
    "clones": [
        {"heavy_chain": "IgG", "light_chain": "kappa"},
        {"heavy_chain": "IgM", "light_chain": "lambda"},
    ],
}


def post(client, body):
    resp = client.post("/v1/interpretations", json=body)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def b(**changes):
    body = copy.deepcopy(B)
    body.update(changes)
    return body


def flags(body):
    return {f["code"] for f in body["flags"]}


def test_a_30_percent_plasmacytosis_by_morphology_without_m_protein_is_not_no_m_protein(client):
    out = post(client, {**Z, "marrow": {"plasma_cells_percent": 30}, "labs": LABS})
    assert out["classification"]["code"] == "INDETERMINATE"
    assert "marrow.clonal_plasma_cells_percent" in out["missing_data"]


def test_clonal_plasma_cells_without_m_protein_follow_the_myeloma_rules(client):
    out = post(
        client,
        {
            **Z,
            "marrow": {"clonal_plasma_cells_percent": 30},
            "labs": LABS,
            "imaging": {"osteolytic_lesions": 0, "mri_focal_lesions": 0},
        },
    )
    assert out["classification"]["code"] == "SMOLDERING_MYELOMA"


def biclonal_with_infiltrate(clonal_percent: float) -> dict:
    """IgM + IgG biclonal, lymphoplasmacytic infiltrate 20 %, no IgM symptoms, no amyloidosis."""
    return b(
        serum_ife=BICLONAL,
        marrow={"clonal_plasma_cells_percent": clonal_percent, "lymphoplasmacytic_infiltrate_percent": 20},
        clinical={"igm_related_symptoms": False, "amyloidosis": False},
    )


def test_the_igm_clone_of_a_biclonal_gammopathy_is_judged_by_the_igm_criteria(client):
    out = post(client, biclonal_with_infiltrate(5))
    assert out["classification"]["code"] == "WALDENSTROM_RANGE"
    assert any(
        c["id"] == "lymphoplasmacytic_infiltrate_ge_10" and c["status"] == "met" for c in out["criteria"]
    )


@pytest.mark.parametrize(("total", "expected"), [(29.9, "not_met"), (35, "not_assessable")])
def test_a_biclonal_igm_and_igg_spike_cannot_be_attributed_to_one_clone(client, total, expected):
    out = post(client, b(serum_ife=BICLONAL, spep={"m_protein": {"value": total, "unit": "g/L"}}))
    status = {c["id"]: c["status"] for c in out["criteria"]}
    assert status["serum_m_protein_ge_30"] == expected
    assert out["classification"]["code"] != "SMOLDERING_MYELOMA"


def test_urine_bence_jones_lambda_names_the_isotype_not_a_normal_flc_ratio(client):
    body = {
        **Z,
        "flc": {"kappa": {"value": 15, "unit": "mg/L"}, "lambda": {"value": 12, "unit": "mg/L"}},
        "urine": {
            "m_protein_24h": {"value": 600, "unit": "mg/24h"},
            "ife": {"result": "positive", "clones": [{"heavy_chain": None, "light_chain": "lambda"}]},
        },
        "labs": LABS,
        "marrow": {"clonal_plasma_cells_percent": 5},
        "imaging": {"osteolytic_lesions": 0, "mri_focal_lesions": 0},
    }
    out = post(client, body)
    assert out["classification"]["code"] == "SMOLDERING_MYELOMA_LIGHT_CHAIN"
    assert "lambda" in out["classification"]["isotype"] and "kappa" not in out["classification"]["isotype"]


def test_a_normal_flc_ratio_names_no_involved_chain(client):
    out = post(client, B)
    assert out["flc"]["abnormal"] is False and out["flc"]["involved"] == "kappa"  # the clone's chain
    out = post(client, {**Z, "flc": B["flc"], "labs": LABS})
    assert out["flc"]["involved"] is None


def test_igm_with_amyloidosis_is_not_igm_mgus_and_is_referred(client):
    out = post(
        client,
        b(
            serum_ife=IGM_LAMBDA,
            marrow={"lymphoplasmacytic_infiltrate_percent": 5},
            clinical={"amyloidosis": True, "igm_related_symptoms": False},
        ),
    )
    assert out["classification"]["code"] == "INDETERMINATE"
    assert "HEMATOLOGY_REFERRAL" in flags(out)


def test_igm_path_does_not_ask_for_a_haemoglobin_that_was_sent(client):
    labs = dict(LABS, hemoglobin={"value": 135, "unit": "g/L"})
    out = post(
        client,
        b(
            serum_ife=IGM_KAPPA,
            marrow={"lymphoplasmacytic_infiltrate_percent": 5},
            labs=labs,
            clinical={"igm_related_symptoms": False, "amyloidosis": False},
        ),
    )
    assert out["classification"]["code"] == "MGUS_IGM"
    assert "labs.hemoglobin" not in out["missing_data"]


def test_the_mgus_reason_does_not_claim_what_was_not_assessed(client):
    out = post(client, {"serum_ife": B["serum_ife"]})
    reason = out["classification"]["reasons"][0]
    assert "not quantified" in reason and "no CRAB feature" not in reason


def test_a_slim_only_event_is_not_described_as_crab(client):
    flc = {"kappa": {"value": 300, "unit": "mg/L"}, "lambda": {"value": 2, "unit": "mg/L"}}
    out = post(client, b(flc=flc))
    assert out["classification"]["code"] == "INDETERMINATE"
    assert "MGUS excludes CRAB" not in out["classification"]["label"]


def test_the_flc_slim_rule_is_judged_on_the_chain_in_excess(client):
    flc = {"kappa": {"value": 1, "unit": "mg/L"}, "lambda": {"value": 100, "unit": "mg/L"}}
    out = post(client, b(flc=flc))
    status = {c["id"]: c["status"] for c in out["criteria"]}
    assert status["mde.flc_ratio_ge_100"] == "met"


def test_zero_light_chains_settle_the_flc_slim_rule_as_not_met(client):
    flc = {"kappa": {"value": 0, "unit": "mg/L"}, "lambda": {"value": 0, "unit": "mg/L"}}
    out = post(client, b(flc=flc))
    status = {c["id"]: c["status"] for c in out["criteria"]}
    assert status["mde.flc_ratio_ge_100"] == "not_met"


def test_a_bound_in_history_decides_the_evolving_rule_when_it_settles_it(client):
    body = b(
        collected_on="2025-02-28",
        spep={"m_protein": {"value": 25, "unit": "g/L"}},
        history=[
            {
                "collected_on": "2024-08-31",
                "spep": {"m_protein": {"value": 10, "unit": "g/L", "comparator": "<"}},
            }
        ],
    )
    assert "EVOLVING_M_PROTEIN" in flags(post(client, body))


def test_an_undecided_bound_in_history_does_not_fire_the_evolving_rule(client):
    body = b(
        collected_on="2025-02-28",
        spep={"m_protein": {"value": 11, "unit": "g/L"}},
        history=[
            {
                "collected_on": "2024-08-31",
                "spep": {"m_protein": {"value": 10, "unit": "g/L", "comparator": "<"}},
            }
        ],
    )
    assert "EVOLVING_M_PROTEIN" not in flags(post(client, body))


def test_waldenstrom_range_without_marrow_is_provisional_and_asks_for_it(client):
    body = b(
        serum_ife=IGM_KAPPA,
        spep={"m_protein": {"value": 30, "unit": "g/L"}},
        clinical={"igm_related_symptoms": False},
    )
    body.pop("marrow")
    out = post(client, body)
    assert out["classification"]["code"] == "WALDENSTROM_RANGE"
    assert out["classification"]["provisional"] is True
    assert "marrow.lymphoplasmacytic_infiltrate_percent" in out["missing_data"]


def test_crab_features_beside_an_igm_clone_raise_the_urgent_contract_flag_without_changing_the_category(
    client,
):
    labs = dict(LABS, calcium={"value": 3.2, "unit": "mmol/L"})
    out = post(
        client,
        b(
            serum_ife=IGM_KAPPA,
            marrow={"lymphoplasmacytic_infiltrate_percent": 5},
            labs=labs,
            imaging={"osteolytic_lesions": 3, "mri_focal_lesions": 0},
            clinical={"igm_related_symptoms": False, "amyloidosis": False},
        ),
    )
    assert out["classification"]["code"] == "MGUS_IGM"
    mde_flag = next(f for f in out["flags"] if f["code"] == "MYELOMA_DEFINING_EVENT")
    assert mde_flag["severity"] == "urgent"
    assert "IgM" in mde_flag["message"]
    assert {e["event"] for e in mde_flag["evidence"]} == {"hypercalcemia", "bone_lesions"}
    # The list and the flag agree (the category still does not rest on them, §2.5).
    assert out["myeloma_defining_events"] == ["hypercalcemia", "bone_lesions"]
    assert out["flags"][0]["code"] == "MYELOMA_DEFINING_EVENT"  # urgent first


@pytest.mark.parametrize(
    ("labs", "imaging", "flagged"),
    [
        ({"hemoglobin": {"value": 99.9, "unit": "g/L"}}, None, True),
        ({"hemoglobin": {"value": 100, "unit": "g/L"}}, None, False),
        (None, {"osteolytic_lesions": 1}, True),
        (None, {"osteolytic_lesions": 0}, False),
        (None, {"mri_focal_lesions": 2}, True),
        (None, {"mri_focal_lesions": 1}, False),
    ],
)
def test_any_crab_or_slim_finding_beside_an_igm_clone_raises_myeloma_defining_event(
    client, labs, imaging, flagged
):
    body = {
        "serum_ife": IGM_KAPPA,
        "spep": {"m_protein": {"value": 10, "unit": "g/L"}},
        "marrow": {"lymphoplasmacytic_infiltrate_percent": 5},
    }
    if labs:
        body["labs"] = labs
    if imaging:
        body["imaging"] = imaging
    out = post(client, body)
    assert ("MYELOMA_DEFINING_EVENT" in flags(out)) is flagged
    assert bool(out["myeloma_defining_events"]) is flagged  # the list and the flag agree


def test_a_suspected_scleromyxoedema_label_says_suspected(client):
    out = post(client, b(clinical={"scleromyxedema": "suspected"}))
    assert "MGCS_SCLEROMYXEDEMA" in flags(out)
    assert "suspected" in out["classification"]["label"]


def test_an_evolving_pattern_asks_for_review_beyond_the_risk_based_interval(client):
    body = b(
        collected_on="2025-06-01",
        spep={"m_protein": {"value": 14, "unit": "g/L"}},
        history=[{"collected_on": "2025-01-01", "spep": {"m_protein": {"value": 8, "unit": "g/L"}}}],
    )
    codes = {r["code"] for r in post(client, body)["recommendations"]}
    assert "EVOLVING_PATTERN_REVIEW" in codes


# --- second review ------------------------------------------------------------------------------------
def test_an_igm_clone_with_75_percent_clonal_plasma_cells_is_not_igm_mgus(client):
    out = post(
        client,
        {
            "serum_ife": IGM_KAPPA,
            "spep": {"m_protein": {"value": 10, "unit": "g/L"}},
            "marrow": {"clonal_plasma_cells_percent": 75, "lymphoplasmacytic_infiltrate_percent": 0},
            "labs": LABS,
            "clinical": {"igm_related_symptoms": False},
        },
    )
    assert out["classification"]["code"] == "INDETERMINATE"
    assert {"MYELOMA_DEFINING_EVENT", "HEMATOLOGY_REFERRAL"} <= flags(out)


def test_an_mde_with_morphology_plasmacytosis_and_no_m_protein_is_not_myeloma(client):
    out = post(
        client,
        {
            **Z,
            "flc": B["flc"],
            "marrow": {"plasma_cells_percent": 30},
            "labs": dict(LABS, hemoglobin={"value": 80, "unit": "g/L"}),
        },
    )
    assert out["classification"]["code"] == "INDETERMINATE"


def test_a_urine_intact_immunoglobulin_with_negative_serum_ife_is_discordant(client):
    urine = {
        "m_protein_24h": {"value": 100, "unit": "mg/24h"},
        "ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
    }
    flc = {"kappa": {"value": 40, "unit": "mg/L"}, "lambda": {"value": 10, "unit": "mg/L"}}
    out = post(client, {**Z, "urine": urine, "flc": flc, "labs": LABS})
    assert out["classification"]["code"] == "INDETERMINATE"


def test_scleromyxoedema_with_light_chain_mgus_is_mgcs(client):
    flc = {
        "kappa": {"value": 80, "unit": "mg/L"},
        "lambda": {"value": 10, "unit": "mg/L"},
        "assay": "other",
        "ratio_reference_range": {"low": 0.3, "high": 1.5},
    }
    out = post(
        client, {"serum_ife": {"result": "negative"}, "flc": flc, "clinical": {"scleromyxedema": "confirmed"}}
    )
    assert out["classification"]["code"] == "MGUS_LIGHT_CHAIN"
    assert "MGCS_SCLEROMYXEDEMA" in flags(out) and "SCLEROMYXEDEMA_NO_PARAPROTEIN" not in flags(out)
    assert "clinical significance" in out["classification"]["label"]


def test_igm_with_anaemia_below_the_waldenstrom_thresholds_is_referred_with_a_marrow(client):
    out = post(
        client,
        {
            "serum_ife": IGM_KAPPA,
            "spep": {"m_protein": {"value": 10, "unit": "g/L"}},
            "labs": {"hemoglobin": {"value": 90, "unit": "g/L"}},
        },
    )
    assert out["classification"]["code"] == "INDETERMINATE"
    assert {"HEMATOLOGY_REFERRAL", "MARROW_EXAMINATION_RECOMMENDED"} <= flags(out)


def test_a_biclonal_spike_of_40_g_l_that_cannot_be_attributed_is_indeterminate(client):
    body = b(serum_ife=BICLONAL, spep={"m_protein": {"value": 40, "unit": "g/L"}})
    body.pop("marrow")
    out = post(client, body)
    assert out["classification"]["code"] == "INDETERMINATE"
    assert "attributed" in out["classification"]["label"]


def test_smm_beside_a_waldenstrom_range_igm_component_is_indeterminate(client):
    out = post(client, biclonal_with_infiltrate(15))
    assert out["classification"]["code"] == "INDETERMINATE"


def test_an_igm_clone_with_a_free_light_chain_clone_in_the_lc_smm_range_is_not_igm_mgus(client):
    ife = {
        "result": "positive",
        "clones": [
            {"heavy_chain": "IgM", "light_chain": "kappa"},
            {"heavy_chain": None, "light_chain": "lambda"},
        ],
    }
    out = post(
        client,
        b(
            serum_ife=ife,
            marrow={"lymphoplasmacytic_infiltrate_percent": 5},
            urine={"m_protein_24h": {"value": 900, "unit": "mg/24h"}},
            clinical={"igm_related_symptoms": False, "amyloidosis": False},
        ),
    )
    assert out["classification"]["code"] == "INDETERMINATE"


def test_the_chain_in_marked_excess_opposite_the_clone_is_the_involved_one_for_risk(client):
    body = b(
        serum_ife={"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "lambda"}]},
        spep={"m_protein": {"value": 35, "unit": "g/L"}},
        flc={"kappa": {"value": 300, "unit": "mg/L"}, "lambda": {"value": 10, "unit": "mg/L"}},
        marrow={"clonal_plasma_cells_percent": 12},
    )
    out = post(client, body)
    assert out["classification"]["code"] == "SMOLDERING_MYELOMA"
    assert out["flc"]["involved"] == "kappa" and out["flc"]["involved_uninvolved_ratio"] == 30
    assert out["risk"]["smm_mayo_2018"]["group"] == "high"


@pytest.mark.parametrize("body", [{"spep": {}}, {"urine": {}}, {"flc": {}}, {"spep": {"m_protein": None}}])
def test_an_empty_screening_section_is_not_a_result(client, body):
    resp = client.post("/v1/interpretations", json=body)
    assert resp.status_code == 422 and "_schema" in resp.get_json()["errors"]


def test_the_comment_never_prints_an_infinite_ratio(client):
    flc = {"kappa": {"value": 10, "unit": "mg/L"}, "lambda": {"value": 0, "unit": "mg/L"}}
    out = post(client, b(flc=flc))
    assert "inf" not in out["comment"].replace("infiltrat", "")


# --- third review ---------------------------------------------------------------------------------------
def test_low_risk_mgus_does_not_ask_for_marrow_or_skeletal_imaging(client):
    body = {
        "spep": {"m_protein": {"value": 8, "unit": "g/L"}},
        "serum_ife": B["serum_ife"],
        "flc": {"kappa": {"value": 14, "unit": "mg/L"}, "lambda": {"value": 11, "unit": "mg/L"}},
    }
    out = post(client, body)
    assert out["classification"]["provisional"] is True
    assert "marrow.clonal_plasma_cells_percent" in out["missing_data"]
    for rec in out["recommendations"]:
        assert not any(t.startswith(("marrow.", "imaging.")) for t in rec.get("tests", []))
    assert "not routinely indicated for low-risk MGUS" in out["comment"]


def test_a_non_freelite_caveat_reaches_the_comment(client):
    flc = {
        "kappa": {"value": 1500, "unit": "mg/L"},
        "lambda": {"value": 10, "unit": "mg/L"},
        "assay": "n_latex",
    }
    out = post(client, b(flc=flc, marrow={"clonal_plasma_cells_percent": 15}))
    # ref: §2.1 Li — not assessable with another assay, escalated rather than deciding myeloma.
    assert out["classification"]["code"] == "SMOLDERING_MYELOMA"
    assert out["classification"]["provisional"] is True
    assert "FLC_SLIM_RANGE_NON_FREELITE" in flags(out)
    assert "Freelite only" in out["comment"]


def test_the_basis_names_events_in_words_not_codes(client):
    out = post(
        client,
        b(
            labs=dict(LABS, calcium={"value": 3.0, "unit": "mmol/L"}),
            marrow={"clonal_plasma_cells_percent": 15},
        ),
    )
    assert out["classification"]["code"] == "MULTIPLE_MYELOMA"
    assert "hypercalcaemia" in out["classification"]["reasons"][0]
    assert "calcium 3 mmol/L" in out["comment"]


@pytest.mark.parametrize(
    ("mri", "code"), [(0, "SOLITARY_PLASMACYTOMA"), (1, "INDETERMINATE"), (2, "MULTIPLE_MYELOMA")]
)
def test_a_plasmacytoma_is_solitary_only_with_imaging_normal_apart_from_it(client, mri, code):
    body = b(
        clinical={"plasmacytoma": True, "amyloidosis": False},
        marrow={"clonal_plasma_cells_percent": 0},
        imaging={"osteolytic_lesions": 0, "mri_focal_lesions": mri},
    )
    assert post(client, body)["classification"]["code"] == code


# --- third review -------------------------------------------------------------------------------------
LC_KAPPA = {
    "serum_ife": {"result": "negative", "clones": []},
    "flc": {"kappa": {"value": 58, "unit": "mg/L"}, "lambda": {"value": 11, "unit": "mg/L"}},
    "urine": {"m_protein_24h": {"value": 40, "unit": "mg/24h"}},
    "labs": LABS,
    "imaging": {"osteolytic_lesions": 0, "mri_focal_lesions": 0},
}


@pytest.mark.parametrize(
    ("marrow", "asks_marrow"), [({"clonal_plasma_cells_percent": 4}, False), (None, True)]
)
def test_light_chain_mgus_follows_the_intermediate_high_risk_mgus_schedule(client, marrow, asks_marrow):
    """§3.2: low-risk MGUS needs a normal FLC ratio, which light-chain MGUS never has."""
    body = copy.deepcopy(LC_KAPPA)
    if marrow:
        body["marrow"] = marrow
    out = post(client, body)
    assert out["classification"]["code"] == "MGUS_LIGHT_CHAIN"
    follow = [r for r in out["recommendations"] if r["code"] == "FOLLOW_UP"]
    assert len(follow) == 1
    assert follow[0]["interval_months"] == 6 and follow[0]["then"] == "yearly for life"
    assert "flc" in follow[0]["tests"]
    assert ("bone-marrow aspirate and biopsy at baseline" in follow[0]["text"]) is asks_marrow
    assert ("MARROW_EXAMINATION_RECOMMENDED" in flags(out)) is asks_marrow


NEG = {"result": "negative", "clones": []}


@pytest.mark.parametrize(
    ("flc", "missing"),
    [
        (
            {
                "kappa": {"value": 30, "unit": "mg/L"},
                "lambda": {"value": 10, "unit": "mg/L"},
                "assay": "other",
            },
            ["flc.ratio_reference_range"],
        ),
        ({"kappa": {"value": 30, "unit": "mg/L"}}, ["flc.lambda"]),
        ({"lambda": {"value": 30, "unit": "mg/L"}}, ["flc.kappa"]),
        (
            {
                "kappa": {"value": 30, "unit": "mg/L", "comparator": ">"},
                "lambda": {"value": 20, "unit": "mg/L"},
            },
            ["flc.kappa"],
        ),
    ],
    ids=["assay_other_without_interval", "kappa_only", "lambda_only", "kappa_bound_straddles_the_interval"],
)
def test_an_open_flc_ratio_asks_for_what_would_settle_it_not_for_what_was_sent(client, flc, missing):
    out = post(client, {"serum_ife": NEG, "flc": flc})
    assert out["classification"]["code"] == "NO_MONOCLONAL_PROTEIN"
    assert out["classification"]["provisional"] is True
    assert out["flc"]["abnormal"] is None
    assert out["missing_data"] == missing


def test_an_involved_chain_reported_as_a_bound_at_its_limit_asks_for_the_exact_value(client):
    kappa = {"value": 19.4, "unit": "mg/L", "comparator": ">="}
    out = post(client, {"serum_ife": NEG, "flc": {"kappa": kappa, "lambda": {"value": 10, "unit": "mg/L"}}})
    assert out["classification"]["code"] == "MGUS_LIGHT_CHAIN"
    assert "flc.kappa" in out["missing_data"]
    assert "flc.kappa.reference_range" not in out["missing_data"]


def igd_body(m_protein: float, heavy: str = "IgD", **changes) -> dict:
    body = b(
        spep={"m_protein": {"value": m_protein, "unit": "g/L"}},
        serum_ife={"result": "positive", "clones": [{"heavy_chain": heavy, "light_chain": "lambda"}]},
        flc={"kappa": {"value": 10, "unit": "mg/L"}, "lambda": {"value": 20, "unit": "mg/L"}},
    )
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("heavy", "m_protein", "expected"),
    [
        ("IgD", 29.99, "MGUS_NON_IGM"),
        ("IgD", 30, "INDETERMINATE"),
        ("IgE", 30.01, "INDETERMINATE"),
        ("IgA", 30, "SMOLDERING_MYELOMA"),
        ("IgG", 29.99, "MGUS_NON_IGM"),
    ],
)
def test_the_smouldering_m_protein_criterion_is_for_igg_or_iga_only(client, heavy, m_protein, expected):
    """IMWG 2014 (§2.3): serum M-protein (IgG or IgA) >= 30 g/L; non-IgM MGUS needs < 30 g/L (§2.4)."""
    out = post(client, igd_body(m_protein, heavy))
    assert out["classification"]["code"] == expected
    if expected == "INDETERMINATE":
        assert "HEMATOLOGY_REFERRAL" in flags(out)
        assert "REFER_HEMATOLOGY" in {r["code"] for r in out["recommendations"]}


def test_an_igd_clone_with_marrow_in_the_smouldering_range_is_smouldering_myeloma(client):
    out = post(client, igd_body(35, marrow={"clonal_plasma_cells_percent": 15}))
    assert out["classification"]["code"] == "SMOLDERING_MYELOMA"


def test_an_igd_clone_of_35_g_l_without_marrow_asks_for_the_marrow(client):
    body = igd_body(35)
    body.pop("marrow")
    out = post(client, body)
    assert out["classification"]["code"] == "INDETERMINATE"
    assert "marrow.clonal_plasma_cells_percent" in out["missing_data"]


# --- realistic-case review ----------------------------------------------------------------------------
IGG_LAMBDA = {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "lambda"}]}


@pytest.mark.parametrize("dermato_neuro", [False, True])
def test_an_mgcs_report_carries_no_low_risk_mgus_reassurance(client, dermato_neuro):
    """§5: the skin disease, not the size of the clone, drives management."""
    clinical = {"scleromyxedema": "confirmed", "fever": dermato_neuro, "neurologic_signs": dermato_neuro}
    body = b(serum_ife=IGG_LAMBDA, spep={"m_protein": {"value": 9, "unit": "g/L"}}, clinical=clinical)
    body.pop("marrow")
    out = post(client, body)
    assert "MGCS_SCLEROMYXEDEMA" in flags(out)
    follow = [r for r in out["recommendations"] if r["code"] == "FOLLOW_UP"]
    assert len(follow) == 1 and follow[0]["interval_months"] == 6
    assert "2-3 years" not in follow[0]["then"] and "haematology and dermatology" in follow[0]["then"]
    comment = out["comment"]
    for reassurance in ("Low-risk MGUS", "not routinely indicated", "every 2-3 years"):
        assert reassurance not in comment
    assert "marrow.clonal_plasma_cells_percent" in next(
        r["tests"] for r in out["recommendations"] if r["code"] == "COMPLETE_WORKUP"
    )
    assert comment.count("Emergency admission") + comment.count("emergency admission") == int(dermato_neuro)


def test_an_egfr_standing_in_for_the_clearance_is_named_as_an_egfr(client):
    labs = {"creatinine": {"value": 140, "unit": "umol/L"}, "egfr": {"value": 35, "unit": "mL/min/1.73m2"}}
    out = post(client, b(marrow={"clonal_plasma_cells_percent": 12}, labs=labs))
    assert out["classification"]["code"] == "MULTIPLE_MYELOMA"
    assert "eGFR, as the estimated creatinine clearance 35" in out["comment"]
    decisive = out["comment"].split("Decisive findings: ", 1)[1].split(". ", 1)[0]
    assert decisive.startswith("eGFR, as the estimated creatinine clearance")


def test_the_comment_asks_for_the_marrow_once_in_its_own_words(client):
    body = b(labs=dict(LABS, hemoglobin={"value": 89, "unit": "g/L"}))
    body.pop("marrow")
    out = post(client, body)
    assert out["classification"]["code"] == "INDETERMINATE"
    assert "MARROW_EXAMINATION" in {r["code"] for r in out["recommendations"]}
    assert "Bone-marrow aspirate and biopsy (clinical-reference" not in out["comment"]
    assert "bone-marrow aspirate and biopsy are needed urgently" in out["comment"]


@pytest.mark.parametrize(("hb", "flagged"), [(99.9, True), (100, False), (100.1, False)])
def test_a_negative_screen_reports_crab_range_haemoglobin_only_below_100_g_l(client, hb, flagged):
    """§2.1 A (< 100 g/L), with no monoclonal protein: reported, never myeloma-defining."""
    out = post(client, {**Z, "flc": B["flc"], "labs": {"hemoglobin": {"value": hb, "unit": "g/L"}}})
    assert out["classification"]["code"] == "NO_MONOCLONAL_PROTEIN"
    assert ("CRAB_WITHOUT_MONOCLONAL_PROTEIN" in flags(out)) is flagged
    assert "MYELOMA_DEFINING_EVENT" not in flags(out) and out["myeloma_defining_events"] == []


# --- Fifth session's black-box review -----------------------------------------------------------


def with_lab(name, **quantity):
    body = b()
    body["labs"] = {**LABS, name: quantity}
    return body


def test_the_complete_reference_panel_is_final_mgus(client):
    out = post(client, b())
    assert (out["classification"]["code"], out["classification"]["provisional"]) == ("MGUS_NON_IGM", False)
    assert out["missing_data"] == []


@pytest.mark.parametrize(
    ("lab", "quantity", "missing"),
    [
        # ref: §2.1 R: creatinine > 177 umol/L; "> 150" and ">= 177" do not decide it.
        ("creatinine", {"value": 150, "unit": "umol/L", "comparator": ">"}, "labs.creatinine"),
        ("creatinine", {"value": 177, "unit": "umol/L", "comparator": ">="}, "labs.creatinine"),
        # ref: §2.1 C: calcium > 2.75 mmol/L or > ULN + 0.25 (2.55 + 0.25 = 2.80).
        (
            "calcium",
            {
                "value": 2.8,
                "unit": "mmol/L",
                "comparator": "<",
                "reference_range": {"low": 2.15, "high": 2.55},
            },
            "labs.calcium",
        ),
        ("calcium", {"value": 2.8, "unit": "mmol/L", "comparator": "<"}, "labs.calcium"),
        # ref: §2.1 A: haemoglobin < 100 g/L or > 20 g/L below the LLN (120 - 20 = 100).
        (
            "hemoglobin",
            {"value": 105, "unit": "g/L", "comparator": "<", "reference_range": {"low": 120, "high": 160}},
            "labs.hemoglobin",
        ),
        ("hemoglobin", {"value": 105, "unit": "g/L", "comparator": "<"}, "labs.hemoglobin"),
    ],
)
def test_a_crab_value_sent_as_a_bound_that_decides_nothing_keeps_mgus_provisional(
    client, lab, quantity, missing
):
    out = post(client, with_lab(lab, **quantity))
    assert out["classification"]["code"] == "MGUS_NON_IGM"
    assert out["classification"]["provisional"] is True
    assert missing in out["missing_data"]
    assert "not assessable" in out["comment"]


@pytest.mark.parametrize(
    ("lab", "quantity"),
    [
        ("creatinine", {"value": 177, "unit": "umol/L", "comparator": "<="}),
        ("creatinine", {"value": 150, "unit": "umol/L", "comparator": "<"}),
        (
            "calcium",
            {
                "value": 2.75,
                "unit": "mmol/L",
                "comparator": "<=",
                "reference_range": {"low": 2.15, "high": 2.55},
            },
        ),
        # ref: §1.1 — without a ULN, only a value no plausible ULN + 0.25 could exceed settles the rule.
        ("calcium", {"value": 2.70, "unit": "mmol/L", "comparator": "<="}),
        (
            "hemoglobin",
            {"value": 100, "unit": "g/L", "comparator": ">=", "reference_range": {"low": 120, "high": 160}},
        ),
        # ref: §1.1 — without an LLN (sex not sent: the wider window), >= 120 g/L settles the rule.
        ("hemoglobin", {"value": 120, "unit": "g/L", "comparator": ">="}),
    ],
)
def test_a_crab_value_sent_as_a_bound_that_rules_the_feature_out_leaves_mgus_final(client, lab, quantity):
    out = post(client, with_lab(lab, **quantity))
    assert (out["classification"]["code"], out["classification"]["provisional"]) == ("MGUS_NON_IGM", False)
    assert out["missing_data"] == []


def test_a_creatinine_bound_above_the_threshold_is_renal_insufficiency(client):
    out = post(client, with_lab("creatinine", value=177, unit="umol/L", comparator=">"))
    assert "renal_insufficiency" in out["myeloma_defining_events"]


def test_a_smouldering_panel_with_an_undecided_calcium_bound_is_provisional(client):
    body = with_lab("calcium", value=2.8, unit="mmol/L", comparator="<")
    body["marrow"] = {"clonal_plasma_cells_percent": 20}
    body["cytogenetics"] = {"t_4_14": False, "t_14_16": False, "gain_1q": False, "del_13q": False}
    out = post(client, body)
    assert out["classification"]["code"] == "SMOLDERING_MYELOMA"
    assert out["classification"]["provisional"] is True
    assert "labs.calcium" in out["missing_data"]


def test_a_plasmacytoma_that_section_2_8_cannot_place_is_still_referred_to_haematology(client):
    body = b(clinical={"plasmacytoma": True, "amyloidosis": False})
    body["imaging"] = {"osteolytic_lesions": 0, "mri_focal_lesions": 1}
    body["marrow"] = {"clonal_plasma_cells_percent": 0}
    out = post(client, body)
    assert out["classification"]["code"] == "INDETERMINATE"
    assert "HEMATOLOGY_REFERRAL" in flags(out)
    assert "REFER_HEMATOLOGY" in {r["code"] for r in out["recommendations"]}


@pytest.mark.parametrize(
    ("creatinine", "referred"),
    [(177, False), (177.1, True), (200, True)],  # ref: §2.1 R: creatinine > 177 umol/L
)
def test_an_igm_mgus_beside_a_myeloma_defining_finding_is_referred_to_haematology(
    client, creatinine, referred
):
    body = b(serum_ife=IGM_KAPPA, marrow={"lymphoplasmacytic_infiltrate_percent": 5})
    body["labs"] = {**LABS, "creatinine": {"value": creatinine, "unit": "umol/L"}}
    body["clinical"] = {"igm_related_symptoms": False, "amyloidosis": False}
    out = post(client, body)
    assert out["classification"]["code"] == "MGUS_IGM"
    assert ("MYELOMA_DEFINING_EVENT" in flags(out)) is referred
    assert ("HEMATOLOGY_REFERRAL" in flags(out)) is referred
    assert ("REFER_HEMATOLOGY" in {r["code"] for r in out["recommendations"]}) is referred


def sclero_criterion(out):
    return next(c["status"] for c in out["criteria"] if c["id"] == "scleromyxedema.monoclonal_gammopathy")


def test_a_negative_electrophoresis_alone_does_not_rule_out_the_paraprotein_of_scleromyxoedema(client):
    out = post(
        client,
        {"spep": {"m_protein": {"value": 0, "unit": "g/L"}}, "clinical": {"scleromyxedema": "confirmed"}},
    )
    assert sclero_criterion(out) == "not_assessable"
    message = next(f["message"] for f in out["flags"] if f["code"] == "SCLEROMYXEDEMA_NO_PARAPROTEIN")
    assert "Not done yet: serum immunofixation, serum free light chains, urine immunofixation" in message
    assert next(r["text"] for r in out["recommendations"] if r["code"] == "REPEAT_IFE_FLC").startswith(
        "Do serum"
    )


def test_a_negative_immunofixation_and_normal_flc_rule_out_the_paraprotein_of_scleromyxoedema(client):
    body = {**Z, "flc": B["flc"], "urine": B["urine"], "clinical": {"scleromyxedema": "confirmed"}}
    out = post(client, body)
    assert sclero_criterion(out) == "not_met"
    assert "SCLEROMYXEDEMA_NO_PARAPROTEIN" in flags(out)
    assert next(r["text"] for r in out["recommendations"] if r["code"] == "REPEAT_IFE_FLC").startswith(
        "Repeat"
    )


@pytest.mark.parametrize(
    ("bmpc", "code", "mgcs_wording"),
    [(9, "MGUS_NON_IGM", True), (10, "SMOLDERING_MYELOMA", False), (60, "MULTIPLE_MYELOMA", False)],
)
def test_scleromyxoedema_beside_a_clone_beyond_mgus_is_not_called_mgcs(client, bmpc, code, mgcs_wording):
    out = post(
        client, b(marrow={"clonal_plasma_cells_percent": bmpc}, clinical={"scleromyxedema": "confirmed"})
    )
    assert out["classification"]["code"] == code
    message = next(f["message"] for f in out["flags"] if f["code"] == "MGCS_SCLEROMYXEDEMA")
    assert ("not of undetermined significance" in message) is mgcs_wording
    assert "IVIg" in message
    refer = next(r["text"] for r in out["recommendations"] if r["code"] == "REFER_HEMATOLOGY_DERMATOLOGY")
    assert ("monoclonal gammopathy of clinical significance" in refer) is mgcs_wording


def test_the_comment_says_an_imwg_2020_score_without_fish_is_a_lower_bound(client):
    body = b(marrow={"clonal_plasma_cells_percent": 12})
    out = post(client, body)
    assert out["risk"]["smm_imwg_2020"]["score_is_lower_bound"] is True
    assert "score at least 0 (up to 2 with the data not given)" in out["comment"]
    body["cytogenetics"] = {"t_4_14": False, "t_14_16": False, "gain_1q": False, "del_13q": False}
    out = post(client, body)
    assert "IMWG 2020 SMM risk score): low, score 0." in out["comment"]


def flc_only(kappa, lam, **extra):
    return {
        **Z,
        "flc": {"kappa": {"value": kappa, "unit": "mg/L"}, "lambda": {"value": lam, "unit": "mg/L"}},
        **extra,
    }


def test_an_abnormal_ratio_without_a_raised_chain_names_no_isotype_and_asks_for_a_repeat(client):
    out = post(client, flc_only(18, 8))  # ratio 2.25, kappa within 3.3-19.4
    assert out["classification"]["code"] == "INDETERMINATE"
    assert out["classification"]["isotype"] is None
    assert "REPEAT_IFE_FLC" in {r["code"] for r in out["recommendations"]}
    assert out["missing_data"] == ["labs.egfr"]  # the renal interval (0.37-3.10) would call 2.25 normal


@pytest.mark.parametrize(
    ("egfr", "code", "missing"),
    [
        (None, "MGUS_LIGHT_CHAIN", ["labs.egfr"]),
        (60, "MGUS_LIGHT_CHAIN", []),  # ref: §4: the renal interval needs eGFR < 60
        (59.9, "NO_MONOCLONAL_PROTEIN", []),  # 2.5 is inside 0.37-3.10
    ],
)
def test_light_chain_mgus_rests_on_renal_function_when_the_renal_interval_would_judge_otherwise(
    client, egfr, code, missing
):
    body = flc_only(40, 16, marrow={"clonal_plasma_cells_percent": 0}, urine=B["urine"], imaging=B["imaging"])
    body["labs"] = {k: v for k, v in LABS.items() if k != "egfr"}
    if egfr is not None:
        body["labs"]["egfr"] = {"value": egfr, "unit": "mL/min/1.73m2"}
    out = post(client, body)
    assert out["classification"]["code"] == code
    assert out["missing_data"] == missing
    assert out["classification"]["provisional"] is bool(missing)


@pytest.mark.parametrize(
    ("kappa", "renal_decides"),
    [(31, True), (31.1, False)],  # ref: §4: ratio 3.10 is inside the renal interval, 3.11 above it
)
def test_renal_function_is_asked_for_only_when_the_renal_interval_would_change_the_verdict(
    client, kappa, renal_decides
):
    body = flc_only(
        kappa, 10, marrow={"clonal_plasma_cells_percent": 3}, urine=B["urine"], imaging=B["imaging"]
    )
    body["labs"] = {k: v for k, v in LABS.items() if k != "egfr"}
    out = post(client, body)
    assert out["classification"]["code"] == "MGUS_LIGHT_CHAIN"
    assert ("labs.egfr" in out["missing_data"]) is renal_decides


@pytest.mark.parametrize(
    ("flow", "asked", "category"),
    # ref: §2.9 — a flow figure >= 10 % rules out a final MGUS label (INDETERMINATE until morphology).
    [(9.9, False, "MGUS_NON_IGM"), (10, True, "INDETERMINATE"), (70, True, "INDETERMINATE")],
)
def test_a_flow_figure_at_or_above_10_percent_asks_for_the_marrow_even_in_low_risk_mgus(
    client, flow, asked, category
):
    body = b(marrow={"flow_plasma_cells_percent": flow})
    out = post(client, body)
    assert out["classification"]["code"] == category
    assert ("MARROW_EXAMINATION_RECOMMENDED" in flags(out)) is asked
    if not asked:
        assert out["risk"]["mgus_mayo_2005"]["group"] == "low"
        follow_up = next(r["text"] for r in out["recommendations"] if r["code"] == "FOLLOW_UP")
        assert "not routinely indicated" in follow_up
    assert ("marrow.clonal_plasma_cells_percent" in out["missing_data"]) is True
    # §2.9: the flow figure itself never decides a threshold.
    assert all(c["value"] != flow for c in out["criteria"] if c["id"].startswith("mde.bmpc"))


# --- Fifth session's second review ----------------------------------------------------------------


def test_an_igm_clone_with_a_biopsy_proven_plasmacytoma_is_not_igm_mgus(client):
    body = b(
        serum_ife=IGM_KAPPA,
        marrow={"clonal_plasma_cells_percent": 0, "lymphoplasmacytic_infiltrate_percent": 0},
    )
    body["clinical"] = {"plasmacytoma": True, "igm_related_symptoms": False, "amyloidosis": False}
    out = post(client, body)
    assert out["classification"]["code"] == "INDETERMINATE"
    assert "plasmacytoma" in out["classification"]["label"]
    assert "HEMATOLOGY_REFERRAL" in flags(out)
    body["clinical"]["plasmacytoma"] = False
    assert post(client, body)["classification"]["code"] == "MGUS_IGM"


NEG_URINE = {"m_protein_24h": {"value": 600, "unit": "mg/24h"}, "ife": {"result": "negative", "clones": []}}


def test_a_urine_band_that_urine_immunofixation_finds_negative_places_no_light_chain_category(client):
    out = post(client, {"serum_ife": {"result": "negative", "clones": []}, "urine": NEG_URINE})
    assert out["classification"]["code"] == "INDETERMINATE"
    assert out["missing_data"] == ["urine.ife"]
    positive = {
        **NEG_URINE,
        "ife": {"result": "positive", "clones": [{"heavy_chain": None, "light_chain": "kappa"}]},
    }
    out = post(client, {"serum_ife": {"result": "negative", "clones": []}, "urine": positive})
    assert out["classification"]["code"] == "SMOLDERING_MYELOMA_LIGHT_CHAIN"


@pytest.mark.parametrize(
    ("urine_ife", "code"),
    [
        ({"result": "negative", "clones": []}, "MGUS_NON_IGM"),
        (
            {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
            "SMOLDERING_MYELOMA",
        ),
        (None, "SMOLDERING_MYELOMA"),  # no urine immunofixation: the 24-hour M-protein as sent
    ],
)
def test_the_urine_criterion_of_smouldering_myeloma_needs_a_band_not_shown_negative(client, urine_ife, code):
    urine = {"m_protein_24h": {"value": 600, "unit": "mg/24h"}}
    if urine_ife is not None:
        urine["ife"] = urine_ife
    out = post(client, b(urine=urine))
    assert out["classification"]["code"] == code
    criterion = next(c for c in out["criteria"] if c["id"] == "urine_m_protein_ge_500")
    assert criterion["status"] == ("not_assessable" if code == "MGUS_NON_IGM" else "met")
    if code == "MGUS_NON_IGM":
        assert out["classification"]["provisional"] is True and "urine.ife" in out["missing_data"]


def test_a_free_light_chain_clone_with_a_normal_ratio_names_what_could_still_place_it(client):
    body = {
        "serum_ife": {"result": "positive", "clones": [{"heavy_chain": None, "light_chain": "lambda"}]},
        "flc": {"kappa": {"value": 15, "unit": "mg/L"}, "lambda": {"value": 20, "unit": "mg/L"}},
        "labs": LABS,
    }
    out = post(client, body)
    assert out["classification"]["code"] == "INDETERMINATE"
    assert out["missing_data"] == ["marrow.clonal_plasma_cells_percent", "urine.m_protein_24h"]
    assert "REPEAT_IFE_FLC" in {r["code"] for r in out["recommendations"]}


def test_serial_findings_without_a_monoclonal_protein_are_a_note_not_a_flag(client):
    body = {
        "collected_on": "2026-10-01",
        **Z,
        "flc": B["flc"],
        "labs": {"hemoglobin": {"value": 120, "unit": "g/L"}},
        "history": [{"collected_on": "2026-01-01", "labs": {"hemoglobin": {"value": 130, "unit": "g/L"}}}],
    }
    out = post(client, body)
    assert out["classification"]["code"] == "NO_MONOCLONAL_PROTEIN"
    assert "EVOLVING_HEMOGLOBIN" not in flags(out)
    assert any("evolving haemoglobin rule" in n for n in out["notes"])  # in words, not the code
    clone = {**body, "spep": B["spep"], "serum_ife": B["serum_ife"]}
    assert "EVOLVING_HEMOGLOBIN" in flags(post(client, clone))


def test_a_rise_from_an_m_protein_of_zero_is_not_a_25_percent_rise(client):
    def run(first):
        body = b(collected_on="2026-06-01", marrow={"clonal_plasma_cells_percent": 15})
        body["spep"] = {"m_protein": {"value": 5, "unit": "g/L"}}
        body["history"] = [
            {"collected_on": "2026-01-01", "spep": {"m_protein": {"value": first, "unit": "g/L"}}},
            {"collected_on": "2026-03-01", "spep": {"m_protein": {"value": 5, "unit": "g/L"}}},
        ]
        return post(client, body)

    assert "RISING_M_PROTEIN_SUCCESSIVE" not in flags(run(0))
    assert "RISING_M_PROTEIN_SUCCESSIVE" in flags(run(4))  # 4 -> 5 -> 5 g/L: +25 % twice


@pytest.mark.parametrize(
    ("total", "mayo_2018", "imwg_2020"),
    [
        # ref: §3.3 "> 20 g/L" is settled by a total of 20 (the clone is at most 20), open at 25; §3.4
        # "<= 1.5 g/dL: 0; > 1.5-3: 3" is open at both (BMPC 25 % scores 3: a total of 3 or 6).
        (20, ["intermediate"], ["low", "low_intermediate"]),
        (25, ["intermediate", "high"], ["low", "low_intermediate"]),
    ],
)
def test_a_biclonal_igm_smouldering_myeloma_scores_the_spike_only_as_a_bound(
    client, total, mayo_2018, imwg_2020
):
    body = b(
        spep={"m_protein": {"value": total, "unit": "g/L"}},
        serum_ife=BICLONAL,
        marrow={"clonal_plasma_cells_percent": 25, "lymphoplasmacytic_infiltrate_percent": 2},
        flc={"kappa": {"value": 30, "unit": "mg/L"}, "lambda": {"value": 15, "unit": "mg/L"}},
        cytogenetics={"t_4_14": False, "t_14_16": False, "gain_1q": False, "del_13q": False},
    )
    out = post(client, body)
    assert out["classification"]["code"] == "SMOLDERING_MYELOMA"
    assert out["risk"]["smm_mayo_2018"]["possible_groups"] == mayo_2018
    assert out["risk"]["smm_imwg_2020"]["possible_groups"] == imwg_2020
    assert [c["id"] for c in out["criteria"]].count("no_amyloidosis") == 1


@pytest.mark.parametrize(("urine", "open_"), [(499, False), (500, True)])  # ref: §2.3 urine >= 500 mg/24h
def test_a_negative_urine_immunofixation_holds_mgus_open_only_for_a_band_that_could_meet_500(
    client, urine, open_
):
    body = b(
        urine={
            "m_protein_24h": {"value": urine, "unit": "mg/24h"},
            "ife": {"result": "negative", "clones": []},
        }
    )
    out = post(client, body)
    assert out["classification"]["code"] == "MGUS_NON_IGM"
    assert ("urine.ife" in out["missing_data"]) is open_
    assert out["classification"]["provisional"] is open_


# --- Fifth session's third review (scleromyxoedema and the narrative) --------------------------------


def eruption(**more):
    return {"papular_eruption": True, "sclerodermoid_induration": True, **more}


@pytest.mark.parametrize(
    ("histology", "suspected"),
    [(None, True), (True, True), (False, False)],
    ids=["histology_pending", "histology_typical", "histology_negative"],
)
def test_the_eruption_with_a_paraprotein_is_suspected_scleromyxoedema_until_histology_rules_it_out(
    client, histology, suspected
):
    clinical = eruption(fever=True, neurologic_signs=True)
    if histology is not None:
        clinical["histology_mucin_fibrosis"] = histology
    out = post(client, b(clinical=clinical))
    assert ("DERMATO_NEURO_SYNDROME" in flags(out)) is suspected
    assert ("MGCS_SCLEROMYXEDEMA" in flags(out)) is suspected
    assert ("EMERGENCY_ADMISSION" in {r["code"] for r in out["recommendations"]}) is suspected
    assert ("clinical.histology_mucin_fibrosis" in out["missing_data"]) is (histology is None)
    if suspected:
        assert out["comment"].startswith("Scleromyxoedema with fever and neurological signs")


def test_the_eruption_alone_without_a_sclerodermoid_induration_is_not_inferred(client):
    out = post(
        client, b(clinical={"papular_eruption": True, "sclerodermoid_induration": False, "fever": True})
    )
    assert not flags(out) & {"MGCS_SCLEROMYXEDEMA", "DERMATO_NEURO_SYNDROME"}


def test_scleromyxoedema_beside_an_unplaced_clone_is_not_called_mgcs_and_a_30_g_spike_is_referred(client):
    out = post(
        client,
        {"spep": {"m_protein": {"value": 45, "unit": "g/L"}}, "clinical": {"scleromyxedema": "confirmed"}},
    )
    assert out["classification"]["code"] == "INDETERMINATE"
    assert out["classification"]["provisional"] is True and out["missing_data"] == ["serum_ife"]
    message = next(f["message"] for f in out["flags"] if f["code"] == "MGCS_SCLEROMYXEDEMA")
    assert "not the size of the clone" not in message and "not settled yet" in message
    assert "HEMATOLOGY_REFERRAL" in flags(out)


@pytest.mark.parametrize(("spike", "referred"), [(29.9, False), (30, True)])  # ref: §2.3/§2.5: 30 g/L
def test_a_spike_without_immunofixation_is_referred_from_30_g_per_litre(client, spike, referred):
    out = post(client, {"spep": {"m_protein": {"value": spike, "unit": "g/L"}}})
    assert out["classification"]["code"] == "INDETERMINATE"
    assert ("HEMATOLOGY_REFERRAL" in flags(out)) is referred


def test_an_indeterminate_category_that_waits_for_a_marrow_is_provisional(client):
    body = b(labs={**LABS, "hemoglobin": {"value": 85, "unit": "g/L"}})
    del body["marrow"]
    out = post(client, body)
    assert out["classification"]["code"] == "INDETERMINATE"
    assert out["classification"]["provisional"] is True
    assert "marrow.clonal_plasma_cells_percent" in out["missing_data"]


def test_the_basis_of_igm_mgus_never_states_what_was_not_measured(client):
    out = post(client, {"serum_ife": IGM_KAPPA})
    assert out["classification"]["code"] == "MGUS_IGM"
    assert out["classification"]["reasons"] == [
        "IgM M-protein not quantified, no marrow result, end-organ features not fully assessed"
    ]
    full = post(
        client,
        b(
            serum_ife=IGM_KAPPA,
            marrow={"lymphoplasmacytic_infiltrate_percent": 5},
            clinical={"igm_related_symptoms": False},
        ),
    )
    assert full["classification"]["reasons"] == [
        "IgM M-protein < 30 g/L, infiltration < 10 %, no end-organ features"
    ]


def test_smouldering_myeloma_without_crab_labs_says_no_event_among_those_assessed(client):
    body = b(marrow={"clonal_plasma_cells_percent": 20})
    del body["labs"]
    out = post(client, body)
    assert out["classification"]["reasons"][0].endswith(
        "without myeloma-defining events among those assessed"
    )


def test_the_worked_example_comment_does_not_call_a_measured_creatinine_not_assessable(client):
    import json
    import pathlib

    example = json.loads(
        (pathlib.Path(__file__).parents[2] / "examples" / "worked-example-s6.json").read_text()
    )
    out = post(client, example)
    assert "renal insufficiency" not in out["comment"].split("not assessable:")[-1].split(".")[0]


def test_a_scleromyxoedema_without_paraprotein_asks_for_the_urine_immunofixation_in_missing_data(client):
    out = post(client, {**Z, "flc": B["flc"], "clinical": {"scleromyxedema": "confirmed"}})
    assert "SCLEROMYXEDEMA_NO_PARAPROTEIN" in flags(out)
    assert out["missing_data"] == ["urine.ife"]


@pytest.mark.parametrize(
    ("tsh", "disease", "status"),
    [
        (1.9, None, "met"),
        (4.1, None, "not_met"),
        (None, False, "met"),
        (None, None, "not_assessable"),
        (1.9, True, "not_met"),
    ],
)
def test_rongioletti_4_is_settled_by_a_tsh_within_its_range_or_a_stated_absence(client, tsh, disease, status):
    body = b(
        clinical={"scleromyxedema": "confirmed", **({} if disease is None else {"thyroid_disease": disease})}
    )
    if tsh is not None:
        body["labs"] = {
            **LABS,
            "tsh": {"value": tsh, "unit": "mIU/L", "reference_range": {"low": 0.4, "high": 4.0}},
        }
    out = post(client, body)
    assert (
        next(c["status"] for c in out["criteria"] if c["id"] == "scleromyxedema.no_thyroid_disease") == status
    )


def test_a_suspected_scleromyxoedema_asks_for_the_tsh_when_thyroid_disease_is_not_settled(client):
    body = b(clinical=eruption(histology_mucin_fibrosis=True))
    out = post(client, body)
    assert "MGCS_SCLEROMYXEDEMA" in flags(out)
    assert "labs.tsh" in out["missing_data"]
    body["labs"] = {
        **LABS,
        "tsh": {"value": 1.9, "unit": "mIU/L", "reference_range": {"low": 0.4, "high": 4.0}},
    }
    assert "labs.tsh" not in post(client, body)["missing_data"]


def test_a_confirmed_scleromyxoedema_against_absent_criteria_is_kept_and_questioned(client):
    out = post(client, b(clinical={"scleromyxedema": "confirmed", "papular_eruption": False}))
    assert "MGCS_SCLEROMYXEDEMA" in flags(out)
    assert any("reported confirmed although Rongioletti" in n for n in out["notes"])


@pytest.mark.parametrize(
    "body",
    [
        {"serum_ife": IGM_KAPPA},
        {"spep": {"m_protein": {"value": 10, "unit": "g/L"}}, "serum_ife": B["serum_ife"]},
        {"serum_ife": {"result": "positive", "clones": [{"heavy_chain": None, "light_chain": "lambda"}]}},
        {"spep": {"m_protein": {"value": 45, "unit": "g/L"}}, "clinical": {"scleromyxedema": "confirmed"}},
    ],
)
def test_the_comment_names_missing_data_in_words_and_the_work_up_keeps_the_field_paths(client, body):
    import re

    out = post(client, body)
    assert out["missing_data"] and "Not assessable without: " in out["comment"]
    sentence = out["comment"].split("Not assessable without: ")[-1].split(".")[0]
    assert not re.search(r"\b[a-z_]+\.[a-z_]+", sentence), sentence
    workup = next(r for r in out["recommendations"] if r["code"] == "COMPLETE_WORKUP")
    # The work-up names the data in words; its tests carry the field paths (a reader never sees a path).
    assert workup["tests"] and not re.search(r"\b[a-z_]+\.[a-z_]+", workup["text"]), workup["text"]


def test_every_field_missing_data_can_name_has_words():
    import importlib.util
    import json
    import pathlib

    from service.domain.words import FIELD_WORDS

    spec = importlib.util.spec_from_file_location(
        "golden", pathlib.Path(__file__).parents[2] / "bench" / "golden.py"
    )
    golden = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(golden)
    named = {m for line in golden.outputs(600, 3) for m in json.loads(line)["missing_data"]}
    assert named and named <= set(FIELD_WORDS), named - set(FIELD_WORDS)
