"""§2.1 Li: the FLC ratio >= 100 (involved >= 100 mg/L) biomarker was validated on Freelite. With another
assay it is not assessable, and values that would meet it are escalated, never silent."""

from __future__ import annotations

import pytest

from .helpers import code, flag, flag_codes, light_chain, mgus_igg, q, run, smm_igg, status

LI = "mde.flc_ratio_ge_100"


def with_flc(kappa: dict, lam: dict, assay: str) -> dict:
    """IgG-kappa, clonal BMPC 15 %, every other event settled."""
    return smm_igg(flc={"kappa": kappa, "lambda": lam, "assay": assay})


@pytest.mark.parametrize("assay", ["n_latex", "sebia", "other"])
@pytest.mark.parametrize(
    ("kappa", "lam", "escalated"),
    [
        (q(1000, "mg/L"), q(10, "mg/L"), True),  # ratio 100, involved 1000
        (q(100, "mg/dL"), q(1, "mg/dL"), True),  # the same in mg/dL
        (q(999, "mg/L"), q(10, "mg/L"), False),  # ratio 99.9
        (q(99.9, "mg/L"), q(0.999, "mg/L"), False),  # ratio 100, involved 99.9 mg/L
        (q(10, "mg/dL"), q(0.1, "mg/dL"), True),  # ratio 100, involved exactly 100 mg/L
    ],
    ids=["ratio_100_involved_1000", "mg_dl", "ratio_99.9", "involved_99.9", "involved_exactly_100"],
)
def test_another_assay_never_decides_the_flc_biomarker_and_escalates_values_that_would_meet_it(
    assay, kappa, lam, escalated
):
    body = with_flc(kappa, lam, assay)
    if assay == "other":
        body["flc"]["ratio_reference_range"] = {"low": 0.26, "high": 1.65}
    out = run(body)
    assert status(out, LI) == "not_assessable"
    assert code(out) == "SMOLDERING_MYELOMA"  # never myeloma on this biomarker
    assert ("FLC_SLIM_RANGE_NON_FREELITE" in flag_codes(out)) is escalated
    assert out["classification"]["provisional"] is escalated
    if escalated:
        fl = flag(out, "FLC_SLIM_RANGE_NON_FREELITE")
        assert fl["severity"] == "urgent"
        assert "hematology" in fl["refer_to"]
        assert "Freelite" in fl["message"]
        assert any(r["code"] == "URGENT_FREELITE_FLC" for r in out["recommendations"])
    assert "involved/uninvolved FLC ratio >= 100" in out["comment"].split("not assessable:", 1)[1]


@pytest.mark.parametrize(
    ("kappa", "lam", "li"),
    [(q(1000, "mg/L"), q(10, "mg/L"), "met"), (q(999, "mg/L"), q(10, "mg/L"), "not_met")],
)
def test_with_freelite_the_flc_biomarker_decides_as_published(kappa, lam, li):
    out = run(with_flc(kappa, lam, "freelite"))
    assert status(out, LI) == li
    assert code(out) == ("MULTIPLE_MYELOMA" if li == "met" else "SMOLDERING_MYELOMA")
    assert "FLC_SLIM_RANGE_NON_FREELITE" not in flag_codes(out)


# --- §2.1 Li, §2.9: a free light chain reported as a bound --------------------------------------
# Met, the SLiM ratio would be a myeloma-defining event (with clonal BMPC < 10 %: a finding that cannot
# be placed), so MGUS rests on the exact value whenever the bound leaves the criterion open.


@pytest.mark.parametrize(
    ("kappa", "lam", "li", "missing"),
    [
        (q(1000, "mg/L"), q(20, "mg/L", "<"), "not_assessable", "flc.lambda"),  # ratio > 50
        (q(150, "mg/L"), q(2, "mg/L", "<"), "not_assessable", "flc.lambda"),  # ratio > 75
        (q(90, "mg/L", ">"), q(0.8, "mg/L"), "not_assessable", "flc.kappa"),  # involved > 90
        (q(1000, "mg/L"), q(10, "mg/L", "<="), "met", None),  # ratio >= 100, involved 1000
        (q(99, "mg/L"), q(0.5, "mg/L", "<"), "not_met", None),  # involved 99 < 100 decides
        (q(99, "mg/L", "<="), q(0.5, "mg/L"), "not_met", None),  # involved <= 99 decides
        (q(999, "mg/L"), q(10, "mg/L", ">="), "not_assessable", "flc.lambda"),  # lambda side open
    ],
    ids=[
        "lambda_lt_20",
        "lambda_lt_2",
        "kappa_gt_90",
        "lambda_le_10",
        "involved_99",
        "kappa_le_99",
        "lambda_ge_10",
    ],
)
def test_a_bound_that_leaves_the_flc_biomarker_open_keeps_mgus_provisional(kappa, lam, li, missing):
    out = run(mgus_igg(flc={"kappa": kappa, "lambda": lam, "assay": "freelite"}))
    assert status(out, LI) == li
    if li == "met":
        assert code(out) == "INDETERMINATE"  # an MDE with clonal BMPC 5 % and no plasmacytoma
        assert "MYELOMA_DEFINING_EVENT" in flag_codes(out)
        return
    assert code(out) == "MGUS_NON_IGM"
    assert ("FLC ratio >= 100 not excluded" in out["comment"]) is (missing is not None)
    if missing:
        assert out["classification"]["provisional"] is True
        assert missing in out["missing_data"]


@pytest.mark.parametrize(("lam", "open_"), [(q(20, "mg/L", "<"), True), (q(9.8, "mg/L"), False)])
def test_light_chain_mgus_waits_for_the_exact_uninvolved_chain(lam, open_):
    out = run(light_chain(q(980, "mg/L"), lam))
    assert status(out, LI) == ("not_assessable" if open_ else "met")
    if open_:
        assert code(out) == "MGUS_LIGHT_CHAIN"
        assert out["classification"]["provisional"] is True
        assert "flc.lambda" in out["missing_data"]
