"""§2.1 R: the race-free CKD-EPI 2021 eGFR when neither clearance nor eGFR is sent (and §4: it selects the
renal FLC interval). Expectations come from the published equation, written out here on its own."""

from __future__ import annotations

import pytest

from .helpers import clone, code, complete, flag_codes, ife, merge, mgus_igg, q, run, status

R_CLEARANCE = "mde.renal_insufficiency.clearance"
R_CREATININE = "mde.renal_insufficiency.creatinine"


def ckd_epi_2021(scr_mg_dl: float, age: float, sex: str) -> float:
    """clinical-reference §2.1 R, as printed."""
    kappa, alpha = (0.7, -0.241) if sex == "female" else (0.9, -0.302)
    x = scr_mg_dl / kappa
    e = 142 * min(x, 1) ** alpha * max(x, 1) ** -1.200 * 0.9938**age
    return e * 1.012 if sex == "female" else e


def creatinine_for(egfr: float, age: float, sex: str) -> float:
    """The creatinine (mg/dL, above κ) at which the equation gives ``egfr``."""
    kappa = 0.7 if sex == "female" else 0.9
    factor = 142 * 0.9938**age * (1.012 if sex == "female" else 1)
    return kappa * (egfr / factor) ** (-1 / 1.2)


def panel(creatinine: dict, age: float | None = 78, sex: str | None = "male", **over) -> dict:
    """IgG-kappa MGUS-range clone with clonal BMPC 12 %: renal insufficiency decides myeloma (§2.2)."""
    body = complete(
        {
            "spep": {"m_protein": q(12, "g/L")},
            "serum_ife": ife(clone("IgG", "kappa")),
            "flc": {"kappa": q(15, "mg/L"), "lambda": q(12, "mg/L")},
            "marrow": {"clonal_plasma_cells_percent": 12},
            "labs": {"creatinine": creatinine, "creatinine_clearance": None, "egfr": None},
        }
    )
    patient = {k: v for k, v in (("age_years", age), ("sex", sex)) if v is not None}
    if patient:
        body["patient"] = patient
    return merge(body, over)


def test_a_78_year_old_man_with_creatinine_2_mg_dl_has_an_egfr_of_about_33_5_and_renal_insufficiency():
    out = run(panel(q(2.0, "mg/dL")))
    assert ckd_epi_2021(2.0, 78, "male") == pytest.approx(33.5, abs=0.05)
    derived = out["derived"]["egfr"]
    assert derived["value"] == pytest.approx(33.5, abs=0.05)
    assert derived["unit"] == "mL/min/1.73m2"
    assert derived["method"] == "CKD-EPI 2021"
    assert derived["inputs"] == ["labs.creatinine", "patient.age_years", "patient.sex"]
    # 176.8 umol/L is not > 177: R is met here only through the estimate.
    assert status(out, R_CREATININE) == "not_met"
    assert status(out, R_CLEARANCE) == "met"
    assert code(out) == "MULTIPLE_MYELOMA"
    assert "renal_insufficiency" in out["myeloma_defining_events"]
    mde_flag = next(f for f in out["flags"] if f["code"] == "MYELOMA_DEFINING_EVENT")
    assert "rests on the CKD-EPI 2021 eGFR estimate" in mde_flag["message"]


def test_the_same_creatinine_in_umol_l_gives_the_same_estimate():
    assert run(panel(q(176.8, "umol/L")))["derived"] == run(panel(q(2.0, "mg/dL")))["derived"]


def test_the_estimate_states_its_assumptions_and_asks_for_free_light_chains_when_absent():
    out = run(panel(q(2.0, "mg/dL"), flc=None, marrow=None))
    text = out["comment"]
    assert "stable creatinine" in text
    assert "not shown to be caused by the clone" in text
    urgent = [r for r in out["recommendations"] if r["code"] == "URGENT_FLC_IFE"]
    assert urgent and "serum free light chains" in urgent[0]["text"]
    assert "flc" in urgent[0]["tests"]


@pytest.mark.parametrize("unit", ["mg/dL", "umol/L"])
@pytest.mark.parametrize(
    ("offset_mg_dl", "renal"),
    [(-0.01, "not_met"), (0.01, "met")],
    ids=["creatinine_just_below_egfr_40_is_not_renal", "creatinine_just_above_egfr_40_is_renal"],
)
def test_renal_insufficiency_by_estimate_starts_just_below_an_egfr_of_40(unit, offset_mg_dl, renal):
    # A 60-year-old man: eGFR 40 at about 1.8 mg/dL, below the 2 mg/dL creatinine rule.
    scr = round(creatinine_for(40, 60, "male") + offset_mg_dl, 3)
    assert (ckd_epi_2021(scr, 60, "male") < 40) is (renal == "met")
    value = scr if unit == "mg/dL" else round(scr * 88.4, 1)
    if unit == "umol/L":  # the rounded µmol/L value stays on the same side of 40
        assert (ckd_epi_2021(value / 88.4, 60, "male") < 40) is (renal == "met")
    out = run(panel(q(value, unit), age=60))
    assert status(out, R_CLEARANCE) == renal
    assert status(out, R_CREATININE) == "not_met"
    assert code(out) == ("MULTIPLE_MYELOMA" if renal == "met" else "SMOLDERING_MYELOMA")


@pytest.mark.parametrize(("sex", "scr", "expected"), [("female", 0.7, 142 * 0.9938**50 * 1.012)])
def test_at_the_knot_the_estimate_is_the_constant_times_the_age_term(sex, scr, expected):
    out = run(panel(q(scr, "mg/dL"), age=50, sex=sex))
    assert out["derived"]["egfr"]["value"] == pytest.approx(round(expected, 1))


