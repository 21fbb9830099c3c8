"""Fixtures for the adapter tests: sample messages and code maps. No Flask app is involved."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from service.adapters.codes import CodeMap, load_codemap

SAMPLES = Path(__file__).resolve().parent / "samples"
ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2024, 8, 1)  # fixed "today" so ages never drift


@pytest.fixture(autouse=True)
def _no_lab_codemap_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's MGI_CODEMAP_FILE must not leak into the tests."""
    monkeypatch.delenv("MGI_CODEMAP_FILE", raising=False)


@pytest.fixture
def codemap() -> CodeMap:
    """The shipped defaults only."""
    return load_codemap()


@pytest.fixture
def lab_codemap() -> CodeMap:
    """Defaults merged with the sample lab file (local codes)."""
    return load_codemap(str(SAMPLES / "lab-codemap.yaml"))


@pytest.fixture
def worked_example_request() -> dict[str, Any]:
    """examples/worked-example-s6.json: the §6 worked example as a JSON request body."""
    return json.loads((ROOT / "examples" / "worked-example-s6.json").read_text())


@pytest.fixture
def worked_example_response() -> dict[str, Any]:
    """An engine response to the worked example, captured as a realistic interpretation dict."""
    return json.loads((SAMPLES / "worked-example-s6-response.json").read_text())


def sample_bytes(name: str) -> bytes:
    """Raw bytes of a sample file (separators preserved)."""
    return (SAMPLES / name).read_bytes()


def sample_json(name: str) -> dict[str, Any]:
    """A JSON sample as a dict."""
    return json.loads((SAMPLES / name).read_text())
