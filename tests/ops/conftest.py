"""A tiny throwaway Flask app with the ops extensions, independent of service.api's app."""

from __future__ import annotations

import hashlib
import json
import logging

import pytest
from flask import Flask, g, jsonify, request

from service.api.observability import init_observability, mark_ready
from service.api.security import init_security

KEY = "k3y-Fv0wq7nS2yXb9P1cLr4TqZ8eWu6HjD5aM0gVtYs"
OTHER_KEY = "0ther-key-Nq2Lp9Xc4Vb7Mz1Kd8Rf3Ts6Wy5Ga0Hj"
REVOKED_KEY = "revoked-key-Qm7Zr2Lx9Bv4Nc1Kp8Sd3Tf6Wg5Yh0"
METRICS_TOKEN = "metrics-token-Lp4Xc8Vb2Nm6Qw0Er3Ty7Ui1Op"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No MGI_* or Prometheus variable from the developer's shell leaks into a test."""
    for name in (
        "MGI_API_KEYS",
        "MGI_API_KEYS_FILE",
        "MGI_DEV_MODE",
        "MGI_LOG_LEVEL",
        "MGI_METRICS_TOKEN",
        "MGI_METRICS_TOKEN_SHA256",
        "PROMETHEUS_MULTIPROC_DIR",
        "prometheus_multiproc_dir",
    ):
        monkeypatch.delenv(name, raising=False)


def build_app(*, ready: bool = True, security_first: bool = False, **config) -> Flask:
    app = Flask(__name__)
    app.config.update(
        {"API_KEYS": {"lis": digest(KEY)}, "RULESET_VERSION": "test-1", "METRICS_TOKEN": METRICS_TOKEN}
    )
    app.config.update(config)
    if security_first:
        init_security(app)
        init_observability(app)
    else:
        init_observability(app)
        init_security(app)

    @app.post("/v1/interpretations")
    def interpret():
        body = request.get_json()
        g.ruleset_version = "test-1"
        g.classification_code = body.get("code", "MGUS_NON_IGM")
        return {"classification": g.classification_code, "key": g.get("api_key_name")}

    @app.get("/v1/items/<int:item_id>")
    def item(item_id: int):
        return {"id": item_id, "key": g.api_key_name}

    @app.post("/v1/explode")
    def explode():
        body = request.get_json()
        raise ValueError(f"cannot interpret {body!r}")  # a message quoting the request

    for path in ("/healthz", "/openapi.json", "/docs", "/other"):
        app.add_url_rule(path, endpoint=path, view_func=lambda: jsonify(status="ok"))

    if ready:
        mark_ready(app)
    return app


@pytest.fixture
def app() -> Flask:
    return build_app()


@pytest.fixture
def client(app):
    return app.test_client()


class LineCapture(logging.Handler):
    """Everything the 'mgi' loggers and the app logger emit, as formatted JSON lines."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def json(self, logger: str | None = None) -> list[dict]:
        out = [json.loads(line) for line in self.lines]
        return [d for d in out if logger is None or d["logger"] == logger]


@pytest.fixture
def log_lines():
    """Capture formatted lines from 'mgi' (added after the JSON handler, same formatter)."""
    from service.api.observability import JsonFormatter

    capture = LineCapture(JsonFormatter())
    mgi = logging.getLogger("mgi")
    flask_app_logger = logging.getLogger(__name__)
    mgi.addHandler(capture)
    flask_app_logger.addHandler(capture)
    yield capture
    mgi.removeHandler(capture)
    flask_app_logger.removeHandler(capture)
