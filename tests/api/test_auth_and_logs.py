"""The real app with API keys (not development mode): every /v1 route needs a key; logs hold no values."""

from __future__ import annotations

import json

import pytest

from service.api import create_app
from service.api.security import hash_key

GOOD, REVOKED, UNKNOWN = "good-key-" + "a" * 32, "old-key-" + "b" * 32, "nope-" + "c" * 32
V1 = [
    ("POST", "/v1/interpretations", {"json": {"spep": {"m_protein": {"value": 1, "unit": "g/dL"}}}}),
    ("POST", "/v1/interpretations/batch", {"json": {"items": [{"flc": {}}]}}),
    ("GET", "/v1/ruleset", {}),
    ("POST", "/v1/hl7v2", {"data": b"MSH|", "content_type": "text/plain"}),
    ("POST", "/v1/fhir/interpretations", {"json": {"resourceType": "Bundle", "type": "collection"}}),
]


@pytest.fixture
def secured():
    app = create_app(
        {
            "TESTING": True,
            "DEV_MODE": False,
            "API_KEYS": {"lis": hash_key(GOOD), "retired": {"sha256": hash_key(REVOKED), "revoked": True}},
        }
    )
    return app.test_client()


def call(client, method, path, kw, key=None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.open(path, method=method, headers=headers, **kw)


@pytest.mark.parametrize(("method", "path", "kw"), V1, ids=[p for _, p, _ in V1])
@pytest.mark.parametrize("key", [None, REVOKED, UNKNOWN], ids=["no-key", "revoked-key", "unknown-key"])
def test_every_v1_call_without_a_valid_key_is_401_with_the_standard_body(secured, method, path, kw, key):
    resp = call(secured, method, path, kw, key)
    assert resp.status_code == 401
    if path == "/v1/hl7v2":  # an HL7 sender files ACKs, not JSON: the refusal is an ACK AR
        assert resp.mimetype == "x-application/hl7-v2+er7" and b"\rMSA|AR|" in resp.data
    else:
        body = resp.get_json()
        assert body["code"] == 401 and body["status"] == "Unauthorized" and body["message"]
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "kw"), V1, ids=[p for _, p, _ in V1])
def test_with_a_valid_key_every_v1_call_is_processed(secured, method, path, kw):
    assert call(secured, method, path, kw, GOOD).status_code != 401


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/docs"])
def test_operational_paths_need_no_key(secured, path):
    assert secured.get(path).status_code == 200


def test_an_api_key_does_not_open_the_metrics(secured):
    assert secured.get("/metrics", headers={"Authorization": f"Bearer {GOOD}"}).status_code == 401


def test_a_request_s_values_appear_nowhere_in_the_logs(secured, capsys, worked_example):
    worked_example["spep"]["m_protein"]["value"] = 98.7654
    worked_example["patient"]["age_years"] = 77.125
    worked_example["labs"]["calcium"]["value"] = 2.4321
    resp = call(secured, "POST", "/v1/interpretations", {"json": worked_example}, GOOD)
    assert resp.status_code == 200
    bad = dict(worked_example, spep={"m_protein": {"value": 1, "unit": "ZZSECRETUNIT"}})
    assert call(secured, "POST", "/v1/interpretations", {"json": bad}, GOOD).status_code == 422
    logs = capsys.readouterr().err
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert any(rec.get("route") == "/v1/interpretations" and rec.get("status") == 200 for rec in lines)
    assert any(rec.get("classification_code") == "MGUS_NON_IGM" for rec in lines)
    for needle in ("987.654", "77.125", "2.4321", "ZZSECRETUNIT", "IgG", "scleromyx", GOOD):
        assert needle not in logs, needle
