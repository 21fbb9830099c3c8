"""/metrics opens with its own token only: it tells which diagnoses were just made, how many logins failed."""

from __future__ import annotations

import pytest

from service.api.security import KeyConfigError, hash_key

from .conftest import KEY, bearer, build_app

TOKEN = "metrics-token-Zx8Qw2Er5Ty7Ui9Op1As3Df"


def test_without_a_metrics_token_configured_metrics_are_closed_even_to_an_api_key():
    client = build_app(METRICS_TOKEN=None).test_client()
    for headers in ({}, bearer(KEY)):
        resp = client.get("/metrics", headers=headers)
        assert resp.status_code == 401
        assert resp.get_json()["code"] == 401
        assert "MGI_METRICS_TOKEN" in resp.get_json()["message"]
        assert resp.headers["WWW-Authenticate"].startswith('Bearer realm="mgi-metrics"')


@pytest.mark.parametrize("setting", ["METRICS_TOKEN", "METRICS_TOKEN_SHA256"])
def test_the_metrics_token_opens_metrics_and_an_api_key_does_not(setting):
    value = TOKEN if setting == "METRICS_TOKEN" else hash_key(TOKEN)
    client = build_app(**{"METRICS_TOKEN": None, setting: value}).test_client()
    client.post("/v1/interpretations", json={"code": "MULTIPLE_MYELOMA"}, headers=bearer(KEY))
    resp = client.get("/metrics", headers=bearer(TOKEN))
    assert resp.status_code == 200
    assert 'mgi_interpretations_total{classification="MULTIPLE_MYELOMA"} 1.0' in resp.get_data(as_text=True)
    assert client.get("/metrics", headers=bearer(KEY)).status_code == 401
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Basic abc"}).status_code == 401


def test_the_metrics_token_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MGI_METRICS_TOKEN", TOKEN)
    client = build_app(METRICS_TOKEN=None).test_client()
    assert client.get("/metrics", headers=bearer(TOKEN)).status_code == 200


def test_an_api_key_is_not_the_metrics_token_even_when_both_are_configured():
    client = build_app(METRICS_TOKEN=TOKEN).test_client()
    assert client.get("/metrics", headers=bearer(KEY)).status_code == 401


@pytest.mark.parametrize(
    "config",
    [
        {"METRICS_TOKEN_SHA256": hash_key(TOKEN)},
        {"METRICS_TOKEN": "short"},
        {"METRICS_TOKEN": "has spaces in it, clearly not a token"},
        {"METRICS_TOKEN_SHA256": "abc"},
    ],
    ids=["both", "too-short", "not-a-token", "not-a-digest"],
)
def test_a_malformed_metrics_token_setting_fails_at_start_up(config):
    with pytest.raises(KeyConfigError, match="MGI_METRICS_TOKEN"):
        build_app(**config)


def test_development_mode_opens_metrics():
    client = build_app(DEV_MODE=True, API_KEYS={}).test_client()
    assert client.get("/metrics").status_code == 200
