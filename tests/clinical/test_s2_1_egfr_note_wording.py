"""§2.1 R: the note on the CKD-EPI 2021 estimate says that older patients often have an eGFR below 40 from
other causes only beside an estimate that could be below 40, never beside a normal estimate."""

from __future__ import annotations

import pytest

from .helpers import mgus_igg, q, run
from .test_s2_1_renal_without_estimate import UMOL_PER_MG_DL, creatinine_mg_dl_for

OTHER_CAUSES = "many older patients have an eGFR below 40 from other causes"


def body(creatinine: dict, age: int, sex: str) -> dict:
    b = mgus_igg(labs={"creatinine": creatinine, "creatinine_clearance": None, "egfr": None})
    b["patient"] = {"age_years": age, "sex": sex}
    return b


def test_a_34_year_old_with_an_estimate_of_116_gets_no_sentence_about_older_patients():
    out = run(body(q(60, "umol/L"), 34, "female"))
    assert out["derived"]["egfr"]["value"] > 100
    assert OTHER_CAUSES not in out["comment"]
    assert "assumes a stable creatinine" in out["comment"]


@pytest.mark.parametrize("unit", ["mg/dL", "umol/L"])
@pytest.mark.parametrize(("offset", "said"), [(-0.01, False), (0.01, True)])
def test_the_other_causes_sentence_appears_only_below_an_estimate_of_40(unit, offset, said):
    edge = creatinine_mg_dl_for(40, 70, "male") + offset
    value = edge if unit == "mg/dL" else edge * UMOL_PER_MG_DL
    out = run(body(q(value, unit), 70, "male"))
    assert (out["derived"]["egfr"]["value"] < 40) is said
    assert (OTHER_CAUSES in out["comment"]) is said
