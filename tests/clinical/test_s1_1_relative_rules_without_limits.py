"""§1.1: a relative rule whose reference limit was not sent ("> 0.25 mmol/L above the ULN", "> 20 g/L below
the LLN") is not met only when no plausible limit could meet it; otherwise it is not assessable and holds
the category open (calcium ULN 2.45-2.80 mmol/L; haemoglobin LLN female 100-125, male 115-140, else
100-140 g/L)."""

from __future__ import annotations

import pytest

from .helpers import code, q, run, smm_igg, status

CA_ULN = "mde.hypercalcemia.above_uln"
HB_LLN = "mde.anemia.below_lln"


def smm_with(sex: str | None = "male", **labs) -> dict:
    """IgG-kappa, clonal BMPC 15 %, every other event settled: SMM unless the lab value decides."""
    body = smm_igg(labs=labs)
    if sex is None:
        body["patient"].pop("sex")
    else:
        body["patient"]["sex"] = sex
    return body


# 2.70 mmol/L = 10.821 mg/dL (÷ 4.0078, §1).
@pytest.mark.parametrize(
    ("calcium", "uln_rule", "category", "provisional"),
    [
        (q(2.35, "mmol/L"), "not_met", "SMOLDERING_MYELOMA", False),
        (q(2.70, "mmol/L"), "not_met", "SMOLDERING_MYELOMA", False),
        (q(2.71, "mmol/L"), "not_assessable", "SMOLDERING_MYELOMA", True),
        (q(2.74, "mmol/L"), "not_assessable", "SMOLDERING_MYELOMA", True),
        (q(2.75, "mmol/L"), "not_assessable", "SMOLDERING_MYELOMA", True),
        (q(2.76, "mmol/L"), "not_assessable", "MULTIPLE_MYELOMA", False),  # > 2.75 absolute
        (q(10.82, "mg/dL"), "not_met", "SMOLDERING_MYELOMA", False),
        (q(10.83, "mg/dL"), "not_assessable", "SMOLDERING_MYELOMA", True),
        (q(2.70, "mmol/L", "<="), "not_met", "SMOLDERING_MYELOMA", False),
        (q(2.75, "mmol/L", "<"), "not_assessable", "SMOLDERING_MYELOMA", True),
    ],
    ids=[
        "calcium_2.35_settles",
        "calcium_exactly_2.70_cannot_exceed_any_plausible_uln",
        "calcium_2.71_could_exceed_a_uln_of_2.45",
        "calcium_2.74_holds_the_category_open",
        "calcium_2.75_holds_the_category_open",
        "calcium_2.76_is_hypercalcaemia_whatever_the_uln",
        "calcium_10.82_mgdl_is_below_2.70_and_settles",
        "calcium_10.83_mgdl_is_above_2.70_and_holds_open",
        "calcium_bound_at_most_2.70_settles",
        "calcium_bound_below_2.75_holds_open",
    ],
)
def test_a_calcium_without_its_uln_is_settled_only_when_no_plausible_uln_could_make_it_hypercalcaemia(
    calcium, uln_rule, category, provisional
):
    out = run(smm_with(calcium=calcium))
    assert status(out, CA_ULN) == uln_rule
    assert code(out) == category
    assert out["classification"]["provisional"] is provisional
    # "< 2.75" rules out the absolute rule (> 2.75): the ULN is what would settle it.
    assert ("labs.calcium.reference_range" in out["missing_data"]) is provisional


def test_a_calcium_of_2_74_with_the_laboratory_uln_of_2_45_is_hypercalcaemia():
    out = run(smm_with(calcium=q(2.74, "mmol/L", rr=(2.15, 2.45))))
    assert status(out, CA_ULN) == "met"
    assert code(out) == "MULTIPLE_MYELOMA"


