"""§2.9 (and the §6 worked example): screening results, marrow and flow figures, and how the report
names what is missing."""

from __future__ import annotations

import pytest

from .bodies import IGM_KAPPA, LABS, B, b, flags, post


@pytest.mark.parametrize("body", [{"spep": {}}, {"urine": {}}, {"flc": {}}, {"spep": {"m_protein": None}}])
def test_an_empty_screening_section_is_not_a_result(client, body):
    resp = client.post("/v1/interpretations", json=body)
    assert resp.status_code == 422 and "_schema" in resp.get_json()["errors"]


def test_the_comment_never_prints_an_infinite_ratio(client):
    flc = {"kappa": {"value": 10, "unit": "mg/L"}, "lambda": {"value": 0, "unit": "mg/L"}}
    out = post(client, b(flc=flc))
    assert "inf" not in out["comment"].replace("infiltrat", "")


def test_the_comment_asks_for_the_marrow_once_in_its_own_words(client):
    body = b(labs=dict(LABS, hemoglobin={"value": 89, "unit": "g/L"}))
    body.pop("marrow")
    out = post(client, body)
    assert out["classification"]["code"] == "INDETERMINATE"
    assert "MARROW_EXAMINATION" in {r["code"] for r in out["recommendations"]}
    assert "Bone-marrow aspirate and biopsy (clinical-reference" not in out["comment"]
    assert "bone-marrow aspirate and biopsy are needed urgently" in out["comment"]


@pytest.mark.parametrize(
    ("flow", "asked", "category"),
    # ref: §2.9 — a flow figure >= 10 % rules out a final MGUS label (INDETERMINATE until morphology).
    [(9.9, False, "MGUS_NON_IGM"), (10, True, "INDETERMINATE"), (70, True, "INDETERMINATE")],
)
def test_a_flow_figure_at_or_above_10_percent_asks_for_the_marrow_even_in_low_risk_mgus(
    client, flow, asked, category
):
    body = b(marrow={"flow_plasma_cells_percent": flow})
    out = post(client, body)
    assert out["classification"]["code"] == category
    assert ("MARROW_EXAMINATION_RECOMMENDED" in flags(out)) is asked
    if not asked:
        assert out["risk"]["mgus_mayo_2005"]["group"] == "low"
        follow_up = next(r["text"] for r in out["recommendations"] if r["code"] == "FOLLOW_UP")
        assert "not routinely indicated" in follow_up
    assert ("marrow.clonal_plasma_cells_percent" in out["missing_data"]) is True
    # §2.9: the flow figure itself never decides a threshold.
    assert all(c["value"] != flow for c in out["criteria"] if c["id"].startswith("mde.bmpc"))


@pytest.mark.parametrize(("spike", "referred"), [(29.9, False), (30, True)])  # ref: §2.3/§2.5: 30 g/L
def test_a_spike_without_immunofixation_is_referred_from_30_g_per_litre(client, spike, referred):
    out = post(client, {"spep": {"m_protein": {"value": spike, "unit": "g/L"}}})
    assert out["classification"]["code"] == "INDETERMINATE"
    assert ("HEMATOLOGY_REFERRAL" in flags(out)) is referred


def test_an_indeterminate_category_that_waits_for_a_marrow_is_provisional(client):
    body = b(labs={**LABS, "hemoglobin": {"value": 85, "unit": "g/L"}})
    del body["marrow"]
    out = post(client, body)
    assert out["classification"]["code"] == "INDETERMINATE"
    assert out["classification"]["provisional"] is True
    assert "marrow.clonal_plasma_cells_percent" in out["missing_data"]


def test_the_worked_example_comment_does_not_call_a_measured_creatinine_not_assessable(client):
    import json
    import pathlib

    example = json.loads(
        (pathlib.Path(__file__).parents[2] / "examples" / "worked-example-s6.json").read_text()
    )
    out = post(client, example)
    assert "renal insufficiency" not in out["comment"].split("not assessable:")[-1].split(".")[0]


@pytest.mark.parametrize(
    "body",
    [
        {"serum_ife": IGM_KAPPA},
        {"spep": {"m_protein": {"value": 10, "unit": "g/L"}}, "serum_ife": B["serum_ife"]},
        {"serum_ife": {"result": "positive", "clones": [{"heavy_chain": None, "light_chain": "lambda"}]}},
        {"spep": {"m_protein": {"value": 45, "unit": "g/L"}}, "clinical": {"scleromyxedema": "confirmed"}},
    ],
)
def test_the_comment_names_missing_data_in_words_and_the_work_up_keeps_the_field_paths(client, body):
    import re

    out = post(client, body)
    assert out["missing_data"] and "Not assessable without: " in out["comment"]
    sentence = out["comment"].split("Not assessable without: ")[-1].split(".")[0]
    assert not re.search(r"\b[a-z_]+\.[a-z_]+", sentence), sentence
    workup = next(r for r in out["recommendations"] if r["code"] == "COMPLETE_WORKUP")
    # The work-up names the data in words; its tests carry the field paths (a reader never sees a path).
    assert workup["tests"] and not re.search(r"\b[a-z_]+\.[a-z_]+", workup["text"]), workup["text"]


def test_every_field_missing_data_can_name_has_words():
    import importlib.util
    import json
    import pathlib

    from service.domain.words import FIELD_WORDS

    spec = importlib.util.spec_from_file_location(
        "golden", pathlib.Path(__file__).parents[2] / "bench" / "golden.py"
    )
    golden = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(golden)
    named = {m for line in golden.outputs(600, 3) for m in json.loads(line)["missing_data"]}
    assert named and named <= set(FIELD_WORDS), named - set(FIELD_WORDS)
