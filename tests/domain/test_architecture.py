"""The clinical core stays framework-free."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "service" / "domain"
FORBIDDEN = (
    "flask",
    "flask_smorest",
    "marshmallow",
    "webargs",
    "werkzeug",
    "apispec",
    "gunicorn",
    "requests",
    "service.api",
    "service.adapters",
)


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda p: p.name)
def test_the_domain_module_imports_no_framework_and_no_shell(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for n in names:
            assert not n.startswith(FORBIDDEN), f"{path.name} imports {n}"


def test_the_domain_does_no_io():
    for path in DOMAIN.glob("*.py"):
        src = path.read_text()
        for call in (r"(?<![\w.])open\(", r"\brequests\.", r"\burlopen", r"\bos\.environ", r"\blogging\."):
            assert not re.search(call, src), f"{path.name} matches {call}"
