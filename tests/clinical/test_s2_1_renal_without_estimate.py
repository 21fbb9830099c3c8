"""§2.1 R and §2.9: a creatinine that does not meet its own rule, with no clearance, eGFR or CKD-EPI
estimate (sex not female or male, age not given, or age < 18), settles the clearance rule only when the
CKD-EPI 2021 equation stays >= 40 for every plausible adult age and either sex; otherwise the renal
criterion is not assessable and the answer stays provisional, asking for an eGFR."""

from __future__ import annotations

import pytest

from .helpers import code, merge, mgus_igg, q, run, status

R_CLEARANCE = "mde.renal_insufficiency.clearance"
R_CREATININE = "mde.renal_insufficiency.creatinine"
UMOL_PER_MG_DL = 88.4  # clinical-reference §1


def creatinine_mg_dl_for(egfr: float, age: float, sex: str) -> float:
    """The creatinine (mg/dL, above κ) at which the printed CKD-EPI 2021 equation gives ``egfr``."""
    kappa = 0.7 if sex == "female" else 0.9
    factor = 142 * 0.9938**age * (1.012 if sex == "female" else 1)
    return kappa * (egfr / factor) ** (-1 / 1.2)


def body(creatinine: dict, patient: dict | None) -> dict:
    b = mgus_igg(labs={"creatinine": creatinine, "creatinine_clearance": None, "egfr": None})
    b.pop("patient", None)
    if patient is not None:
        b["patient"] = patient
    return b


def assert_open(out: dict) -> None:
    assert status(out, R_CREATININE) == "not_met"
    assert status(out, R_CLEARANCE) == "not_assessable"
    assert code(out) == "MGUS_NON_IGM"
    assert out["classification"]["provisional"] is True
    assert "labs.egfr" in out["missing_data"]
    assert "no CRAB feature" not in out["comment"]
    assert "not assessable: renal insufficiency" in out["comment"]


def assert_settled(out: dict) -> None:
    assert status(out, R_CLEARANCE) == "not_met"
    assert code(out) == "MGUS_NON_IGM"
    assert out["classification"]["provisional"] is False
    assert not any(m.startswith("labs.") for m in out["missing_data"])
    assert "No myeloma-defining event." in out["comment"]


@pytest.mark.parametrize("unit", ["mg/dL", "umol/L"])
def test_a_creatinine_of_2_mg_dl_in_a_patient_of_sex_other_leaves_renal_insufficiency_open(unit):
    value = 2.0 if unit == "mg/dL" else 2.0 * UMOL_PER_MG_DL
    assert_open(run(body(q(value, unit), {"age_years": 60, "sex": "other"})))


@pytest.mark.parametrize("unit", ["mg/dL", "umol/L"])
def test_a_creatinine_of_1_9_mg_dl_without_an_age_leaves_renal_insufficiency_open(unit):
    value = 1.9 if unit == "mg/dL" else 1.9 * UMOL_PER_MG_DL
    assert_open(run(body(q(value, unit), {"sex": "male"})))


def test_a_17_year_old_with_creatinine_1_9_mg_dl_gets_no_estimate_and_an_open_renal_criterion():
    assert_open(run(body(q(1.9, "mg/dL"), {"age_years": 17, "sex": "male"})))


@pytest.mark.parametrize(("age", "settled"), [(1, False), (17.9, False), (18, True)])
def test_a_normal_adult_creatinine_settles_nothing_in_a_child(age, settled):
    """§2.1 R estimates only at age >= 18: the adults' equation says nothing of a child's clearance, so
    70 umol/L (>= 40 at every adult age) leaves the criterion open below 18."""
    out = run(body(q(70, "umol/L"), {"age_years": age, "sex": "male"}))
    if settled:
        assert status(out, R_CLEARANCE) == "not_met"  # the estimate itself, at 18
        assert "labs.egfr" not in out["missing_data"]
        return
    assert_open(out)
    assert "for adults (age >= 18)" in next(c["note"] for c in out["criteria"] if c["id"] == R_CLEARANCE)


# Sex "other" at 60: the female equation gives the lower estimate, so it decides (below / above eGFR 40).
@pytest.mark.parametrize("unit", ["mg/dL", "umol/L"])
@pytest.mark.parametrize("offset, settled", [(-0.01, True), (0.01, False)])
def test_sex_other_at_60_settles_only_below_the_creatinine_whose_lowest_estimate_is_40(unit, offset, settled):
    edge = creatinine_mg_dl_for(40, 60, "female") + offset
    value = edge if unit == "mg/dL" else edge * UMOL_PER_MG_DL
    out = run(body(q(value, unit), {"age_years": 60, "sex": "other"}))
    (assert_settled if settled else assert_open)(out)


def test_a_normal_creatinine_without_an_age_still_settles_renal_insufficiency_as_not_met():
    # 70 umol/L gives >= 40 mL/min/1.73m2 for either sex at every age the request accepts.
    assert creatinine_mg_dl_for(40, 150, "female") * UMOL_PER_MG_DL > 70
    assert_settled(run(body(q(70, "umol/L"), None)))


def test_an_egfr_bound_of_below_45_beside_a_creatinine_asks_for_the_egfr_not_the_creatinine():
    b = merge(mgus_igg(), {"labs": {"egfr": q(45, "mL/min/1.73m2", "<"), "creatinine_clearance": None}})
    out = run(b)
    assert status(out, R_CLEARANCE) == "not_assessable"
    assert "labs.egfr" in out["missing_data"]
    assert "labs.creatinine" not in out["missing_data"]


def test_a_creatinine_whose_egfr_straddles_60_between_the_sexes_leaves_an_flc_ratio_open():
    # ratio 3.0: abnormal on 0.26-1.65, within 0.37-3.10 (§4): renal function decides. At 60 years,
    # 1.2 mg/dL is an eGFR of about 51 for a woman and 69 for a man: unknown for sex "other".
    b = body(q(1.2, "mg/dL"), {"age_years": 60, "sex": "other"})
    b["flc"] = {"kappa": q(30, "mg/L"), "lambda": q(10, "mg/L"), "assay": "freelite"}
    out = run(b)
    assert out["flc"]["abnormal"] is None
    assert out["flc"]["reference_interval"]["low"] is None
    assert "undetermined" in out["flc"]["reference_interval"]["basis"]


def test_a_creatinine_below_60_for_both_sexes_chooses_the_renal_interval_even_with_the_r_rule_open():
    # 2.0 mg/dL at 60 years: about 28 (woman) and 37 (man): eGFR < 60 whichever sex (§4), while the
    # renal criterion itself stays not assessable without an estimate (§2.1 R).
    b = body(q(2.0, "mg/dL"), {"age_years": 60, "sex": "other"})
    b["flc"] = {"kappa": q(30, "mg/L"), "lambda": q(10, "mg/L"), "assay": "freelite"}
    out = run(b)
    assert (out["flc"]["reference_interval"]["low"], out["flc"]["reference_interval"]["high"]) == (0.37, 3.10)
    assert out["flc"]["abnormal"] is False
    assert "RENAL_FLC_INTERVAL_APPLIED" in {f["code"] for f in out["flags"]}