def test_the_comment_names_hypercalcaemia_as_not_assessable_and_the_range_that_would_settle_it():
    out = run(smm_with(calcium=q(2.74, "mmol/L")))
    assert "not assessable: hypercalcaemia" in out["comment"]
    assert "No myeloma-defining event." not in out["comment"]
    assert "calcium reference range" in out["comment"]


# Haemoglobin: not met when >= LLN window top - 20: female 105, male 120, other/unknown 120 g/L.
@pytest.mark.parametrize(
    ("sex", "hb", "lln_rule"),
    [
        ("female", q(105, "g/L"), "not_met"),
        ("female", q(104.9, "g/L"), "not_assessable"),
        ("female", q(10.5, "g/dL"), "not_met"),
        ("female", q(10.49, "g/dL"), "not_assessable"),
        ("male", q(120, "g/L"), "not_met"),
        ("male", q(119.9, "g/L"), "not_assessable"),
        ("male", q(12.0, "g/dL"), "not_met"),
        ("male", q(11.99, "g/dL"), "not_assessable"),
        ("other", q(120, "g/L"), "not_met"),
        ("other", q(119.9, "g/L"), "not_assessable"),
        ("unknown", q(105, "g/L"), "not_assessable"),  # the wider window: 105 could be 20 below 140
        (None, q(120, "g/L"), "not_met"),
        (None, q(119.9, "g/L"), "not_assessable"),
    ],
)
def test_a_haemoglobin_without_its_lln_is_settled_only_when_no_plausible_lln_of_that_sex_could_meet_it(
    sex, hb, lln_rule
):
    out = run(smm_with(sex=sex, hemoglobin=hb))
    assert status(out, HB_LLN) == lln_rule
    assert status(out, "mde.anemia.absolute") == "not_met"
    assert code(out) == "SMOLDERING_MYELOMA"
    assert out["classification"]["provisional"] is (lln_rule == "not_assessable")
    assert ("labs.hemoglobin.reference_range" in out["missing_data"]) is (lln_rule == "not_assessable")


@pytest.mark.parametrize(
    ("hb", "category"), [(q(99.9, "g/L"), "MULTIPLE_MYELOMA"), (q(9.99, "g/dL"), "MULTIPLE_MYELOMA")]
)
def test_a_haemoglobin_below_100_is_anaemia_whatever_the_lln(hb, category):
    out = run(smm_with(sex="female", hemoglobin=hb))
    assert status(out, "mde.anemia.absolute") == "met"
    assert code(out) == category


def test_an_igm_mgus_with_a_haemoglobin_a_plausible_lln_could_make_anaemia_is_provisional():
    from .helpers import igm

    body = igm(labs={"hemoglobin": q(110, "g/L")}, patient={"age_years": 70, "sex": "male"})
    out = run(body)
    assert code(out) == "MGUS_IGM"
    assert out["classification"]["provisional"] is True
    assert "labs.hemoglobin.reference_range" in out["missing_data"]


@pytest.mark.parametrize(
    ("field", "value", "rr", "rule"),
    [
        # >= 100 with LLN 130: 100 <= hb; "> 20 below the LLN" is hb < 110, undecided by the bound
        ("hemoglobin", q(100, "g/L", ">=", rr=(130, 170)), "labs.hemoglobin", HB_LLN),
        # >= 2.70 with ULN 2.55: neither > 2.75 nor "> 0.25 above" (> 2.80) is decided by the bound
        ("calcium", q(2.70, "mmol/L", ">=", rr=(2.15, 2.55)), "labs.calcium", CA_ULN),
    ],
)
def test_a_bound_beside_the_laboratory_limit_asks_for_the_exact_value_not_the_limit(field, value, rr, rule):
    """The limit was sent: what leaves the relative rule open is the bound, so the exact value is asked
    for (never the reference range the request already carries)."""
    out = run(smm_with(**{field: value}))
    assert status(out, rule) == "not_assessable"
    assert rr in out["missing_data"]
    assert f"{rr}.reference_range" not in out["missing_data"]
