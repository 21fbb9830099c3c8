"""§2.6-§2.7: light-chain MGUS and light-chain smouldering myeloma, the FLC ratio and the urine."""

from __future__ import annotations

import pytest

from .bodies import LABS, NEG, NEG_URINE, B, Z, flc_only, post


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


def test_a_urine_intact_immunoglobulin_with_negative_serum_ife_is_discordant(client):
    urine = {
        "m_protein_24h": {"value": 100, "unit": "mg/24h"},
        "ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
    }
    flc = {"kappa": {"value": 40, "unit": "mg/L"}, "lambda": {"value": 10, "unit": "mg/L"}}
    out = post(client, {**Z, "urine": urine, "flc": flc, "labs": LABS})
    assert out["classification"]["code"] == "INDETERMINATE"


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


@pytest.mark.parametrize(
    ("lam", "egfr", "code", "missing"),
    [
        # ref: §4: 10/30 = 0.333 is inside 0.26-1.65 and below the renal interval's 0.37
        (30, None, "NO_MONOCLONAL_PROTEIN", ["labs.egfr"]),
        (30, 60, "NO_MONOCLONAL_PROTEIN", []),
        (30, 59.9, "MGUS_LIGHT_CHAIN", []),  # lambda 30 > 26.3: the involved chain is raised
        # 10/27 = 0.370: inside both intervals, renal function changes nothing
        (27, None, "NO_MONOCLONAL_PROTEIN", []),
    ],
)
def test_a_negative_work_up_whose_lambda_ratio_the_renal_interval_would_call_abnormal_asks_for_the_egfr(
    client, lam, egfr, code, missing
):
    """The lambda side of the renal interval: a ratio of 0.26-0.37 is normal for normal renal function
    and abnormal with eGFR or CrCl < 60. 'No monoclonal protein' then rests on the renal function as
    much as light-chain MGUS does on the kappa side: provisional, asking for the eGFR."""
    body = {
        **Z,
        "flc": {"kappa": {"value": 10, "unit": "mg/L"}, "lambda": {"value": lam, "unit": "mg/L"}},
        "urine": B["urine"],
        "marrow": {"clonal_plasma_cells_percent": 0},
        "imaging": B["imaging"],
        "labs": {k: v for k, v in LABS.items() if k not in ("egfr", "creatinine")},
    }
    if egfr is not None:
        body["labs"]["egfr"] = {"value": egfr, "unit": "mL/min/1.73m2"}
    out = post(client, body)
    assert out["classification"]["code"] == code
    assert out["missing_data"] == missing
    assert out["classification"]["provisional"] is bool(missing)


@pytest.mark.parametrize(
    ("kappa", "code", "abnormal"),
    [
        (13, "NO_MONOCLONAL_PROTEIN", False),  # ref: §4: 13/50 = 0.26 is inside 0.26-1.65 (renal: below 0.37)
        (12.9, "MGUS_LIGHT_CHAIN", True),  # 12.9/50 = 0.258: below both intervals, lambda 50 raised
    ],
)
def test_the_lambda_side_rests_on_renal_function_only_from_the_standard_intervals_lower_limit(
    client, kappa, code, abnormal
):
    body = flc_only(
        kappa, 50, urine=B["urine"], marrow={"clonal_plasma_cells_percent": 0}, imaging=B["imaging"]
    )
    body["labs"] = {k: v for k, v in LABS.items() if k not in ("egfr", "creatinine")}
    out = post(client, body)
    assert out["classification"]["code"] == code
    assert out["flc"]["abnormal"] is abnormal
    if code == "NO_MONOCLONAL_PROTEIN":
        assert out["missing_data"] == ["labs.egfr"] and out["classification"]["provisional"] is True


# --- The clone found and the chain in excess (§2.6) ----------------------------------------------------


def _lc(kappa: float, lam: float, clone_chain: str, where: str) -> dict:
    body = {
        **Z,
        "flc": {"kappa": {"value": kappa, "unit": "mg/L"}, "lambda": {"value": lam, "unit": "mg/L"}},
        "labs": LABS,
        "marrow": {"clonal_plasma_cells_percent": 4},
        "imaging": {"osteolytic_lesions": 0, "mri_focal_lesions": 0},
    }
    clone = {"result": "positive", "clones": [{"heavy_chain": None, "light_chain": clone_chain}]}
    if where == "urine":
        body["urine"] = {"m_protein_24h": {"value": 100, "unit": "mg/24h"}, "ife": clone}
    else:
        body["serum_ife"] = clone
    return body


@pytest.mark.parametrize("where", ["urine", "serum"])
def test_a_free_lambda_clone_beside_a_kappa_excess_is_not_light_chain_mgus(client, where):
    # kappa 40 (raised), lambda 10: ratio 4.0 on the kappa side; the clone found is lambda.
    out = post(client, _lc(40, 10, "lambda", where))
    assert out["classification"]["code"] == "INDETERMINATE"
    assert "discordant" in out["classification"]["label"] and "lambda" in out["classification"]["label"]
    assert any(r["code"] == "REPEAT_IFE_FLC" for r in out["recommendations"])


