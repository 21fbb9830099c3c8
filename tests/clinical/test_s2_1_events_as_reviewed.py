"""§2.1 myeloma-defining events: CRAB values sent as bounds, the SLiM FLC rule, and the renal and
anaemia rules in the report."""

from __future__ import annotations

import pytest

from .bodies import B, Z, b, flags, post, with_lab


def test_a_slim_only_event_is_not_described_as_crab(client):
    flc = {"kappa": {"value": 300, "unit": "mg/L"}, "lambda": {"value": 2, "unit": "mg/L"}}
    out = post(client, b(flc=flc))
    assert out["classification"]["code"] == "INDETERMINATE"
    assert "MGUS excludes CRAB" not in out["classification"]["label"]


def test_the_flc_slim_rule_on_the_chain_opposite_the_clone_is_never_missed_nor_taken_as_the_clones(client):
    # A lambda excess beside a kappa clone (a possible second clone, or light-chain escape) is not
    # missed: it is not assessable and the answer is indeterminate, referred, FLC and IFE repeated; with
    # a lambda clone the same ratio is the clone's and met.
    flc = {"kappa": {"value": 1, "unit": "mg/L"}, "lambda": {"value": 100, "unit": "mg/L"}}
    out = post(client, b(flc=flc))
    status = {c["id"]: c["status"] for c in out["criteria"]}
    assert status["mde.flc_ratio_ge_100"] == "not_assessable"
    assert out["classification"]["code"] == "INDETERMINATE"
    assert "HEMATOLOGY_REFERRAL" in flags(out)
    lam = post(
        client,
        b(
            flc=flc,
            serum_ife={"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "lambda"}]},
        ),
    )
    assert {c["id"]: c["status"] for c in lam["criteria"]}["mde.flc_ratio_ge_100"] == "met"


def test_zero_light_chains_settle_the_flc_slim_rule_as_not_met(client):
    flc = {"kappa": {"value": 0, "unit": "mg/L"}, "lambda": {"value": 0, "unit": "mg/L"}}
    out = post(client, b(flc=flc))
    status = {c["id"]: c["status"] for c in out["criteria"]}
    assert status["mde.flc_ratio_ge_100"] == "not_met"


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


def test_an_egfr_standing_in_for_the_clearance_is_named_as_an_egfr(client):
    labs = {"creatinine": {"value": 140, "unit": "umol/L"}, "egfr": {"value": 35, "unit": "mL/min/1.73m2"}}
    out = post(client, b(marrow={"clonal_plasma_cells_percent": 12}, labs=labs))
    assert out["classification"]["code"] == "MULTIPLE_MYELOMA"
    assert "eGFR, as the estimated creatinine clearance 35" in out["comment"]
    decisive = out["comment"].split("Decisive findings: ", 1)[1].split(". ", 1)[0]
    assert decisive.startswith("eGFR, as the estimated creatinine clearance")


@pytest.mark.parametrize(("hb", "flagged"), [(99.9, True), (100, False), (100.1, False)])
def test_a_negative_screen_reports_crab_range_haemoglobin_only_below_100_g_l(client, hb, flagged):
    """§2.1 A (< 100 g/L), with no monoclonal protein: reported, never myeloma-defining."""
    out = post(client, {**Z, "flc": B["flc"], "labs": {"hemoglobin": {"value": hb, "unit": "g/L"}}})
    assert out["classification"]["code"] == "NO_MONOCLONAL_PROTEIN"
    assert ("CRAB_WITHOUT_MONOCLONAL_PROTEIN" in flags(out)) is flagged
    assert "MYELOMA_DEFINING_EVENT" not in flags(out) and out["myeloma_defining_events"] == []


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
