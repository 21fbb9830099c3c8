"""§2.9: what the criteria need before an answer may be final - the complete screen, flow cytometry, the
narrative of not-assessable events, a spike without immunofixation - and report text in words."""

from __future__ import annotations

import json
import re

import pytest

from .helpers import EXAMPLE_S6, clone, code, complete, flag, flag_codes, ife, igm, merge, mgus_igg, q, run

# --- A negative screen is complete only with SPEP, serum immunofixation and serum FLC -------------------

CAST_NEPHROPATHY = {
    "spep": {"m_protein": {"value": 0, "unit": "g/L"}},
    "labs": {"creatinine": {"value": 320, "unit": "umol/L"}, "hemoglobin": {"value": 92, "unit": "g/L"}},
}


def test_spep_alone_beside_renal_failure_and_anaemia_is_no_reassurance_and_asks_for_flc_and_ife_urgently():
    out = run(CAST_NEPHROPATHY)
    assert code(out) == "NO_MONOCLONAL_PROTEIN"
    assert out["classification"]["provisional"] is True
    label = out["classification"]["label"]
    assert "serum immunofixation" in label and "serum free light chains" in label and "not done" in label
    fl = flag(out, "CRAB_WITHOUT_MONOCLONAL_PROTEIN")
    assert fl["severity"] == "urgent"
    assert "light-chain cast nephropathy" in fl["message"]
    assert "other causes are more likely" not in out["comment"]
    assert "other causes are more likely" not in fl["message"]
    assert {"serum_ife", "flc.kappa", "flc.lambda"} <= set(out["missing_data"])
    urgent = next(r for r in out["recommendations"] if r["code"] == "URGENT_FLC_IFE")
    assert set(urgent["tests"]) == {"serum_ife", "flc"}
    assert out["comment"].count("Urgent: serum immunofixation and serum free light chains") == 1


@pytest.mark.parametrize(
    ("labs", "other_causes"),
    [
        ({"creatinine": q(177.1, "umol/L")}, False),  # R met
        ({"creatinine": q(177, "umol/L")}, None),  # R not met: nothing to flag
        ({"hemoglobin": q(99.9, "g/L")}, False),  # A met
        ({"hemoglobin": q(9.99, "g/dL")}, False),
        ({"calcium": q(2.76, "mmol/L")}, True),  # C alone: the reassurance stays
    ],
)
def test_renal_insufficiency_or_anaemia_without_a_clone_never_suggests_other_causes(labs, other_causes):
    out = run({"spep": {"m_protein": q(0, "g/L")}, "labs": labs})
    codes = flag_codes(out)
    if other_causes is None:
        assert "CRAB_WITHOUT_MONOCLONAL_PROTEIN" not in codes
        return
    assert ("other causes are more likely" in out["comment"]) is other_causes


def test_a_complete_negative_screen_is_final():
    body = complete(
        {
            "spep": {"m_protein": q(0, "g/L")},
            "serum_ife": ife(),
            "flc": {"kappa": q(15, "mg/L"), "lambda": q(12, "mg/L")},
        }
    )
    out = run(body)
    assert (code(out), out["classification"]["provisional"]) == ("NO_MONOCLONAL_PROTEIN", False)
    assert out["classification"]["label"] == "No monoclonal protein detected"


@pytest.mark.parametrize(
    ("missing", "named"),
    [("serum_ife", "serum immunofixation"), ("flc", "serum free light chains")],
)
def test_a_negative_screen_without_immunofixation_or_flc_is_provisional_and_names_the_test(missing, named):
    body = complete(
        {
            "spep": {"m_protein": q(0, "g/L")},
            "serum_ife": ife(),
            "flc": {"kappa": q(15, "mg/L"), "lambda": q(12, "mg/L")},
        }
    )
    body.pop(missing)
    out = run(body)
    assert code(out) == "NO_MONOCLONAL_PROTEIN"
    assert out["classification"]["provisional"] is True
    assert named in out["classification"]["label"]


def test_suspected_al_amyloidosis_adds_urine_immunofixation_to_the_screen():
    body = complete(
        {
            "spep": {"m_protein": q(0, "g/L")},
            "serum_ife": ife(),
            "flc": {"kappa": q(15, "mg/L"), "lambda": q(12, "mg/L")},
            "clinical": {"amyloidosis": True},
        }
    )
    out = run(body)
    assert "urine.ife" in out["missing_data"]
    assert "24-hour urine immunofixation" in out["classification"]["label"]


# --- A not-assessable event is never summarised as absent --------------------------------------------


