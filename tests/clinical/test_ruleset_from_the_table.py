"""The ruleset a laboratory reads (GET /v1/ruleset) is the table the engine evaluates: every criterion an
answer carries is published with its operator and cut-off, and a cut-off changed in its one place
changes the answer's outcome, its wording and the ruleset together."""

from __future__ import annotations

import importlib
import subprocess
from decimal import Decimal

import pytest

from service.domain import criteria as C
from service.domain import ruleset as R
from service.domain.criteria import fmt

from .helpers import ROOT, complete, igm, light_chain, mgus_igg, q, run, s6_body, smm_igg


def _bodies() -> list[dict]:
    """Panels that between them reach every group of criteria (MDE, myeloma, IgM, light chain, §5)."""
    sclero = mgus_igg(
        clinical={"scleromyxedema": "confirmed", "papular_eruption": True, "sclerodermoid_induration": True}
    )
    return [
        mgus_igg(),
        smm_igg(),
        igm(),
        light_chain(q(120, "mg/L", rr=(3.3, 19.4)), q(10, "mg/L", rr=(5.7, 26.3))),
        s6_body(),
        sclero,
        {"spep": {"m_protein": q(12, "g/L")}},
    ]


def test_every_criterion_an_answer_carries_is_a_rule_of_the_ruleset(client):
    published = {r["id"] for r in client.get("/v1/ruleset").get_json()["rules"]}
    carried = {c["id"] for body in _bodies() for c in run(body)["criteria"]}
    assert carried <= C.IDS
    assert C.IDS <= published, C.IDS - published


def test_the_panels_above_reach_every_criterion_of_the_table():
    carried = {c["id"] for body in _bodies() for c in run(body)["criteria"]}
    assert carried == C.IDS, C.IDS - carried


def test_every_published_criterion_words_its_operator_and_cut_off(client):
    rules = {r["id"]: r for r in client.get("/v1/ruleset").get_json()["rules"]}
    for row in C.ROWS:
        rule = rules[row.id]
        assert row.section in rule["section"]
        if row.op is not None:
            assert row.op in rule["description"] and fmt(rule["cutoff"]) in rule["description"], rule
            assert rule["operator"] == row.op and rule["cutoff"] == float(row.cutoff)


def test_grep_for_section_2_6_finds_the_light_chain_mgus_rows():
    out = subprocess.run(
        ["grep", "-B1", "§2.6", str(ROOT / "service" / "domain" / "criteria.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # Each row names its id on the line above its section.
    assert '"flc_ratio_abnormal",' in out and '"involved_flc_raised",' in out
    assert sum('"§2.6"' in line for line in out.splitlines()) == 2


@pytest.fixture
def calcium_cut_off_2_80(monkeypatch):
    """The §2.1 C absolute calcium cut-off moved from 2.75 to 2.80 mmol/L in ruleset.py alone."""
    monkeypatch.setattr(R, "CALCIUM_ABSOLUTE_MMOL_L", Decimal("2.80"))
    importlib.reload(C)
    yield
    monkeypatch.undo()
    importlib.reload(C)


def _calcium(value: float) -> dict:
    # A ULN of 2.60 keeps the relative rule (> ULN + 0.25 = 2.85) out of the way.
    return complete(
        {"spep": {"m_protein": q(12, "g/L")}, "labs": {"calcium": q(value, "mmol/L", rr=(2.2, 2.6))}}
    )


def _absolute(answer: dict) -> dict:
    return next(c for c in answer["criteria"] if c["id"] == "mde.hypercalcemia.absolute")


def test_calcium_2_78_is_above_the_published_cut_off_of_2_75():
    crit = _absolute(run(_calcium(2.78)))
    assert crit["status"] == "met" and crit["threshold"].startswith("> 2.75 mmol/L")


def test_a_cut_off_changed_in_one_place_changes_outcome_wording_and_ruleset_together(calcium_cut_off_2_80):
    below, at, above = (_absolute(run(_calcium(v))) for v in (2.78, 2.80, 2.81))
    assert (below["status"], at["status"], above["status"]) == ("not_met", "not_met", "met")
    assert below["threshold"].startswith("> 2.8 mmol/L")
    from service.domain.ruleset import describe

    rules = {r["id"]: r for r in describe()["rules"]}
    assert rules["mde.hypercalcemia.absolute"]["cutoff"] == 2.8
    assert rules["mde.hypercalcemia.absolute"]["description"].startswith("> 2.8 mmol/L")
    assert "> 2.8 mmol/L" in rules["mde.hypercalcemia"]["description"]
