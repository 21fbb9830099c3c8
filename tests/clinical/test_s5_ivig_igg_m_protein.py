"""§5: within about 3 months of the last IVIg dose (read as 3 calendar months), IgG-based values and
bounds are unreliable: an IgG M-protein decides neither the smouldering-myeloma criterion (>= 30 g/L) nor
the M-protein factors of the risk models (§3.1 >= 15 g/L, §3.3 > 20 g/L, §3.4 bands); the category is
provisional and the risk groups are open."""

from __future__ import annotations

import pytest

from .helpers import code, factor, merge, mgus_igg, q, risk, run, status

LAST_DOSE = "2024-02-20"  # window: to 2024-05-20 inclusive


def smm_by_spike(collected_on: str, spike: dict, heavy: str = "IgG") -> dict:
    b = mgus_igg(spep={"m_protein": spike}, clinical={"ivig_last_dose_on": LAST_DOSE})
    b["serum_ife"] = {"result": "positive", "clones": [{"heavy_chain": heavy, "light_chain": "kappa"}]}
    b["collected_on"] = collected_on
    return b


@pytest.mark.parametrize("spike", [q(32, "g/L"), q(3.2, "g/dL")])
@pytest.mark.parametrize("collected_on", ["2024-03-01", "2024-05-20"])
def test_an_igg_m_protein_of_32_g_l_within_the_ivig_window_does_not_make_smouldering_myeloma(
    spike, collected_on
):
    out = run(smm_by_spike(collected_on, spike))
    assert status(out, "serum_m_protein_ge_30") == "not_assessable"
    assert code(out) != "SMOLDERING_MYELOMA"
    assert out["classification"]["provisional"] is True
    assert "spep.m_protein" in out["missing_data"]
    assert "IVIG_IGG_UNRELIABLE" in {f["code"] for f in out["flags"]}
    mayo = risk(out, "mgus_mayo_2005")
    assert mayo["group"] is None
    assert factor(out, "mgus_mayo_2005", "m_protein_ge_15_g_l")["status"] == "unknown"


@pytest.mark.parametrize("spike", [q(32, "g/L"), q(3.2, "g/dL")])
def test_the_day_after_the_ivig_window_an_igg_m_protein_of_32_g_l_makes_smouldering_myeloma_again(spike):
    out = run(smm_by_spike("2024-05-21", spike))
    assert status(out, "serum_m_protein_ge_30") == "met"
    assert code(out) == "SMOLDERING_MYELOMA"
    assert factor(out, "smm_mayo_2018", "m_protein_gt_20_g_l")["status"] == "present"


def test_within_the_ivig_window_a_smouldering_myeloma_by_marrow_has_its_m_protein_risk_factors_open():
    b = merge(smm_by_spike("2024-03-01", q(25, "g/L")), {"marrow": {"clonal_plasma_cells_percent": 15}})
    out = run(b)
    assert code(out) == "SMOLDERING_MYELOMA"  # by the marrow, which IVIg does not touch
    assert factor(out, "smm_mayo_2018", "m_protein_gt_20_g_l")["status"] == "unknown"
    assert factor(out, "smm_imwg_2020", "m_protein")["status"] == "unknown"
    assert risk(out, "smm_mayo_2018")["group"] is None


def test_within_the_ivig_window_an_iga_m_protein_still_decides():
    out = run(smm_by_spike("2024-03-01", q(32, "g/L"), heavy="IgA"))
    assert status(out, "serum_m_protein_ge_30") == "met"
    assert code(out) == "SMOLDERING_MYELOMA"


def test_within_the_ivig_window_an_igg_m_protein_below_30_does_not_make_a_final_mgus():
    out = run(smm_by_spike("2024-03-01", q(12, "g/L")))
    assert code(out) == "MGUS_NON_IGM"
    assert out["classification"]["provisional"] is True
    assert "unreliable" in out["classification"]["reasons"][0]
