"""§3.1 with §4: the Mayo 2005 FLC factor (< 0.26 or > 1.65) is Freelite-based. With another assay the
factor is present or absent only when the assay's own interval gives the same verdict; otherwise it is
unknown, the group is open, and a Freelite measurement is asked for: the comment never calls one ratio
abnormal and the risk group "low ... normal FLC ratio"."""

from __future__ import annotations

import pytest

from .helpers import factor, mgus_igg, q, risk, run


def panel(kappa: float, lam: float, assay: str, unit: str = "mg/L") -> dict:
    scale = 10 if unit == "mg/dL" else 1
    return mgus_igg(flc={"kappa": q(kappa / scale, unit), "lambda": q(lam / scale, unit), "assay": assay})


@pytest.mark.parametrize("unit", ["mg/L", "mg/dL"])
@pytest.mark.parametrize(
    ("assay", "kappa", "lam", "status", "groups"),
    [
        ("n_latex", 15.6, 10, "absent", ["low"]),  # 1.56: normal on 0.31-1.56 and on 0.26-1.65
        ("n_latex", 15.7, 10, "unknown", ["low", "low_intermediate"]),  # 1.57: abnormal on N Latex only
        ("n_latex", 16.5, 10, "unknown", ["low", "low_intermediate"]),  # 1.65: not > 1.65
        ("n_latex", 16.6, 10, "present", ["low_intermediate"]),  # 1.66: abnormal on both
        ("n_latex", 3.1, 10, "absent", ["low"]),  # 0.31: normal on both
        ("n_latex", 3.0, 10, "unknown", ["low", "low_intermediate"]),  # 0.30: abnormal on N Latex only
        ("n_latex", 2.5, 10, "present", ["low_intermediate"]),  # 0.25: abnormal on both
        ("sebia", 14.4, 10, "absent", ["low"]),  # 1.44: normal on 0.37-1.44 and on 0.26-1.65
        ("sebia", 14.5, 10, "unknown", ["low", "low_intermediate"]),  # 1.45
        ("sebia", 16.6, 10, "present", ["low_intermediate"]),  # 1.66
    ],
)
def test_a_non_freelite_ratio_is_a_mayo_factor_only_where_both_intervals_agree(
    unit, assay, kappa, lam, status, groups
):
    out = run(panel(kappa, lam, assay, unit))
    assert factor(out, "mgus_mayo_2005", "abnormal_flc_ratio")["status"] == status
    assert risk(out, "mgus_mayo_2005")["possible_groups"] == groups
    if status == "unknown":
        assert "flc.assay" in out["missing_data"]
        assert "Low-risk MGUS" not in out["comment"]


def test_a_freelite_ratio_of_1_66_is_a_mayo_factor_whatever_else():
    out = run(panel(16.6, 10, "freelite"))
    assert factor(out, "mgus_mayo_2005", "abnormal_flc_ratio")["status"] == "present"