def test_a_calcium_a_plausible_uln_could_make_hypercalcaemia_is_listed_as_not_assessable():
    body = mgus_igg(labs={"calcium": q(2.74, "mmol/L")})
    out = run(body)
    assert "No myeloma-defining event." not in out["comment"]
    assert "No myeloma-defining event among those assessed; not assessable: hypercalcaemia" in out["comment"]


def test_a_creatinine_without_clearance_age_or_sex_leaves_renal_insufficiency_not_assessable_in_words():
    body = mgus_igg(labs={"creatinine": q(150, "umol/L"), "creatinine_clearance": None, "egfr": None})
    body.pop("patient")
    out = run(body)
    assert "not assessable: renal insufficiency" in out["comment"]


def test_a_fully_settled_panel_says_no_myeloma_defining_event():
    assert "No myeloma-defining event." in run(mgus_igg())["comment"]


# --- The flag and the list always agree (IgM too) ---------------------------------------------------


def test_an_igm_clone_with_anaemia_lists_the_event_it_flags():
    body = igm(
        spep={"m_protein": q(12, "g/L")},
        marrow={"lymphoplasmacytic_infiltrate_percent": 5},
        labs={"hemoglobin": q(95, "g/L")},
    )
    out = run(body)
    assert "MYELOMA_DEFINING_EVENT" in flag_codes(out)
    assert out["myeloma_defining_events"] == ["anemia"]
    assert "IgM criteria do not use the myeloma CRAB" in flag(out, "MYELOMA_DEFINING_EVENT")["message"]


# --- Report text is words, and names every decisive finding -------------------------------------------


def test_an_igm_clone_with_myeloma_features_names_them_in_words_with_the_lytic_lesions():
    body = igm(
        spep={"m_protein": q(15, "g/L")},
        marrow={"clonal_plasma_cells_percent": 30, "lymphoplasmacytic_infiltrate_percent": None},
        imaging={"osteolytic_lesions": 3, "mri_focal_lesions": 4},
    )
    out = run(body)
    label = out["classification"]["label"]
    assert code(out) == "INDETERMINATE"
    assert "> 1 focal lesion on MRI" in label
    assert "clonal BMPC >= 10 %" in label
    assert "osteolytic bone lesion(s)" in label
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", label), label


# --- Flow cytometry ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flow", "category", "urgent"),
    [
        (9.9, "MGUS_NON_IGM", False),
        (10, "INDETERMINATE", False),
        (59.9, "INDETERMINATE", False),
        (60, "INDETERMINATE", True),
        (70, "INDETERMINATE", True),
    ],
)
def test_a_flow_figure_of_10_percent_or_more_rules_out_a_final_mgus(flow, category, urgent):
    body = mgus_igg()
    body["marrow"] = {"flow_plasma_cells_percent": flow}
    out = run(body)
    assert code(out) == category
    assert "marrow.clonal_plasma_cells_percent" in out["missing_data"]
    if category == "INDETERMINATE":
        assert out["classification"]["provisional"] is True
        marrow = flag(out, "MARROW_EXAMINATION_RECOMMENDED")
        assert ("urgently" in marrow["message"]) is urgent
        assert ("HEMATOLOGY_REFERRAL" in flag_codes(out)) is urgent
        assert not any(r["code"] == "FOLLOW_UP" for r in out["recommendations"])


@pytest.mark.parametrize(("flow", "trephine"), [(7.9, False), (8, False), (8.1, True), (12, True)])
def test_a_flow_figure_above_a_morphology_figure_below_10_percent_asks_for_the_trephine_count(flow, trephine):
    body = mgus_igg()
    body["marrow"] = {"plasma_cells_percent": 8, "flow_plasma_cells_percent": flow}
    out = run(body)
    assert code(out) == "MGUS_NON_IGM"  # the morphology figure decides (§2.9)
    assert any(r["code"] == "TREPHINE_CD138_COUNT" for r in out["recommendations"]) is trephine
    assert out["classification"]["provisional"] is trephine


# --- A spike of 15 g/L or more without immunofixation asks for the marrow ---------------------------


@pytest.mark.parametrize(
    ("spike", "marrow"),
    [
        (q(14.9, "g/L"), False),
        (q(15, "g/L"), True),
        (q(1.49, "g/dL"), False),
        (q(1.5, "g/dL"), True),
        (q(35, "g/L"), True),
    ],
)
def test_an_m_spike_of_15_g_l_or_more_without_immunofixation_asks_for_the_marrow(spike, marrow):
    body = complete({"spep": {"m_protein": spike}, "flc": {"kappa": q(15, "mg/L"), "lambda": q(12, "mg/L")}})
    out = run(body)
    assert code(out) == "INDETERMINATE"
    assert ("MARROW_EXAMINATION_RECOMMENDED" in flag_codes(out)) is marrow
    assert "serum_ife" in out["missing_data"]


