"""§3: risk models, follow-up schedules and serial (evolving) patterns."""

from __future__ import annotations

import copy

import pytest

from .bodies import LC_KAPPA, B, Z, b, flags, post


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


def test_an_evolving_pattern_asks_for_review_beyond_the_risk_based_interval(client):
    body = b(
        collected_on="2025-06-01",
        spep={"m_protein": {"value": 14, "unit": "g/L"}},
        history=[{"collected_on": "2025-01-01", "spep": {"m_protein": {"value": 8, "unit": "g/L"}}}],
    )
    codes = {r["code"] for r in post(client, body)["recommendations"]}
    assert "EVOLVING_PATTERN_REVIEW" in codes


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


def test_the_comment_says_an_imwg_2020_score_without_fish_is_a_lower_bound(client):
    body = b(marrow={"clonal_plasma_cells_percent": 12})
    out = post(client, body)
    assert out["risk"]["smm_imwg_2020"]["score_is_lower_bound"] is True
    assert "score at least 0 (up to 2 with the data not given)" in out["comment"]
    body["cytogenetics"] = {"t_4_14": False, "t_14_16": False, "gain_1q": False, "del_13q": False}
    out = post(client, body)
    assert "IMWG 2020 SMM risk score): low, score 0." in out["comment"]


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


def test_an_open_flc_factor_asks_only_for_the_chain_sent_as_a_bound():
    # kappa 10 exact, lambda "< 10": the ratio is above 1, not known to exceed 1.65 (§3.1).
    from .helpers import mgus_igg, q, run

    out = run(mgus_igg(flc={"kappa": q(10, "mg/L"), "lambda": q(10, "mg/L", "<"), "assay": "freelite"}))
    mayo = out["risk"]["mgus_mayo_2005"]
    assert mayo["group"] is None
    assert "serum free lambda" in mayo["reason"] and "serum free kappa" not in mayo["reason"]
