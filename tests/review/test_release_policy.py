"""Every answer carries its release under the laboratory's policy: only a complete negative screen
without flags, not provisional, is released automatically by default; everything else waits for a
reviewer, with the reasons. The store being off changes nothing."""

from __future__ import annotations

import pytest

from service.adapters.release import ReleasePolicyError, load_policy, parse_policy
from service.api import create_app

from .conftest import body


@pytest.fixture
def stateless():
    return create_app({"TESTING": True, "DEV_MODE": True, "STORE": "off"}).test_client()


def interpret(client, payload):
    payload.pop("patient_ref", None)
    resp = client.post("/v1/interpretations", json=payload)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def test_a_complete_negative_screen_without_flags_is_released_automatically(stateless):
    answer = interpret(stateless, body("negative"))
    assert answer["classification"]["code"] == "NO_MONOCLONAL_PROTEIN"
    assert answer["release"]["status"] == "auto"
    assert "release policy" in answer["release"]["reasons"][0]


@pytest.mark.parametrize(
    ("left_out", "named"),
    [("flc", "serum free light chains"), ("serum_ife", "serum immunofixation"), ("spep", "SPEP")],
)
def test_a_negative_screen_missing_one_of_its_three_tests_waits_for_review(stateless, left_out, named):
    payload = body("negative")
    del payload[left_out]
    answer = interpret(stateless, payload)
    assert answer["classification"]["code"] == "NO_MONOCLONAL_PROTEIN"
    assert answer["release"]["status"] == "review_required"
    assert any(named in r and "§2.9" in r for r in answer["release"]["reasons"])


def test_any_other_category_waits_for_review_and_says_why(stateless):
    answer = interpret(stateless, body("mgus"))
    assert answer["classification"]["code"] == "MGUS_NON_IGM"
    assert answer["release"] == {
        "status": "review_required",
        "reasons": ["MGUS_NON_IGM is not released automatically under the laboratory's release policy."],
    }


def test_a_flag_holds_an_otherwise_releasable_answer(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nauto_release:\n"
        "  - {category: MGUS_NON_IGM, complete_screen: true, provisional: true, flags: []}\n"
    )
    client = create_app(
        {"TESTING": True, "DEV_MODE": True, "STORE": "off", "RELEASE_POLICY_FILE": str(policy)}
    )
    s6 = interpret(client.test_client(), body("s6"))  # MGUS with the MGCS flag
    assert s6["release"]["status"] == "review_required"
    assert any("MGCS_SCLEROMYXEDEMA" in r for r in s6["release"]["reasons"])
    plain = interpret(client.test_client(), body("mgus"))
    assert plain["release"]["status"] == "auto"


def test_the_policy_file_is_read_from_the_environment(tmp_path, monkeypatch):
    policy = tmp_path / "none.yaml"
    policy.write_text("version: 1\nauto_release: []\n")
    monkeypatch.setenv("MGI_RELEASE_POLICY_FILE", str(policy))
    client = create_app({"TESTING": True, "DEV_MODE": True, "STORE": "off"}).test_client()
    assert interpret(client, body("negative"))["release"]["status"] == "review_required"


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ({"version": 1, "auto_release": [{"category": "NOPE"}]}, "not a classification code"),
        ({"version": 2, "auto_release": []}, "'version' must be 1"),
        ({"version": 1, "auto_release": [{"category": "MGUS_IGM", "colour": "red"}]}, "unknown field"),
        ({"version": 1, "auto_release": [{"category": "MGUS_IGM", "provisional": "no"}]}, "true or false"),
        ({"version": 1, "rules": []}, "unknown field"),
    ],
)
def test_a_malformed_policy_stops_start_up_naming_the_problem(doc, problem):
    with pytest.raises(ReleasePolicyError, match=problem):
        parse_policy(doc, "policy.yaml")


def test_a_missing_policy_file_stops_start_up(tmp_path):
    with pytest.raises(ReleasePolicyError, match="cannot read"):
        load_policy(tmp_path / "absent.yaml")


def test_the_batch_answers_carry_their_release_too(stateless):
    items = [body("negative"), body("mgus")]
    for it in items:
        it.pop("patient_ref")
    resp = stateless.post("/v1/interpretations/batch", json={"items": items})
    results = resp.get_json()["results"]
    assert [r["interpretation"]["release"]["status"] for r in results] == ["auto", "review_required"]
