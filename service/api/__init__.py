"""The HTTP shell: app factory ``create_app(config=None)``."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, request, send_file
from flask_smorest import Api

from service.adapters.release import load_policy
from service.domain import RULESET_VERSION
from service.review import init_review

from . import errors
from .admission import init_admission
from .config_state import apply_active_config, watch_config_status
from .interop import init_interop
from .observability import init_observability, mark_ready
from .query_rules import init_query_rules
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
    # Swagger UI's script and styles come from the pinned flask-swagger-ui package, served here: the page
    # works offline and runs no third-party script where users paste their keys.
    "OPENAPI_SWAGGER_UI_URL": "/docs/assets/",
    # Swagger UI would send the document's address to an online validator for its badge: not from here.
    "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None},
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
                },
                "metricsToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The metrics token (MGI_METRICS_TOKEN) of the monitoring system; an API "
                    "key does not open /metrics.",
                },
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
    # Under gunicorn: the key file and code map the master validated and published (config_state.py).
    apply_active_config(app)
    app.config.update(config or {})
    app.json.sort_keys = False  # type: ignore[attr-defined]  # DefaultJSONProvider's setting
    # Observability first, so that requests refused by authentication still get a request id,
    # an access-log line and a metric.
    init_observability(app)
    watch_config_status(app)
    # Imported here, not at the top: `python -m service.api.security hash-key` runs that module as
    # __main__, and a copy already imported by this package would make runpy warn about it.
    from .security import init_security

    init_security(app)
    init_admission(app)
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
    _document_query_refusal(api)
    errors.register(app)
    _serve_swagger_ui_assets(app)
    init_query_rules(app)
    mark_ready(app)
    return app


# The files flask-smorest's /docs page loads (its swagger_ui.html template), nothing else of the package.
SWAGGER_UI_ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
}


DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'"
)


def swagger_ui_dist() -> Path:
    """The Swagger UI distribution shipped inside the flask-swagger-ui package (version pinned in
    pyproject.toml; its dist/VERSION names the Swagger UI release)."""
    spec = importlib.util.find_spec("flask_swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the flask-swagger-ui package (Swagger UI assets for /docs) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "dist"


def _serve_swagger_ui_assets(app: Flask) -> None:
    dist = swagger_ui_dist()

    def swagger_ui_asset(name: str) -> Response:
        mimetype = SWAGGER_UI_ASSETS.get(name)
        if mimetype is None:
            abort(404)
        return send_file(dist / name, mimetype=mimetype, max_age=None, conditional=False, etag=False)

    app.add_url_rule(
        "/docs/assets/<name>", endpoint="swagger_ui_asset", view_func=swagger_ui_asset, methods=["GET"]
    )

    @app.after_request
    def _docs_policy(response: Response) -> Response:
        # The page where users paste keys loads and talks to this service only (its own inline
        # configuration script excepted), whatever a script on it would try.
        if request.path.startswith("/docs"):
            response.headers["Content-Security-Policy"] = DOCS_CSP
        return response


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


QUERY_REFUSED = "A query parameter: this operation takes none."


def _document_query_refusal(api: Api) -> None:
    """Every operation refuses a query parameter it does not take (query_rules.py): a 422 in the
    standard error body, documented where the operation documents no 422 of its own."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for item in api.spec._paths.values():
        for method, operation in item.items():
            if method == "parameters" or not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            if not any(str(code) == "422" for code in responses):
                responses["422"] = {"description": QUERY_REFUSED, "content": error}


def _document_operational_routes(api: Api, app: Flask) -> None:
    """/readyz and /metrics are plain Flask routes (observability.py); describe them in the spec."""
    rules = {r.rule: r for r in app.url_map.iter_rules()}
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    api.spec.path(
        rule=rules["/readyz"],
        operations={
            "get": {
                "summary": "Readiness: 200 once start-up finished, 503 otherwise (or while no API key is "
                "active: every /v1 request would be refused).",
                "tags": ["operations"],
                "security": [],
                "responses": {
                    "200": {
                        "description": "Ready; ``warnings`` names conditions an operator should act on (a "
                        "configuration reload that was refused: the previous configuration stays in force)",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "allOf": [
                                        {"$ref": "#/components/schemas/Health"},
                                        {
                                            "type": "object",
                                            "properties": {
                                                "warnings": {"type": "array", "items": {"type": "string"}}
                                            },
                                        },
                                    ]
                                }
                            }
                        },
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
                "summary": "Prometheus metrics (text exposition format), with the metrics token.",
                "tags": ["operations"],
                "security": [{"metricsToken": []}],
                "responses": {
                    "200": {
                        "description": "Metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "401": {"description": "No metrics token, or not the configured one", "content": error},
                },
            }
        },
    )
