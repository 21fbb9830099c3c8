"""Every answer forbids caching and type sniffing; /docs runs only Swagger UI files served by the service."""

from __future__ import annotations

import re

import pytest

from service.api import SWAGGER_UI_ASSETS, create_app, swagger_ui_dist
from service.api.security import hash_key

KEY = "header-test-key-" + "q" * 32
AUTH = {"Authorization": f"Bearer {KEY}"}
PANEL = {"spep": {"m_protein": {"value": 1.2, "unit": "g/dL"}}}


@pytest.fixture(scope="module")
def client():
    return create_app({"TESTING": True, "API_KEYS": {"lis": hash_key(KEY)}}).test_client()


ANSWERS = [
    ("200 interpretation", "POST", "/v1/interpretations", {"json": PANEL, "headers": AUTH}),
    ("200 batch", "POST", "/v1/interpretations/batch", {"json": {"items": [PANEL]}, "headers": AUTH}),
    ("200 ruleset", "GET", "/v1/ruleset", {"headers": AUTH}),
    ("200 healthz", "GET", "/healthz", {}),
    ("200 readyz", "GET", "/readyz", {}),
    ("200 openapi", "GET", "/openapi.json", {}),
    ("200 docs", "GET", "/docs", {}),
    ("200 docs asset", "GET", "/docs/assets/swagger-ui-bundle.js", {}),
    (
        "400 bad json",
        "POST",
        "/v1/interpretations",
        {"data": b"{", "content_type": "application/json", "headers": AUTH},
    ),
    ("401 no key", "POST", "/v1/interpretations", {"json": PANEL}),
    ("401 metrics", "GET", "/metrics", {}),
    ("404", "GET", "/nowhere", {}),
    ("405", "DELETE", "/v1/ruleset", {"headers": AUTH}),
    ("415", "POST", "/v1/interpretations", {"data": b"x", "content_type": "text/plain", "headers": AUTH}),
    ("422", "POST", "/v1/interpretations", {"json": {"nope": 1}, "headers": AUTH}),
    ("400 hl7", "POST", "/v1/hl7v2", {"data": b"MSH|", "content_type": "text/plain", "headers": AUTH}),
    ("422 fhir", "POST", "/v1/fhir/interpretations", {"json": {"resourceType": "Bundle"}, "headers": AUTH}),
]


@pytest.mark.parametrize(("name", "method", "path", "kw"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_every_answer_is_no_store_and_nosniff(client, name, method, path, kw):
    resp = client.open(path, method=method, **kw)
    assert str(resp.status_code) == name.split()[0]
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_the_docs_page_loads_its_script_and_styles_from_the_service_only(client):
    page = client.get("/docs").get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources, page
    for source in sources:
        assert source.startswith("/docs/assets/"), source
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert len(asset.get_data()) > 1000
    assert "http://" not in page and "https://" not in page
    assert '"validatorUrl": null' in page  # no badge fetched from the online validator


def test_the_docs_page_may_load_and_contact_this_service_only(client):
    for path in ("/docs", "/docs/assets/swagger-ui-bundle.js"):
        policy = client.get(path).headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "connect-src 'self'" in policy
        assert "http" not in policy


def test_the_swagger_ui_assets_are_the_pinned_release_and_nothing_else_of_the_package_is_served(client):
    assert (swagger_ui_dist() / "VERSION").read_text().strip() == "v5.34.0"
    assert set(SWAGGER_UI_ASSETS) == {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
    }
    assert client.get("/docs/assets/VERSION").status_code == 404
    assert client.get("/docs/assets/..%2f__init__.py").status_code == 404
    assert client.get("/docs/assets/swagger-ui.css").mimetype == "text/css"