def test_an_m_spike_without_immunofixation_but_with_a_marrow_result_is_not_asked_for_it_again():
    body = complete({"spep": {"m_protein": q(35, "g/L")}, "marrow": {"clonal_plasma_cells_percent": 5}})
    assert "MARROW_EXAMINATION_RECOMMENDED" not in flag_codes(run(body))


def test_the_reviewers_35_g_l_spike_is_referred_and_asked_for_the_marrow():
    out = run(merge({"spep": {"m_protein": q(35, "g/L")}}, {"serum_ife": None}))
    assert {"HEMATOLOGY_REFERRAL", "MARROW_EXAMINATION_RECOMMENDED"} <= flag_codes(out)
    assert any(r["code"] == "MARROW_EXAMINATION" for r in out["recommendations"])


# --- §2.3: a urinary M-protein bound that leaves ">= 500 mg/24h" open keeps the MGUS provisional --------


@pytest.mark.parametrize(
    ("urine_mp", "provisional"),
    [
        (q(499, "mg/24h", ">"), True),  # 499.5 or 600: smouldering myeloma is not excluded
        (q(500, "mg/24h", "<="), True),  # exactly 500 meets §2.3
        (q(501, "mg/24h", "<"), True),
        (q(500, "mg/24h", "<"), False),  # settled: below 500
        (q(499, "mg/24h"), False),  # measured, below 500
    ],
    ids=[">499", "<=500", "<501", "<500", "499"],
)
def test_a_urine_bound_that_leaves_500_open_keeps_the_mgus_provisional_and_asks_for_the_value(
    urine_mp, provisional
):
    body = mgus_igg(
        urine={"m_protein_24h": urine_mp, "ife": ife(clone("IgG", "kappa"))},
    )
    out = run(body)
    assert code(out) == "MGUS_NON_IGM"
    assert out["classification"]["provisional"] is provisional
    assert ("urine.m_protein_24h" in out["missing_data"]) is provisional


# --- §6: an M-protein sent below a limit is a peak seen but not quantified ------------------------------


@pytest.mark.parametrize("comparator", ["<", "<="])
def test_an_unquantified_peak_without_immunofixation_is_never_no_m_spike(comparator):
    # §6 encodes "monoclonal peak in the gamma region, not quantified" as "< 16 g/L". Without serum
    # immunofixation (reported later) it was answered "No monoclonal protein detected ... no M-spike".
    body = {
        "spep": {"m_protein": q(16, "g/L", comparator)},
        "flc": {"kappa": q(12.1, "mg/L"), "lambda": q(14.3, "mg/L")},
    }
    out = run(body)
    assert code(out) == "INDETERMINATE"
    assert out["classification"]["provisional"] is True
    assert out["missing_data"][0] == "serum_ife"
    assert "no M-spike" not in out["comment"]


def test_the_worked_example_before_its_immunofixation_keeps_the_mgcs_referral():
    body = json.loads(EXAMPLE_S6.read_text())
    del body["serum_ife"]
    out = run(body)
    assert code(out) == "INDETERMINATE"
    assert "MGCS_SCLEROMYXEDEMA" in flag_codes(out)
    assert "SCLEROMYXEDEMA_NO_PARAPROTEIN" not in flag_codes(out)


def test_a_bounded_peak_beside_a_negative_immunofixation_is_still_no_monoclonal_protein():
    body = {
        "spep": {"m_protein": q(1, "g/L", "<")},
        "serum_ife": ife(),
        "flc": {"kappa": q(12.1, "mg/L"), "lambda": q(14.3, "mg/L")},
    }
    assert code(run(body)) == "NO_MONOCLONAL_PROTEIN"


@pytest.mark.parametrize(
    ("spike", "marrow", "referred"),
    [
        (q(16, "g/L", "<"), True, False),  # may be 15 or more: the marrow; cannot be 30
        (q(31, "g/L", "<"), True, True),  # may be 30 or more: referred as an exact 30 is
        (q(15, "g/L", "<"), False, False),  # below 15 for certain
        (q(30, "g/L"), True, True),
    ],
    ids=["<16", "<31", "<15", "30"],
)
def test_a_bounded_spike_without_immunofixation_asks_what_the_values_it_allows_would(spike, marrow, referred):
    body = {"spep": {"m_protein": spike}, "flc": {"kappa": q(12.1, "mg/L"), "lambda": q(14.3, "mg/L")}}
    out = run(body)
    assert code(out) == "INDETERMINATE"
    assert ("MARROW_EXAMINATION_RECOMMENDED" in flag_codes(out)) is marrow
    assert ("HEMATOLOGY_REFERRAL" in flag_codes(out)) is referred
