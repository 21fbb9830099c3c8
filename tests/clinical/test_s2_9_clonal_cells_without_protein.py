"""§2.9 / §2.2-§2.4: clonal marrow plasma cells show a clone even when serum and urine immunofixation and the
FLC ratio find no monoclonal protein. The reference places no category on a clone below 10 % without a
protein, so the conservative answer is INDETERMINATE, never "no monoclonal protein detected"; total plasma
cells by morphology do not show clonality and leave the negative screen as it is."""

from __future__ import annotations

import pytest

from .helpers import code, light_chain, q, run


def negative_screen(marrow: dict) -> dict:
    b = light_chain(q(15, "mg/L"), q(12, "mg/L"))  # ratio 1.25: within 0.26-1.65
    b["marrow"] = marrow  # replaces the helper's marrow
    return b


@pytest.mark.parametrize("clonal", [0.1, 5, 9.9])
def test_clonal_marrow_plasma_cells_below_10_percent_never_read_as_no_monoclonal_protein(clonal):
    out = run(negative_screen({"clonal_plasma_cells_percent": clonal}))
    assert code(out) == "INDETERMINATE"
    assert "clonal marrow plasma cells" in out["classification"]["label"]
    assert "No monoclonal protein detected" not in out["comment"]


def test_no_clonal_plasma_cells_leave_a_complete_negative_screen_as_no_monoclonal_protein():
    out = run(negative_screen({"clonal_plasma_cells_percent": 0}))
    assert code(out) == "NO_MONOCLONAL_PROTEIN"
    assert out["classification"]["provisional"] is False


def test_total_plasma_cells_by_morphology_alone_do_not_show_a_clone():
    out = run(negative_screen({"plasma_cells_percent": 5}))
    assert code(out) == "NO_MONOCLONAL_PROTEIN"


def test_clonal_cells_with_an_flc_ratio_the_renal_function_leaves_open_ask_for_the_egfr():
    b = negative_screen({"clonal_plasma_cells_percent": 5})
    b["flc"] = {"kappa": q(30, "mg/L"), "lambda": q(10, "mg/L"), "assay": "freelite"}
    b["labs"]["egfr"] = q(90, "mL/min/1.73m2", "<")
    b["labs"].pop("creatinine_clearance", None)
    out = run(b)
    assert code(out) == "INDETERMINATE"
    assert out["classification"]["provisional"] is True
    assert "labs.egfr" in out["missing_data"]
