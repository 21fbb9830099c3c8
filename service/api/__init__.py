"""The HTTP shell: app factory ``create_app(config=None)``."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from flask_smorest import Api

from service.adapters.release import load_policy
from service.domain import RULESET_VERSION
from service.review import init_review

from . import errors
from .interop import init_interop
from .observability import init_observability, mark_ready
from .schemas import ErrorSchema
from .views import RELEASE_EXTENSION, ops, v1


class _Api(Api):
    # The one error body of the contract documents every error response.
    ERROR_SCHEMA = ErrorSchema


# A full panel with 50 history entries is ~60 KiB: 256 KiB bounds one interpretation generously.
MAX_BODY_BYTES = 256 * 1024

DEFAULTS: dict[str, Any] = {
    "API_TITLE": "Monoclonal gammopathy interpretation service",
    "API_VERSION": "1.0.0",
    "OPENAPI_VERSION": "3.1.0",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    "OPENAPI_SWAGGER_UI_URL": "https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
    "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
    "JSON_SORT_KEYS": False,
    # No CORS here: Flask's automatic OPTIONS answer (200, an HTML content type, an empty body) is
    # described nowhere in the contract, so OPTIONS gets the standard 405 with its Allow header.
    "PROVIDE_AUTOMATIC_OPTIONS": False,
    "RULESET_VERSION": RULESET_VERSION,
    "API_SPEC_OPTIONS": {
        "security": [{"bearerAuth": []}],
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key issued by the service operator (see README, Authentication).",
                }
            }
        },
        "info": {
            "description": (
                "Interprets one patient's monoclonal-gammopathy work-up: IMWG 2014 category with "
                "every criterion, risk models, follow-up and flags (including MGCS with "
                f"scleromyxoedema). Ruleset {RULESET_VERSION}."
            )
        },
    },
}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application; ``config`` overrides the embedded defaults."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    if os.environ.get("MGI_MAX_BODY_BYTES"):
        app.config["MAX_CONTENT_LENGTH"] = int(os.environ["MGI_MAX_BODY_BYTES"])
    app.config.update(config or {})
    app.json.sort_keys = False  # type: ignore[attr-defined]  # DefaultJSONProvider's setting
    # Observability first, so that requests refused by authentication still get a request id,
    # an access-log line and a metric.
    init_observability(app)
    # Imported here, not at the top: `python -m service.api.security hash-key` runs that module as
    # __main__, and a copy already imported by this package would make runpy warn about it.
    from .security import init_security

    init_security(app)
    init_interop(app)
    # The laboratory's release policy (lab configuration: every answer carries its release status).
    app.extensions[RELEASE_EXTENSION] = load_policy(app.config.get("RELEASE_POLICY_FILE"))
    from .records import init_store

    init_store(app)
    api = _Api(app)
    api.register_blueprint(v1)
    api.register_blueprint(ops)
    init_review(app, api)
    _document_operational_routes(api, app)
    _document_request_rules(api)
    errors.register(app)
    mark_ready(app)
    return app


def _present(*names: str) -> list[dict[str, Any]]:
    return [{"required": [n], "properties": {n: {"type": "object"}}} for n in names]


# The request rule "at least one screening result" (schemas._has_screening_result), as JSON Schema: the
# document then describes the bodies the service accepts, not only their shape.
SCREENING_RESULT = {
    "anyOf": [
        *_present("serum_ife"),
        {"required": ["spep"], "properties": {"spep": {"type": "object", "anyOf": _present("m_protein")}}},
        {
            "required": ["urine"],
            "properties": {"urine": {"type": "object", "anyOf": _present("m_protein_24h", "ife")}},
        },
        {
            "required": ["flc"],
            "properties": {"flc": {"type": "object", "anyOf": _present("kappa", "lambda")}},
        },
    ]
}


def _document_request_rules(api: Api) -> None:
    """Cross-field rules of the request schema that marshmallow's field types cannot say."""
    api.spec.components.schemas["InterpretationRequest"].update(SCREENING_RESULT)
    # IfeSchema._consistent: a positive immunofixation lists its clones, a negative one none.
    api.spec.components.schemas["Ife"].update(
        {
            "if": {"required": ["result"], "properties": {"result": {"const": "positive"}}},
            "then": {"required": ["clones"], "properties": {"clones": {"minItems": 1}}},
            "else": {"properties": {"clones": {"maxItems": 0}}},
        }
    )


def _document_operational_routes(api: Api, app: Flask) -> None:
    """/readyz and /metrics are plain Flask routes (observability.py); describe them in the spec."""
    rules = {r.rule: r for r in app.url_map.iter_rules()}
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    api.spec.path(
        rule=rules["/readyz"],
        operations={
            "get": {
                "summary": "Readiness: 200 once start-up finished, 503 otherwise.",
                "tags": ["operations"],
                "security": [],
                "responses": {
                    "200": {
                        "description": "Ready",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}},
                    },
                    "503": {"description": "Not ready", "content": error},
                },
            }
        },
    )
    api.spec.path(
        rule=rules["/openapi.json"],
        operations={
            "get": {
                "summary": "This OpenAPI document.",
                "tags": ["operations"],
                "security": [],
                "responses": {
                    "200": {
                        "description": "The OpenAPI document",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    )
    api.spec.path(
        rule=rules["/docs"],
        operations={
            "get": {
                "summary": "Interactive documentation (Swagger UI).",
                "tags": ["operations"],
                "security": [],
                "responses": {
                    "200": {
                        "description": "HTML page",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    )
    api.spec.path(
        rule=rules["/metrics"],
        operations={
            "get": {
                "summary": "Prometheus metrics (text exposition format).",
                "tags": ["operations"],
                "security": [],
                "responses": {
                    "200": {
                        "description": "Metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    )
