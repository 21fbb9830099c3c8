"""The table of criteria: every criterion an answer carries is a row whose wording is its own operator and
cut-off, and whose cut-off is the cited constant the engine compares with."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.domain import criteria as C
from service.domain import ruleset as R
from service.domain.criteria import ROWS, fmt

DOMAIN = Path(C.__file__).resolve().parent


@pytest.mark.parametrize("row", [r for r in ROWS if r.op is not None], ids=lambda r: r.id)
def test_a_compared_row_words_its_own_operator_and_cut_off(row):
    text = row.threshold
    assert row.op in text and fmt(row.cutoff) in text
    assert text.index(row.op) < text.index(fmt(row.cutoff))


@pytest.mark.parametrize(
    "row", [r for r in ROWS if r.op is None and r.cutoff is not None], ids=lambda r: r.id
)
def test_a_range_row_words_both_ends(row):
    assert f"{fmt(row.cutoff)}-{fmt(row.high)}" in row.threshold


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r.id}{r.section}")
def test_every_row_cites_its_section_in_its_source(row):
    assert row.source.endswith(f"clinical-reference {row.section}")
    assert re.fullmatch(r"§\d(\.\d)?", row.section)


def test_the_cut_offs_are_the_cited_constants():
    assert C.CA_ABSOLUTE.cutoff is R.CALCIUM_ABSOLUTE_MMOL_L
    assert C.CREATININE.cutoff is R.CREATININE_UMOL_L
    assert C.CLEARANCE.cutoff is R.CREATININE_CLEARANCE_ML_MIN
    assert C.HB_ABSOLUTE.cutoff is R.HEMOGLOBIN_ABSOLUTE_G_L
    assert C.URINE_500.cutoff is R.URINE_M_PROTEIN_MG_24H
    assert C.SERUM_30.cutoff is R.SERUM_M_PROTEIN_G_L


def test_calcium_above_the_uln_is_worded_with_the_laboratory_limit():
    assert C.CA_ABOVE_ULN.with_limit(R.D("2.80")) == "> ULN + 0.25 mmol/L (> 2.8 mmol/L)"


def test_only_the_table_builds_criteria():
    """No module outside criteria.py writes a criterion's id, wording or source inline."""
    for path in DOMAIN.glob("*.py"):
        if path.name in ("criteria.py", "results.py"):
            continue
        text = path.read_text()
        assert "Criterion(" not in text, path.name
        assert "_new(Criterion" not in text, path.name


def test_grep_from_section_2_6_finds_its_rows():
    text = (DOMAIN / "criteria.py").read_text()
    ids = {r.id for r in ROWS if r.section == "§2.6"}
    assert ids == {"flc_ratio_abnormal", "involved_flc_raised"}
    assert text.count('"§2.6"') == len(ids)
