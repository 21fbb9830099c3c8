"""The fixed part of the contract through HTTP: endpoints, error bodies, the generated spec."""

from __future__ import annotations

import pytest

from service.api.openapi import render
from service.api.schemas import InterpretationResponseSchema
from tests.conftest import ROOT

MGUS = {
    "spep": {"m_protein": {"value": 1.2, "unit": "g/dL"}},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
}


def assert_error_body(resp, status):
    body = resp.get_json()
    assert resp.status_code == status
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == status
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_the_openapi_yaml_in_the_repo_is_the_one_the_code_generates():
    assert (ROOT / "openapi.yaml").read_text() == render(), (
        "openapi.yaml drifted: run `python -m service.api.openapi > openapi.yaml`"
    )


def test_healthz_names_the_ruleset_version(client):
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["ruleset_version"].startswith("mgi-rules-")


def test_ruleset_lists_every_rule_with_thresholds_and_citation(client):
    body = client.get("/v1/ruleset").get_json()
    ids = {r["id"] for r in body["rules"]}
    assert {
        "mde.hypercalcemia",
        "category.smoldering_myeloma",
        "risk.smm_imwg_2020",
        "serial.evolving_m_protein",
        "mgcs.scleromyxedema",
    } <= ids
    for r in body["rules"]:
        assert r["citation"] and r["section"].startswith("§")


def test_openapi_json_and_docs_are_served(client):
    assert client.get("/openapi.json").get_json()["openapi"].startswith("3.")
    assert client.get("/docs").status_code == 200


def test_a_valid_panel_gets_a_response_conforming_to_the_documented_schema(client):
    resp = client.post("/v1/interpretations", json=MGUS)
    assert resp.status_code == 200
    body = resp.get_json()
    assert InterpretationResponseSchema().validate(body) == {}
    assert set(body["risk"]) == {"mgus_mayo_2005", "smm_mayo_2018", "smm_imwg_2020"}


@pytest.mark.parametrize(
    ("data", "content_type", "status", "field"),
    [
        (b"{not json", "application/json", 400, None),
        (b"", "application/json", 400, None),
        (b'{"spep": {}, "spep": {}}', "application/json", 400, None),
        (b'{"spep": {"m_protein": {"value": NaN, "unit": "g/L"}}}', "application/json", 400, None),
        (b"[" * 50000, "application/json", 400, None),
        (b'{"spep": {}}', "text/plain", 415, None),
        (b'{"spep": {}}', "application/x-www-form-urlencoded", 415, None),
        (b"{}", "application/json", 422, "_schema"),
        (
            b'{"spep": {"m_protein": {"value": 1, "unit": "mg/mL"}}}',
            "application/json",
            422,
            "spep.m_protein.unit",
        ),
        (
            b'{"spep": {"m_protein": {"value": -1, "unit": "g/L"}}}',
            "application/json",
            422,
            "spep.m_protein.value",
        ),
        (
            b'{"spep": {"m_protein": {"value": "12", "unit": "g/L"}}}',
            "application/json",
            422,
            "spep.m_protein.value",
        ),
        (
            b'{"spep": {"m_protein": {"value": 1e999, "unit": "g/L"}}}',
            "application/json",
            422,
            "spep.m_protein.value",
        ),
        (
            b'{"spep": {"m_protein": {"value": 0, "unit": "g/L", "comparator": "<"}}}',
            "application/json",
            422,
            "spep.m_protein.comparator",
        ),
        (b'{"spep": {}, "mystery": 1}', "application/json", 422, "mystery"),
        (
            b'{"flc": {"kappa": {"value": 1, "unit": "mg/L", "extra": 1}}}',
            "application/json",
            422,
            "flc.kappa.extra",
        ),
        (b'{"serum_ife": {"result": "positive", "clones": []}}', "application/json", 422, "serum_ife.clones"),
        (
            b'{"serum_ife": {"result": "negative", "clones": [{"heavy_chain": "IgG", "light_chain": '
            b'"kappa"}]}}',
            "application/json",
            422,
            "serum_ife.clones",
        ),
        (b'{"spep": {}, "clinical": {"fever": "yes"}}', "application/json", 422, "clinical.fever"),
        (
            b'{"spep": {}, "imaging": {"osteolytic_lesions": 1.5}}',
            "application/json",
            422,
            "imaging.osteolytic_lesions",
        ),
    ],
)
def test_bad_input_gets_the_standard_error_body_naming_the_field(client, data, content_type, status, field):
    resp = client.post("/v1/interpretations", data=data, content_type=content_type)
    body = assert_error_body(resp, status)
    if field:
        assert field in body["errors"], body


def test_a_body_over_the_limit_is_413(client):
    big = b'{"spep": {}, "pad": "' + b"x" * 300_000 + b'"}'
    assert_error_body(client.post("/v1/interpretations", data=big, content_type="application/json"), 413)


def test_unknown_paths_and_methods_use_the_same_body(client):
    assert_error_body(client.get("/v1/nothing-here"), 404)
    resp = client.get("/v1/interpretations")
    assert_error_body(resp, 405)
    assert "POST" in resp.headers["Allow"]


