"""Shared fixtures: the app in development mode (no API key) and its test client."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from service.api import create_app

ROOT = Path(__file__).resolve().parent.parent

# The suite runs the service stateless (MGI_STORE=off) unless a test turns the records store on
# itself (tests/store/): the interpretation tests then see exactly the stateless contract (200, no
# id), and servers the tests start inherit the setting. Set before any app is built.
os.environ.setdefault("MGI_STORE", "off")


@pytest.fixture
def app():
    """The app as the tests use it: defaults, testing mode, authentication off."""
    return create_app({"TESTING": True, "DEV_MODE": True})


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def worked_example() -> dict:
    """The clinical-reference §6 request body, as shipped in examples/."""
    return json.loads((ROOT / "examples" / "worked-example-s6.json").read_text())
