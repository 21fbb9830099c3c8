"""The review console under test: the records store on (SQLite file), accounts made directly."""

from __future__ import annotations

import copy
import hashlib

import pytest

from service.api import create_app
from service.review import accounts, demo
from service.store import RecordStore, migrate

SECRET = "review-test-secret-0123456789abcdef0123456789"
API_KEY = "review-test-api-key"
API_KEYS = {"lis": hashlib.sha256(API_KEY.encode()).hexdigest()}
AUTH = {"Authorization": f"Bearer {API_KEY}"}
PASSWORD = "correct horse battery staple"


def migrated_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    store = RecordStore.from_url(url)
    migrate.upgrade(store.engine)
    store.dispose()
    return url


def review_app(tmp_path, **config):
    cfg = {
        "TESTING": True,
        "API_KEYS": API_KEYS,
        "STORE": "on",
        "DATABASE_URL": migrated_url(tmp_path),
        "DATA_DIR": str(tmp_path / "data"),
        "PATIENT_KEY_SECRET": SECRET,
        "REVIEW_COOKIE_SECURE": False,
    }
    cfg.update(config)
    return create_app(cfg)


@pytest.fixture
def app(tmp_path):
    application = review_app(tmp_path)
    yield application
    application.extensions["mgi.store"].store.dispose()


@pytest.fixture
def store(app) -> RecordStore:
    return app.extensions["mgi.store"].store


@pytest.fixture
def users(store):
    accounts.add_user(store, "rita", "reviewer", PASSWORD)
    accounts.add_user(store, "victor", "viewer", PASSWORD)
    return store


def body(name: str) -> dict:
    """A demonstration request by name: s6, negative, mgus (service.review.demo)."""
    return copy.deepcopy({"s6": demo.S6_CURRENT, "negative": demo.NEGATIVE, "mgus": demo.MGUS}[name])


def post(client, payload: dict) -> dict:
    resp = client.post("/v1/interpretations", json=payload, headers=AUTH)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


def csrf_token(client, path: str = "/review/sign-in") -> str:
    import re

    html = client.get(path).get_data(as_text=True)
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def sign_in(client, name: str = "rita", password: str = PASSWORD):
    token = csrf_token(client)
    return client.post(
        "/review/sign-in", data={"name": name, "password": password, "csrf_token": token, "next": ""}
    )
