"""§2.8: a biopsy-proven plasmacytoma with clonal BMPC >= 10 % is multiple myeloma (not solitary plasmacytoma,
not smouldering myeloma); on total plasma cells by morphology alone, "myeloma likely; confirm clonality"."""

from __future__ import annotations

import pytest

from .helpers import code, flag_codes, merge, mgus_igg, run


def plasmacytoma(marrow: dict) -> dict:
    """IgG-kappa 12 g/L, biopsy-proven plasmacytoma, no myeloma-defining event."""
    body = mgus_igg(clinical={"plasmacytoma": True})
    body["marrow"] = marrow
    return merge(body, {"imaging": {"osteolytic_lesions": 0, "mri_focal_lesions": 0}})


@pytest.mark.parametrize(
    ("clonal", "category"),
    [(9.9, "SOLITARY_PLASMACYTOMA"), (10, "MULTIPLE_MYELOMA"), (12, "MULTIPLE_MYELOMA")],
    ids=["clonal_9.9_is_minimal_involvement", "clonal_exactly_10_is_myeloma", "clonal_12_is_myeloma"],
)
def test_a_plasmacytoma_with_clonal_marrow_plasma_cells_of_10_percent_or_more_is_myeloma(clonal, category):
    out = run(plasmacytoma({"clonal_plasma_cells_percent": clonal}))
    assert code(out) == category
    assert out["classification"]["provisional"] is False
    assert out["myeloma_defining_events"] == []
    assert "HEMATOLOGY_REFERRAL" in flag_codes(out)
    if category == "MULTIPLE_MYELOMA":
        assert "§2.8" in " ".join(out["classification"]["reasons"])
        assert out["risk"]["smm_mayo_2018"]["applies"] is False  # not smouldering myeloma


@pytest.mark.parametrize(("morphology", "category"), [(9.9, "SOLITARY_PLASMACYTOMA"), (10, "INDETERMINATE")])
def test_a_plasmacytoma_with_10_percent_plasma_cells_by_morphology_only_asks_to_confirm_clonality(
    morphology, category
):
    out = run(plasmacytoma({"plasma_cells_percent": morphology}))
    assert code(out) == category
    if category == "INDETERMINATE":
        assert "myeloma likely; confirm clonality" in out["classification"]["label"]
        assert "marrow.clonal_plasma_cells_percent" in out["missing_data"]
        assert "HEMATOLOGY_REFERRAL" in flag_codes(out)
