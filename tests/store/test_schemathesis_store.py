"""Schemathesis over the record operations with the store on (embedded SQLite): never a 5xx, every
response as documented (201 with id, the list, a record, the audit trail, ruleset impact), invalid
requests refused."""

from __future__ import annotations

import atexit
import hashlib
import secrets
import shutil
import tempfile

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

from .conftest import SECRET

KEY = secrets.token_urlsafe(32)
DATA = tempfile.mkdtemp(prefix="mgi-schemathesis-")
atexit.register(shutil.rmtree, DATA, True)
APP = create_app(
    {
        "TESTING": True,
        "API_KEYS": {"robustness": hashlib.sha256(KEY.encode()).hexdigest()},
        "STORE": "on",
        "DATABASE_URL": f"sqlite:///{DATA}/records.sqlite3",
        "PATIENT_KEY_SECRET": SECRET,
        "STORE_AUTO_MIGRATE": True,
    }
)
CONFIG = SchemathesisConfig.from_dict(
    {"auth": {"openapi": {"bearerAuth": {"bearer": KEY}}}, "generation": {"mode": "all", "max-examples": 25}}
)
schema = schemathesis.openapi.from_wsgi("/openapi.json", APP, config=CONFIG).include(
    path_regex=r"^/v1/(interpretations|audit|ruleset-impact)"
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_record_operations_conform_to_the_document(case):
    case.call_and_validate(checks=CHECKS)
