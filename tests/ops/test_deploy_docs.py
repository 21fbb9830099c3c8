"""The documentation a hospital IT team follows: every setting documented with its real default, the
README's two commands, and links that lead somewhere."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION = ROOT / "docs" / "configuration.md"
# MGI_* words in the code that are not settings (an HL7 code of the service's own answers).
NOT_SETTINGS = {"MGI_INTERPRETATION"}
# Written alongside by other parts of the project; checked here once present.
DOCS_ELSEWHERE = {
    "operations.md",
    "errors.md",
    "units.md",
    "mllp.md",
    "records.md",
    "interfaces.md",
    "verification.md",
    "ruleset-changelog.md",
}


def settings_in_code() -> set[str]:
    sources = [*(ROOT / "service").rglob("*.py"), ROOT / "gunicorn.conf.py", ROOT / "docker-compose.yml"]
    names = set()
    for path in sources:
        names |= set(re.findall(r"\bMGI_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    return names - NOT_SETTINGS


def documented_defaults() -> dict[str, str]:
    rows = {}
    for line in CONFIGURATION.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`"):
            for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]):
                rows.setdefault(name, cells[1])
    return rows


def test_every_setting_in_the_code_is_in_the_configuration_reference():
    missing = settings_in_code() - set(documented_defaults())
    assert not missing, f"add to docs/configuration.md with its default: {sorted(missing)}"
    assert "PROMETHEUS_MULTIPROC_DIR" in documented_defaults()


def test_the_documented_gunicorn_defaults_are_the_real_ones(monkeypatch):
    for name in list(documented_defaults()):
        monkeypatch.delenv(name, raising=False)
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    doc = documented_defaults()
    assert doc["MGI_BIND"].startswith(f"`{conf['bind']}`")
    assert doc["MGI_WORKER_CLASS"] == f"`{conf['worker_class']}`"
    assert doc["MGI_TIMEOUT"] == f"`{conf['timeout']}`"
    assert doc["MGI_GUNICORN_LOG_LEVEL"] == f"`{conf['loglevel']}`"
    monkeypatch.setenv("MGI_WORKER_CLASS", "gthread")
    assert doc["MGI_THREADS"] == f"`{runpy.run_path(str(ROOT / 'gunicorn.conf.py'))['threads']}`"


def test_the_documented_service_defaults_are_the_real_ones():
    from service.api import MAX_BODY_BYTES
    from service.api.observability import ENV_LOG_LEVEL

    doc = documented_defaults()
    assert doc["MGI_MAX_BODY_BYTES"].startswith(f"`{MAX_BODY_BYTES}`")
    assert doc[ENV_LOG_LEVEL] == "`INFO`"
    assert doc["MGI_DEV_MODE"] == "`0`"


def test_the_readme_gives_two_commands_and_the_second_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", section, re.S)
    assert len(commands) == 2
    assert commands[0].endswith(".venv/bin/python -m service")
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def _links(path: Path) -> list[str]:
    return [t for t in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()) if "://" not in t]


@pytest.mark.parametrize(
    "page", ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]
)
def test_links_between_the_documents_resolve(page):
    path = ROOT / page
    for target in _links(path):
        resolved = (path.parent / target).resolve()
        if (
            resolved.parent == (ROOT / "docs").resolve()
            and resolved.name in DOCS_ELSEWHERE
            and not resolved.exists()
        ):
            continue
        assert resolved.exists(), f"{page} links to {target}, which does not exist"


def test_the_docs_index_and_the_readme_link_every_document():
    index = set(_links(ROOT / "docs" / "README.md"))
    readme = {t.removeprefix("docs/") for t in _links(ROOT / "README.md")}
    pages = {p.name for p in (ROOT / "docs").glob("*.md") if p.name != "README.md"} | DOCS_ELSEWHERE
    assert pages <= index, f"docs/README.md does not link {sorted(pages - index)}"
    assert pages <= readme, f"README.md does not link {sorted(pages - readme)}"
