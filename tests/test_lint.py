"""ruff is part of the test run, so style and the import rules hold at every commit."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_the_code_passes_ruff():
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "service", "tests", "bench", "gunicorn.conf.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sys.version_info >= (3, 11)


def test_the_code_is_ruff_formatted():
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "service", "tests", "bench", "gunicorn.conf.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_service_passes_mypy():
    # The domain's annotations are its contract with the shell and the adapters: keep them true,
    # and the shell's with them.
    proc = subprocess.run([sys.executable, "-m", "mypy", "service"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
