"""The two ceilings bench/http.py compares the service with (gunicorn app factories):

    gunicorn -c gunicorn.conf.py 'bench.ceiling_apps:framework_app()'
    gunicorn -c gunicorn.conf.py 'bench.ceiling_apps:stack_app()'

- framework ceiling: bare Flask; POST /v1/interpretations parses the JSON body and echoes it.
- stack ceiling: bare flask-smorest; POST /v1/interpretations validates the body with ONE reused instance
  of the service's own InterpretationRequestSchema (``@blp.arguments(instance)``, flask-smorest's default
  parser) and answers a canned, pre-serialised response: the service's real answer for that panel (same
  bytes, so same size), chosen by the X-Panel header the load generator sends (index into the mix).
  That is what Flask + flask-smorest + marshmallow cost before any clinical work. The schema loads a
  well-formed body through its compiled form (service/api/compiled.py), as the service does.
- stack ceiling, generic load (``stack_app(generic=True)``): the same, but through marshmallow's generic
  ``Schema.load`` (the ceiling issue 6 measured while planning; informational since the compiled loader).

Both answer GET /healthz for the readiness probe.
"""

from __future__ import annotations

import os
import sys

from flask import Flask, Response, request

_BENCH = os.path.dirname(os.path.abspath(__file__))
if os.path.dirname(_BENCH) not in sys.path:
    sys.path.insert(0, os.path.dirname(_BENCH))


def framework_app() -> Flask:
    app = Flask("framework_ceiling")

    @app.post("/v1/interpretations")
    def echo():
        return request.get_json()

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app


def canned_answers() -> list[bytes]:
    """The service's real response body for each panel of the mix (built once, in-process)."""
    from bench.panels import BODIES
    from service.api import create_app

    client = create_app({"TESTING": True, "DEV_MODE": True}).test_client()
    out = []
    for body in BODIES:
        r = client.post("/v1/interpretations", data=body, content_type="application/json")
        if r.status_code != 200:
            raise RuntimeError(f"service answered {r.status_code} for a bench panel")
        out.append(r.get_data())
    return out


def stack_app(generic: bool = False) -> Flask:
    """The stack ceiling; ``generic=True`` validates through marshmallow's generic ``Schema.load``
    instead of the schema's compiled loader (the ceiling as issue 6 measured it when planning)."""
    from flask_smorest import Api, Blueprint
    from marshmallow import Schema

    from service.api.schemas import InterpretationRequestSchema

    class GenericLoad(InterpretationRequestSchema):
        # The same fields and hooks, without the compiled loader (its set-up is skipped).
        def __init__(self) -> None:
            Schema.__init__(self)

        load = Schema.load

    answers = canned_answers()
    app = Flask("stack_ceiling")
    app.config.update(API_TITLE="stack ceiling", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    api = Api(app)
    blp = Blueprint("stack", __name__, url_prefix="/v1")
    schema = (GenericLoad if generic else InterpretationRequestSchema)()  # one reused instance

    @blp.route("/interpretations", methods=["POST"])
    @blp.arguments(schema, location="json")
    @blp.response(200)
    def interpretations(panel: object) -> Response:
        try:
            k = int(request.headers.get("X-Panel", "0")) % len(answers)
        except ValueError:
            k = 0
        return Response(answers[k], mimetype="application/json")

    api.register_blueprint(blp)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app
