"""Schemathesis over the whole OpenAPI document, in-process against the WSGI app.

Every operation is exercised with generated valid and invalid inputs (positive and negative
generation modes). Checks: never a 5xx, and every response conforms to the document (status code
documented, content type, response body schema).
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from service.api import create_app

# DEV_MODE switches authentication off (the security layer honours it once it is wired in).
APP = create_app({"TESTING": True, "DEV_MODE": True})

schema = schemathesis.openapi.from_wsgi("/openapi.json", APP)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=40)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@schema.parametrize()
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_openapi_conformance(case):
    case.call_and_validate(checks=CHECKS)
