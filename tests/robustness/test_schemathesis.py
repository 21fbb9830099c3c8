"""Schemathesis over the whole OpenAPI document, in-process against the WSGI app.

Every operation is exercised with generated valid and invalid inputs (positive and negative
generation modes, examples/coverage/fuzzing phases). Checks: never a 5xx, and every response conforms
to the document (status code documented, content type, response body schema); invalid requests are
refused. Authentication is on, with a throw-away key that schemathesis sends through the documented
bearerAuth scheme, so generated requests with a missing or mangled Authorization header must be 401s.
"""

from __future__ import annotations

import hashlib
import secrets

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from service.api import create_app

KEY = secrets.token_urlsafe(32)
APP = create_app({"TESTING": True, "API_KEYS": {"robustness": hashlib.sha256(KEY.encode()).hexdigest()}})
CONFIG = SchemathesisConfig.from_dict(
    {
        "auth": {"openapi": {"bearerAuth": {"bearer": KEY}}},
        "generation": {"mode": "all", "max-examples": 40},
    }
)

schema = schemathesis.openapi.from_wsgi("/openapi.json", APP, config=CONFIG)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_openapi_conformance(case):
    case.call_and_validate(checks=CHECKS)
