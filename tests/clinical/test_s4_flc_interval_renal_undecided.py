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


def _flc_screen(kappa: float, **extra) -> dict:
    return {
        "spep": {"m_protein": {"value": 0, "unit": "g/L"}},
        "serum_ife": {"result": "negative", "clones": []},
        "flc": {"kappa": {"value": kappa, "unit": "mg/L"}, "lambda": {"value": 20, "unit": "mg/L"}},
        **extra,
    }


@pytest.mark.parametrize(
    ("kappa", "abnormal"),
    [(44.6, False), (62.0, False), (62.2, True)],  # ref: §4: ratios 2.23, 3.10 (inside), 3.11 (above)
)
def test_reported_end_stage_renal_disease_selects_the_freelite_renal_interval(client, kappa, abnormal):
    """End-stage renal disease is renal impairment: the FLC verdict is the one an eGFR of 40-59 gives."""
    esrd = client.post(
        "/v1/interpretations", json=_flc_screen(kappa, clinical={"end_stage_renal_disease": True})
    ).get_json()
    egfr = client.post(
        "/v1/interpretations",
        json=_flc_screen(kappa, labs={"egfr": {"value": 50, "unit": "mL/min/1.73m2"}}),
    ).get_json()
    assert esrd["flc"]["abnormal"] is abnormal
    interval = esrd["flc"]["reference_interval"]
    assert (interval["low"], interval["high"]) == (0.37, 3.1)
    assert esrd["flc"]["renal_interval"] is True
    # (the renal insufficiency criterion still needs a clearance or eGFR: §2.1 R has a number)
    assert esrd["classification"]["code"] == egfr["classification"]["code"]
    assert esrd["flc"] == egfr["flc"]
    if not abnormal:  # the renal function is known: nothing asked for
        assert esrd["classification"]["code"] == "NO_MONOCLONAL_PROTEIN"
        assert esrd["missing_data"] == [] and esrd["classification"]["provisional"] is False
    assert any("End-stage renal disease reported" in n for n in esrd["notes"])


def test_an_egfr_of_60_or_more_beside_reported_end_stage_renal_disease_leaves_a_split_ratio_open(client):
    """The two disagree: a ratio the two Freelite intervals judge differently (2.23) is undetermined."""
    out = client.post(
        "/v1/interpretations",
        json=_flc_screen(
            44.6,
            clinical={"end_stage_renal_disease": True},
            labs={"egfr": {"value": 85, "unit": "mL/min/1.73m2"}},
        ),
    ).get_json()
    assert out["flc"]["abnormal"] is None
    assert out["classification"]["provisional"] is True
    # the eGFR was sent: the disease report is what the two disagree on
    assert "clinical.end_stage_renal_disease" in out["missing_data"]
    assert "labs.egfr" not in out["missing_data"]
    assert any("End-stage renal disease is reported but" in n for n in out["notes"])


# --- A creatinine alone (no eGFR, clearance or estimate: sex not female or male) ------------------------
# At age 70, 1.29 mg/dL gives 44.6 (female) and 59.6 (male) mL/min/1.73m2: below 60 whichever sex, so
# the renal interval applies; 1.28 mg/dL gives 60.2 for a man: undecided; 0.6 mg/dL is >= 60 for both.


@pytest.mark.parametrize("sex", ["unknown", "other"])
@pytest.mark.parametrize(
    ("creatinine", "interval", "abnormal"),
    [(1.29, (0.37, 3.10), False), (1.28, (None, None), None), (0.6, (0.26, 1.65), True)],
)
def test_a_creatinine_without_a_usable_sex_settles_the_interval_only_when_both_sexes_agree(
    sex, creatinine, interval, abnormal
):
    b = mgus_igg(
        flc={"kappa": q(40, "mg/L"), "lambda": q(20, "mg/L")},  # ratio 2.0
        patient={"age_years": 70, "sex": sex},
        labs={"creatinine": q(creatinine, "mg/dL"), "egfr": None, "creatinine_clearance": None},
    )
    out = run(b)
    shown = out["flc"]["reference_interval"]
    assert (shown["low"], shown["high"]) == interval
    assert out["flc"]["abnormal"] is abnormal