@pytest.mark.parametrize(
    ("history", "current", "field", "fragment"),
    [
        ([{"collected_on": "2026-01-01"}], "2025-12-01", "history.0.collected_on", "before the current"),
        (
            [{"collected_on": "2025-01-01"}, {"collected_on": "2025-01-01"}],
            "2026-01-01",
            "history.1.collected_on",
            "duplicate",
        ),
        ([{"collected_on": "2099-01-01"}], "2026-01-01", "history.0.collected_on", "future"),
        ([], "2099-01-01", "collected_on", "future"),
    ],
)
def test_serial_dates_out_of_order_future_or_duplicate_are_422_naming_the_entry(
    client, history, current, field, fragment
):
    body = dict(MGUS, history=history)
    if current:
        body["collected_on"] = current
    err = assert_error_body(client.post("/v1/interpretations", json=body), 422)
    assert any(fragment in m for m in err["errors"][field]), err


def test_history_without_collected_on_dates_the_panel_today_and_says_so(client):
    body = dict(
        MGUS, history=[{"collected_on": "2025-01-01", "spep": {"m_protein": {"value": 0.5, "unit": "g/dL"}}}]
    )
    resp = client.post("/v1/interpretations", json=body)
    assert resp.status_code == 200
    assert any("Collection date not given" in n for n in resp.get_json()["notes"])
    flags = {f["code"] for f in resp.get_json()["flags"]}
    assert "EVOLVING_M_PROTEIN" not in flags  # 5 -> 12 g/L spans more than 12 months


def test_history_in_any_order_is_accepted_and_read_chronologically(client):
    body = dict(
        MGUS,
        collected_on="2025-12-01",
        spep={"m_protein": {"value": 30, "unit": "g/L"}},
        history=[
            {"collected_on": "2025-09-01", "spep": {"m_protein": {"value": 24, "unit": "g/L"}}},
            {"collected_on": "2025-03-01", "spep": {"m_protein": {"value": 20, "unit": "g/L"}}},
        ],
    )
    resp = client.post("/v1/interpretations", json=body)
    assert resp.status_code == 200
    flag = next(f for f in resp.get_json()["flags"] if f["code"] == "EVOLVING_M_PROTEIN")
    assert flag["evidence"][0]["from_date"] == "2025-03-01"


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/json; charset=utf-8", 200),
        ("application/json; charset=UTF-8", 200),
        ("application/json; charset=latin-1", 415),
        ("application/json; charset=utf-16", 415),
    ],
)
def test_json_must_be_utf_8(client, content_type, status):
    import json

    resp = client.post("/v1/interpretations", data=json.dumps(MGUS), content_type=content_type)
    assert resp.status_code == status


# --- the document states the request's cross-field rules ----------------------------------------------
SCREENING_CASES = [
    ({}, False),
    ({"patient": {"age_years": 60}}, False),
    ({"spep": {}}, False),
    ({"spep": {"m_protein": {"value": 0, "unit": "g/L"}}}, True),
    ({"serum_ife": {"result": "negative"}}, True),
    ({"serum_ife": None}, False),
    ({"urine": {}}, False),
    ({"urine": {"ife": {"result": "negative"}}}, True),
    ({"urine": {"m_protein_24h": {"value": 0, "unit": "mg/24h"}}}, True),
    ({"flc": {"assay": "freelite"}}, False),
    ({"flc": {"kappa": {"value": 10, "unit": "mg/L"}}}, True),
    ({"flc": {"lambda": {"value": 10, "unit": "mg/L"}}}, True),
]


@pytest.mark.parametrize(("body", "accepted"), SCREENING_CASES)
def test_the_document_and_the_service_agree_on_what_is_a_screening_result(client, body, accepted):
    import jsonschema_rs

    spec = client.get("/openapi.json").get_json()
    rule = {k: spec["components"]["schemas"]["InterpretationRequest"][k] for k in ("anyOf",)}
    assert jsonschema_rs.validator_for(rule).is_valid(body) is accepted
    resp = client.post("/v1/interpretations", json=body)
    assert (resp.status_code == 200) is accepted, resp.get_json()


@pytest.mark.parametrize(
    ("ife", "valid"),
    [
        ({"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]}, True),
        ({"result": "positive"}, False),
        ({"result": "positive", "clones": []}, False),
        ({"result": "negative"}, True),
        ({"result": "negative", "clones": []}, True),
        ({"result": "negative", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]}, False),
    ],
)
def test_the_document_and_the_service_agree_on_immunofixation_clones(client, ife, valid):
    import jsonschema_rs

    spec = client.get("/openapi.json").get_json()
    rule = {k: spec["components"]["schemas"]["Ife"][k] for k in ("if", "then", "else")}
    assert jsonschema_rs.validator_for(rule).is_valid(ife) is valid
    assert (client.post("/v1/interpretations", json={"serum_ife": ife}).status_code == 200) is valid


def test_a_stateless_answer_lists_the_request_history_it_used(client):
    """Contract 1.1: history_used is part of every answer; without the store its entries are the
    request's own, oldest first, and an answer without history lists none."""
    spep = {"m_protein": {"value": 10, "unit": "g/L"}}
    body = {
        "spep": {"m_protein": {"value": 20, "unit": "g/L"}},
        "collected_on": "2025-06-01",
        "history": [
            {"collected_on": "2025-03-01", "spep": spep},
            {"collected_on": "2024-12-01", "spep": spep},
        ],
    }
    out = client.post("/v1/interpretations", json=body).get_json()
    assert out["history_used"] == [
        {"collected_on": "2024-12-01", "source": "request"},
        {"collected_on": "2025-03-01", "source": "request"},
    ]
    del body["history"]
    assert client.post("/v1/interpretations", json=body).get_json()["history_used"] == []