@pytest.mark.parametrize(
    ("age", "sex", "estimated"),
    [
        (17.9, "male", False),  # ref: §2.1 R — adults only (>= 18 years)
        (18, "male", True),
        (18.1, "female", True),
        (78, "other", False),  # ref: §2.1 R — sex female or male
        (78, "unknown", False),
        (78, None, False),
        (None, "male", False),
    ],
)
def test_the_estimate_needs_an_adult_age_and_a_female_or_male_sex(age, sex, estimated):
    out = run(panel(q(2.0, "mg/dL"), age=age, sex=sex))
    assert ("egfr" in out["derived"]) is estimated
    if not estimated:
        assert status(out, R_CLEARANCE) == "not_assessable"


@pytest.mark.parametrize(
    "sent",
    [{"creatinine_clearance": q(80, "mL/min")}, {"egfr": q(80, "mL/min/1.73m2")}],
    ids=["clearance_sent", "egfr_sent"],
)
def test_a_sent_clearance_or_egfr_is_used_and_nothing_is_estimated(sent):
    out = run(panel(q(2.0, "mg/dL"), labs=sent))
    assert out["derived"] == {}
    assert status(out, R_CLEARANCE) == "not_met"
    assert code(out) == "SMOLDERING_MYELOMA"


def test_a_creatinine_bound_gives_the_opposite_egfr_bound():
    out = run(panel(q(2.0, "mg/dL", ">")))
    assert out["derived"]["egfr"]["comparator"] == "<"
    assert status(out, R_CLEARANCE) == "met"  # every creatinine above 2 mg/dL gives eGFR < 33.5


def light_chain_screen(creatinine: dict, age: float = 60, sex: str = "male") -> dict:
    """Kappa/lambda ratio 2.0: abnormal against 0.26-1.65, normal against the renal 0.37-3.10 (§4)."""
    return complete(
        {
            "patient": {"age_years": age, "sex": sex},
            "spep": {"m_protein": q(0, "g/L")},
            "serum_ife": ife(),
            "flc": {"kappa": q(30, "mg/L"), "lambda": q(15, "mg/L"), "assay": "freelite"},
            "marrow": {"clonal_plasma_cells_percent": 3},
            "labs": {"creatinine": creatinine, "creatinine_clearance": None, "egfr": None},
        }
    )


@pytest.mark.parametrize("unit", ["mg/dL", "umol/L"])
@pytest.mark.parametrize(("offset_mg_dl", "renal_interval"), [(-0.01, False), (0.01, True)])
def test_the_estimate_below_60_selects_the_renal_flc_interval(unit, offset_mg_dl, renal_interval):
    scr = round(creatinine_for(60, 60, "male") + offset_mg_dl, 3)
    value = scr if unit == "mg/dL" else round(scr * 88.4, 1)
    assert (ckd_epi_2021((value if unit == "mg/dL" else value / 88.4), 60, "male") < 60) is renal_interval
    out = run(light_chain_screen(q(value, unit)))
    assert out["flc"]["renal_interval"] is renal_interval
    assert ("RENAL_FLC_INTERVAL_APPLIED" in flag_codes(out)) is renal_interval
    assert out["flc"]["abnormal"] is (not renal_interval)


def test_the_estimate_reaches_the_http_answer_under_derived_as_the_contract_shapes_it(client):
    from service.api.schemas import InterpretationResponseSchema

    resp = client.post("/v1/interpretations", json=panel(q(2.0, "mg/dL")))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert InterpretationResponseSchema().validate(body) == {}
    assert set(body["derived"]["egfr"]) >= {"value", "unit", "method", "inputs"}


def test_an_answer_without_an_estimate_has_an_empty_derived_object(client):
    resp = client.post(
        "/v1/interpretations", json=panel(q(2.0, "mg/dL"), labs={"egfr": q(80, "mL/min/1.73m2")})
    )
    assert resp.get_json()["derived"] == {}


@pytest.mark.parametrize(
    ("creatinine", "rests_on_estimate"), [(q(2.0, "mg/dL"), True), (q(177.1, "umol/L"), False)]
)
def test_the_myeloma_defining_event_flag_says_when_renal_insufficiency_rests_on_the_estimate_alone(
    creatinine, rests_on_estimate
):
    out = run(panel(creatinine))
    message = next(f for f in out["flags"] if f["code"] == "MYELOMA_DEFINING_EVENT")["message"]
    assert ("rests on the CKD-EPI 2021 eGFR estimate" in message) is rests_on_estimate


@pytest.mark.parametrize(
    ("clearance", "egfr", "said"),
    [
        (50, 35, True),  # the measured clearance does not meet < 40, the eGFR sent would
        (35, 50, True),  # the other way round
        (50, 40, False),  # ref: §2.1 R: 40 is not < 40: both agree
        (50, 39.9, True),
        (35, 39, False),  # both below 40
    ],
)
def test_an_egfr_that_judges_renal_insufficiency_otherwise_than_the_measured_clearance_is_said(
    clearance, egfr, said
):
    """§2.1 R accepts a measured or an estimated clearance; the measured one decides, and an eGFR sent
    beside it that would decide the other way is named in the criterion, never dropped unseen."""
    body = mgus_igg(labs={"creatinine_clearance": q(clearance, "mL/min"), "egfr": q(egfr, "mL/min/1.73m2")})
    out = run(body)
    row = next(c for c in out["criteria"] if c["id"] == R_CLEARANCE)
    assert row["status"] == ("met" if clearance < 40 else "not_met")
    assert row["value"] == clearance
    assert ("eGFR sent" in (row.get("note") or "")) is said
    if said:
        assert f"{egfr:g}" in row["note"]
