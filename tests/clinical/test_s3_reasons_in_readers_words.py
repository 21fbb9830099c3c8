"""§3.1-§3.4 and §2.9: reader-facing text names categories and data in words, never by code or field path."""

from __future__ import annotations

from .helpers import mgus_igg, risk, run


def test_a_smouldering_myeloma_model_beside_an_mgus_names_the_category_in_words():
    out = run(mgus_igg())
    reason = risk(out, "smm_mayo_2018")["reason"]
    assert "MGUS_NON_IGM" not in reason
    assert "monoclonal gammopathy of undetermined significance" in reason


def test_the_request_for_missing_data_names_the_data_in_words_and_keeps_the_fields_as_tests():
    b = mgus_igg()
    b["spep"] = {"m_protein": {"value": 16, "unit": "g/L", "comparator": "<"}}
    out = run(b)
    rec = next(r for r in out["recommendations"] if r["code"] == "COMPLETE_WORKUP")
    assert "spep.m_protein" in rec["tests"]
    assert "(spep.m_protein)" not in rec["text"]
    assert "spep." not in rec["text"]
