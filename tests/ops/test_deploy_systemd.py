"""deploy/systemd/: the unit verifies with systemd-analyze and is hardened; the host's nginx site
(deploy/nginx/conf.d/mgi.conf with deploy/systemd/mgi-upstream.conf) serves the service on its
Unix socket."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "mgi.service"
sys.path.insert(0, str(ROOT))

from bench.proxy_stack import Stack, nginx_binary  # noqa: E402

needs_systemd = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (apt-get install -y systemd; .ci/run installs it)",
)


def unit_for_this_machine(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this venv's gunicorn (verify checks the binary exists)."""
    text = UNIT.read_text()
    assert text.count("ExecStart=/opt/mgi/venv/bin/gunicorn ") == 1
    gunicorn = Path(sys.executable).parent / "gunicorn"
    path = tmp_path / "mgi.service"
    path.write_text(text.replace("ExecStart=/opt/mgi/venv/bin/gunicorn ", f"ExecStart={gunicorn} "))
    return path


def settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


@needs_systemd
def test_the_unit_passes_systemd_analyze_verify(tmp_path):
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit_for_this_machine(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "mgi.service" not in done.stderr, done.stderr


@needs_systemd
def test_the_unit_rates_ok_in_systemds_security_review(tmp_path):
    done = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=yes",
            "--threshold=20",
            str(unit_for_this_machine(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr


def test_the_unit_runs_unprivileged_with_keys_on_a_socket_only_nginx_uses():
    s = settings()
    for key, value in {
        "DynamicUser": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "RuntimeDirectory": "mgi",
        "Type": "notify",
    }.items():
        assert s[key] == [value], key
    env = dict(e.split("=", 1) for e in s["Environment"])
    assert env["MGI_BIND"] == "unix:/run/mgi/gunicorn.sock" and env["MGI_DEV_MODE"] == "0"
    assert env["PROMETHEUS_MULTIPROC_DIR"].startswith("/run/mgi/")
    assert "MGI_API_KEYS_FILE" in env and "MGI_API_KEYS" not in env
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert int(s["TimeoutStopSec"][0]) > 10  # gunicorn's graceful_timeout
    assert s["MemoryMax"] and s["TasksMax"] and s["CPUQuota"]
    upstream = (ROOT / "deploy" / "systemd" / "mgi-upstream.conf").read_text()
    assert f"server {env['MGI_BIND']};" in upstream


def test_the_unit_parses_as_ini():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep the keys' case
    parser.read_string(UNIT.read_text())
    assert parser.sections() == ["Unit", "Service", "Install"]
    assert parser["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(nginx_binary() is None, reason="nginx is not installed (apt-get install -y nginx)")
def test_the_host_install_serves_through_nginx_on_the_unix_socket(tmp_path):
    # As deploy/systemd/ installs it: gunicorn on a Unix socket (MGI_BIND=unix:...), the shipped site
    # with the systemd upstream file in front.
    with Stack(tmp_path, workers=1, unix_socket=True) as stack:
        status, headers, _ = stack.get(stack.https("/healthz"))
        assert status == 200 and "strict-transport-security" in headers
        assert stack.interpret(stack.https("/v1/interpretations")) == (200, "MGUS_NON_IGM")
