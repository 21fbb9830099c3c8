"""The container deployment: Dockerfile, docker-compose.yml, .dockerignore, requirements.lock."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
TEST_TOOLS = ("pytest", "hypothesis", "schemathesis", "ruff", "requests", "iniconfig", "pluggy")


@pytest.fixture(scope="module")
def service() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]["mgi"]


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_image_runs_as_a_non_root_user():
    users = [rest for word, rest in dockerfile_instructions() if word == "USER"]
    assert users, "no USER instruction"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert dockerfile_instructions()[-1][0] == "CMD"


def test_the_image_installs_pinned_dependencies_without_resolving_new_ones():
    runs = " ".join(rest for word, rest in dockerfile_instructions() if word == "RUN")
    assert "pip install --no-deps -r requirements.lock" in runs
    assert "pip check" in runs
    pins = [
        line
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-]+", p) for p in pins)
    names = {p.split("==")[0].lower() for p in pins}
    assert {"flask", "gunicorn", "prometheus_client", "marshmallow"} <= names
    assert not names & set(TEST_TOOLS)


def test_the_image_starts_gunicorn_with_the_config_file():
    cmd = [rest for word, rest in dockerfile_instructions() if word == "CMD"][-1]
    assert cmd == '["gunicorn", "-c", "gunicorn.conf.py", "service.wsgi:app"]'
    # The base image is a build argument (a hospital registry may mirror it), python:3.11-slim by default.
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim") in dockerfile_instructions()
    froms = [rest.split()[0] for word, rest in dockerfile_instructions() if word == "FROM"]
    assert froms and all(image == "${PYTHON_IMAGE}" for image in froms)


def test_the_build_context_is_an_allow_list():
    lines = (ROOT / ".dockerignore").read_text().split()
    assert lines[lines.index("*")] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "requirements.lock", "gunicorn.conf.py", "service"}


def test_compose_requires_the_key_variable(service):
    value = service["environment"]["MGI_API_KEYS"]
    assert value.startswith("${MGI_API_KEYS:?")
    assert service["environment"]["MGI_DEV_MODE"] == "0"


def test_compose_has_a_healthcheck_on_healthz(service):
    check = service["healthcheck"]
    assert check["test"][0] == "CMD"
    assert "/healthz" in " ".join(check["test"])
    assert "curl" not in " ".join(check["test"])


def test_compose_hardens_the_container(service):
    assert service["read_only"] is True
    tmpfs = {entry.split(":")[0] for entry in service["tmpfs"]}
    assert {"/tmp", service["environment"]["PROMETHEUS_MULTIPROC_DIR"]} <= tmpfs
    assert service["restart"] in ("always", "unless-stopped", "on-failure")
    assert "8000:8000" in service["ports"]
    assert service["user"].split(":")[0] not in ("root", "0")


def _compose(env_overrides: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MGI_API_KEYS"}
    env.update(env_overrides)
    empty_env_file = tmp_path / "empty.env"  # ignore any .env lying in the repo
    empty_env_file.write_text("")
    return subprocess.run(
        ["docker-compose", "--env-file", str(empty_env_file), "-f", str(COMPOSE), "config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose binary not installed (apt-get install docker-compose)",
)
@pytest.mark.parametrize(
    ("env", "starts"),
    [({"MGI_API_KEYS": "lis:" + "a" * 64}, True), ({}, False), ({"MGI_API_KEYS": ""}, False)],
)
def test_docker_compose_config_refuses_to_run_without_a_key(tmp_path, env, starts):
    done = _compose(env, tmp_path)
    if starts:
        assert done.returncode == 0, done.stderr
        assert "lis:" + "a" * 64 in done.stdout
    else:
        assert done.returncode != 0
        assert "set MGI_API_KEYS" in done.stderr
