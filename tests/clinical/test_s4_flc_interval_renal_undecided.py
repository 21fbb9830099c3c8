"""§4: the Freelite renal-impairment interval (0.37-3.10) applies when eGFR or CrCl < 60. An eGFR or
clearance sent as a bound that does not decide "< 60" leaves the interval, and the ratio's verdict,
undetermined unless both intervals judge the ratio the same way."""

from __future__ import annotations

import pytest

from .helpers import code, light_chain, merge, mgus_igg, q, run


def with_renal(b: dict, egfr: dict) -> dict:
    return merge(b, {"labs": {"egfr": egfr, "creatinine_clearance": None}})


def test_an_egfr_below_90_with_a_ratio_of_3_leaves_the_flc_verdict_undetermined():
    b = with_renal(
        mgus_igg(flc={"kappa": q(30, "mg/L"), "lambda": q(10, "mg/L")}), q(90, "mL/min/1.73m2", "<")
    )
    out = run(b)
    assert out["flc"]["abnormal"] is None
    assert out["flc"]["reference_interval"]["low"] is None
    assert "undetermined" in out["flc"]["reference_interval"]["basis"]
    assert "labs.egfr" in out["missing_data"]


@pytest.mark.parametrize("egfr, interval", [(59, (0.37, 3.10)), (60, (0.26, 1.65))])
def test_an_exact_egfr_below_or_at_60_still_chooses_one_interval(egfr, interval):
    b = with_renal(mgus_igg(flc={"kappa": q(30, "mg/L"), "lambda": q(10, "mg/L")}), q(egfr, "mL/min/1.73m2"))
    out = run(b)
    assert (out["flc"]["reference_interval"]["low"], out["flc"]["reference_interval"]["high"]) == interval
    assert out["flc"]["abnormal"] is (egfr >= 60)


@pytest.mark.parametrize("comparator", ["<", ">"])
def test_an_undecided_egfr_bound_keeps_a_verdict_both_intervals_agree_on(comparator):
    # ratio 3.2 is above 1.65 and above 3.10: abnormal whatever the renal function.
    b = with_renal(
        mgus_igg(flc={"kappa": q(32, "mg/L"), "lambda": q(10, "mg/L")}),
        q(70 if comparator == "<" else 50, "mL/min/1.73m2", comparator),
    )
    out = run(b)
    assert out["flc"]["abnormal"] is True
    assert out["flc"]["reference_interval"]["low"] == 0.26


def test_an_egfr_bound_that_decides_60_chooses_the_renal_interval():
    b = with_renal(
        mgus_igg(flc={"kappa": q(30, "mg/L"), "lambda": q(10, "mg/L")}), q(45, "mL/min/1.73m2", "<")
    )
    out = run(b)
    assert out["flc"]["reference_interval"]["low"] == 0.37
    assert out["flc"]["abnormal"] is False


def test_a_negative_screen_with_an_undecided_egfr_bound_stays_provisional_and_asks_for_the_egfr():
    b = with_renal(light_chain(q(30, "mg/L"), q(10, "mg/L")), q(90, "mL/min/1.73m2", "<"))
    out = run(b)
    assert code(out) != "MGUS_LIGHT_CHAIN"  # the ratio is not shown to be abnormal
    assert out["classification"]["provisional"] is True
    assert "labs.egfr" in out["missing_data"]
