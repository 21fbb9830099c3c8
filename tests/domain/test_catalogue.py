"""Flags and recommendations are codes from one catalogue; no module reads another's words."""

from __future__ import annotations

import re
from pathlib import Path

from service.domain import catalogue
from service.domain.catalogue import FLAGS, RECOMMENDATIONS
from service.domain.catalogue import tests_words as words_of

DOMAIN = Path(catalogue.__file__).resolve().parent
SOURCES = {p.name: p.read_text() for p in DOMAIN.glob("*.py")}


def test_only_the_catalogue_builds_flags_so_severity_and_referral_are_the_catalogues():
    for name, text in SOURCES.items():
        if name not in ("catalogue.py", "results.py"):
            assert not re.search(r"\bFlag\(", text), name


def test_every_flag_raised_is_in_the_catalogue():
    raised = {m for text in SOURCES.values() for m in re.findall(r'FLAGS\["([A-Z_]+)"\]', text)}
    assert raised and raised <= FLAGS.keys()
    assert FLAGS.keys() <= raised, FLAGS.keys() - raised


def test_every_recommendation_code_is_in_the_catalogue():
    codes = {m for text in SOURCES.values() for m in re.findall(r'Recommendation\(\s*"([A-Z_]+)"', text)}
    assert codes and codes == RECOMMENDATIONS.keys()


def test_no_module_inspects_the_words_of_another():
    assert '"bone-marrow aspirate" in' not in SOURCES["advice.py"]
    assert ".replace(" not in SOURCES["interpret.py"]
    assert 'startswith("serum")' not in SOURCES["flags.py"]


def test_missing_tests_are_named_in_words_only_when_rendered():
    assert words_of(["serum_ife", "flc"], " and ") == "serum immunofixation and serum free light chains"


def test_the_ruleset_publishes_the_catalogue(client):
    body = client.get("/v1/ruleset").get_json()
    assert {f["code"] for f in body["flags"]} == FLAGS.keys()
    assert {r["code"] for r in body["recommendations"]} == RECOMMENDATIONS.keys()
    crab = next(f for f in body["flags"] if f["code"] == "CRAB_WITHOUT_MONOCLONAL_PROTEIN")
    assert crab["severity"] == "urgent" and crab["otherwise"] == {"severity": "info", "refer_to": []}


def test_the_non_freelite_flags_word_the_slim_threshold_from_its_row():
    from service.domain import criteria as C
    from service.domain.criteria import fmt

    row = C.FLC_RATIO_100
    for code in ("NON_FREELITE_ASSAY", "FLC_SLIM_RANGE_NON_FREELITE"):
        template = FLAGS[code].template or ""
        assert f"ratio {row.op} {fmt(row.cutoff)}" in template
        assert f"{row.op} {fmt(row.alt)} {row.alt_unit}" in template


def test_a_fixed_message_is_rendered_from_its_template():
    flag = FLAGS["DERMATO_NEURO_SYNDROME"].render(signs="fever")
    assert flag.message.startswith("Scleromyxoedema with fever: possible dermato-neuro syndrome")
    assert flag.severity == "urgent" and "emergency" in flag.refer_to
