"""The container deployment: Dockerfile, docker-compose.yml, .dockerignore, the requirement locks."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
TEST_TOOLS = ("pytest", "hypothesis", "schemathesis", "ruff", "requests", "iniconfig", "pluggy")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def service(compose) -> dict:
    return compose["services"]["mgi"]


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


def locked(name: str) -> dict[str, list[str]]:
    """requirements lock file -> {"name==version": [sha256 hashes]} (pip's hash-checking format)."""
    text = re.sub(r"\\\n", " ", (ROOT / name).read_text())
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            pin, *options = line.split()
            out[pin] = [o.removeprefix("--hash=sha256:") for o in options if o.startswith("--hash=sha256:")]
    return out


def test_the_image_installs_hash_pinned_dependencies_without_resolving_new_ones():
    runs = " ".join(rest for word, rest in dockerfile_instructions() if word == "RUN")
    assert "pip install --require-hashes --no-deps -r requirements.lock" in runs
    assert "pip install --require-hashes -r requirements-build.lock" in runs
    assert "pip check" in runs
    pins = locked("requirements.lock")
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-]+", p) for p in pins)
    assert all(hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes) for hashes in pins.values())
    names = {p.split("==")[0].lower().replace("_", "-") for p in pins}
    assert {"flask", "gunicorn", "prometheus-client", "marshmallow"} <= names
    assert not names & set(TEST_TOOLS)
    build = locked("requirements-build.lock")
    assert {p.split("==")[0] for p in build} == {"setuptools", "wheel"} and all(build.values())


def test_gunicorn_is_23_or_later_where_request_smuggling_flaws_of_22_are_closed():
    from packaging.requirements import Requirement
    from packaging.version import Version

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (gunicorn,) = [Requirement(r) for r in project["dependencies"] if r.startswith("gunicorn")]
    assert not gunicorn.specifier.contains(Version("22.0.0"))
    assert gunicorn.specifier.contains(Version("23.0.0"))
    (pin,) = [p for p in locked("requirements.lock") if p.startswith("gunicorn==")]
    assert Version(pin.split("==")[1]) >= Version("23")


def test_the_base_image_can_be_pinned_by_digest():
    instructions = dockerfile_instructions()
    # The base image is a build argument (a hospital registry may mirror it), python:3.11-slim by
    # default, and PYTHON_DIGEST=sha256:... pins it to one exact image.
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim") in instructions
    assert ("ARG", "PYTHON_DIGEST=") in instructions
    froms = [rest.split()[0] for word, rest in instructions if word == "FROM"]
    assert froms and all(image == "${PYTHON_IMAGE}${PYTHON_DIGEST:+@}${PYTHON_DIGEST}" for image in froms)


def test_the_image_starts_gunicorn_with_the_config_file():
    cmd = [rest for word, rest in dockerfile_instructions() if word == "CMD"][-1]
    assert cmd == '["gunicorn", "-c", "gunicorn.conf.py", "service.wsgi:app"]'


def test_the_build_context_is_an_allow_list():
    lines = (ROOT / ".dockerignore").read_text().split()
    assert lines[lines.index("*")] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {
        "pyproject.toml",
        "README.md",
        "requirements.lock",
        "requirements-build.lock",
        "gunicorn.conf.py",
        "service",
    }


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
    assert service["user"].split(":")[0] not in ("root", "0")


@pytest.mark.parametrize("name", ["mgi", "proxy"])
def test_compose_bounds_memory_cpu_and_processes(compose, name):
    svc = compose["services"][name]
    assert svc["mem_limit"] and svc["memswap_limit"] == svc["mem_limit"]
    assert svc["cpus"] and 0 < svc["pids_limit"] <= 256
    assert svc["cap_drop"] == ["ALL"] and "no-new-privileges:true" in svc["security_opt"]
    assert svc["read_only"] is True and svc["user"].split(":")[0] not in ("root", "0")


def test_only_the_proxy_is_published_and_the_service_sits_on_an_internal_network(compose):
    services = compose["services"]
    assert "ports" not in services["mgi"]
    assert services["mgi"]["networks"] == ["backend"]
    assert compose["networks"]["backend"]["internal"] is True
    assert set(services["proxy"]["networks"]) == {"backend", "frontend"}
    published = [p.rsplit(":", 1)[1] for p in services["proxy"]["ports"]]
    assert sorted(published) == ["8080", "8443"]
    assert [name for name, svc in services.items() if "ports" in svc] == ["proxy"]


def test_the_proxy_runs_the_shipped_nginx_config_with_mounted_certificates(compose):
    proxy = compose["services"]["proxy"]
    mounts = {v.rsplit(":", 2)[1]: v for v in proxy["volumes"]}
    assert mounts["/etc/nginx/nginx.conf"] == "./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro"
    assert mounts["/etc/nginx/conf.d"] == "./deploy/nginx/conf.d:/etc/nginx/conf.d:ro"
    assert mounts["/etc/nginx/tls"].endswith(":/etc/nginx/tls:ro")
    assert proxy["depends_on"]["mgi"]["condition"] == "service_healthy"
    assert "/healthz" in " ".join(proxy["healthcheck"]["test"])


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
