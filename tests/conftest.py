"""Shared fixtures: the app in development mode (no API key) and its test client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.api import create_app

ROOT = Path(__file__).resolve().parent.parent


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