@pytest.mark.parametrize("where", ["urine", "serum"])
def test_a_free_kappa_clone_with_its_own_chain_raised_is_light_chain_mgus(client, where):
    out = post(client, _lc(40, 10, "kappa", where))
    assert out["classification"]["code"] == "MGUS_LIGHT_CHAIN"
    assert out["flc"]["involved"] == "kappa"


# --- A second clone in the urine beside a serum clone ----------------------------------------------------


@pytest.mark.parametrize(("urine_mp", "category"), [(100, "MGUS_NON_IGM"), (600, "SMOLDERING_MYELOMA")])
def test_a_urine_clone_of_another_light_chain_is_named_as_a_second_clone(client, urine_mp, category):
    body = {
        **B,
        "urine": {
            "m_protein_24h": {"value": urine_mp, "unit": "mg/24h"},
            "ife": {"result": "positive", "clones": [{"heavy_chain": None, "light_chain": "lambda"}]},
        },
    }
    out = post(client, body)
    assert out["classification"]["code"] == category
    assert out["classification"]["isotype"].endswith("+ free lambda (urine)")
    assert any("second clone" in r for r in out["classification"]["reasons"])


def test_a_urine_bence_jones_protein_of_the_serum_clone_s_chain_is_no_second_clone(client):
    body = {
        **B,
        "urine": {
            "m_protein_24h": {"value": 100, "unit": "mg/24h"},
            "ife": {"result": "positive", "clones": [{"heavy_chain": None, "light_chain": "kappa"}]},
        },
    }
    out = post(client, body)
    assert "(urine)" not in out["classification"]["isotype"]
    assert not any("second clone" in r for r in out["classification"]["reasons"])


# --- The urine in the follow-up --------------------------------------------------------------------------


def _follow_up_tests(out: dict) -> tuple:
    return tuple(next(r for r in out["recommendations"] if r["code"] == "FOLLOW_UP")["tests"])


@pytest.mark.parametrize(
    ("urine", "followed"),
    [
        (
            {
                "m_protein_24h": {"value": 800, "unit": "mg/24h"},
                "ife": {"result": "positive", "clones": [{"heavy_chain": None, "light_chain": "lambda"}]},
            },
            True,
        ),
        (
            {"m_protein_24h": {"value": 0, "unit": "mg/24h"}, "ife": {"result": "negative", "clones": []}},
            False,
        ),
        (
            {"m_protein_24h": {"value": 120, "unit": "mg/24h"}, "ife": {"result": "negative", "clones": []}},
            False,
        ),
    ],
)
def test_a_clone_seen_in_the_urine_is_followed_in_the_urine(client, urine, followed):
    out = post(client, {**B, "urine": urine})
    assert ("urine_m_protein" in _follow_up_tests(out)) is followed


def test_light_chain_smouldering_myeloma_by_urine_is_followed_in_the_urine(client):
    body = {
        **Z,
        "flc": {"kappa": {"value": 15, "unit": "mg/L"}, "lambda": {"value": 12, "unit": "mg/L"}},
        "urine": {
            "m_protein_24h": {"value": 800, "unit": "mg/24h"},
            "ife": {"result": "positive", "clones": [{"heavy_chain": None, "light_chain": "lambda"}]},
        },
        "labs": LABS,
        "marrow": {"clonal_plasma_cells_percent": 5},
        "imaging": {"osteolytic_lesions": 0, "mri_focal_lesions": 0},
    }
    out = post(client, body)
    assert out["classification"]["code"] == "SMOLDERING_MYELOMA_LIGHT_CHAIN"
    assert "urine_m_protein" in _follow_up_tests(out)


@pytest.mark.parametrize(
    ("urine_chain", "urine_mp", "second_clone_smouldering"),
    [("lambda", 600, True), ("lambda", 499, False), ("kappa", 600, False)],
)
def test_an_igm_clone_with_a_urine_free_light_chain_of_another_chain_of_500_mg_or_more_is_referred(
    client, urine_chain, urine_mp, second_clone_smouldering
):
    # §2.5/§2.7: a free light chain clone beside the IgM clone, with a urine M-protein >= 500 mg/24h, is
    # in the light-chain smouldering range whether immunofixation finds it in serum or only in urine; a
    # free chain of the IgM clone's own light chain may be its Bence Jones protein.
    body = {
        **B,
        "spep": {"m_protein": {"value": 10, "unit": "g/L"}},
        "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgM", "light_chain": "kappa"}]},
        "marrow": {"lymphoplasmacytic_infiltrate_percent": 5},
        "clinical": {"igm_related_symptoms": False, "plasmacytoma": False, "amyloidosis": False},
        "urine": {
            "m_protein_24h": {"value": urine_mp, "unit": "mg/24h"},
            "ife": {"result": "positive", "clones": [{"heavy_chain": None, "light_chain": urine_chain}]},
        },
    }
    out = post(client, body)
    assert (out["classification"]["code"] == "INDETERMINATE") is second_clone_smouldering
    assert ("HEMATOLOGY_REFERRAL" in {f["code"] for f in out["flags"]}) is second_clone_smouldering
