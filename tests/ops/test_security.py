"""API-key authentication: service/api/security.py on a throwaway app."""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys

import pytest

from service.api import security
from service.api.security import KeyConfigError, init_security

from .conftest import KEY, OTHER_KEY, REVOKED_KEY, bearer, build_app, digest

STANDARD_KEYS = {"code", "status", "message", "errors"}


def assert_unauthorized(response, invalid_token: bool) -> None:
    assert response.status_code == 401
    body = response.get_json()
    assert set(body) == STANDARD_KEYS
    assert body["code"] == 401
    assert body["status"] == "Unauthorized"
    assert body["errors"] == {}
    assert body["message"]
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer")
    assert ('error="invalid_token"' in challenge) is invalid_token


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/interpretations"),
        ("GET", "/v1/items/1"),
        ("GET", "/v1/ruleset-that-does-not-exist"),
        ("DELETE", "/v1/items/1"),
        ("GET", "/v1"),
        ("GET", "//v1/items/1"),
        ("GET", "/v1//items/1"),
    ],
)
def test_a_v1_request_without_a_key_gets_401_with_the_standard_body(client, method, path):
    # PATH_INFO set directly: the test client would read "//v1/..." as a host name.
    response = client.open("/", method=method, json={"spep": {}}, environ_overrides={"PATH_INFO": path})
    assert_unauthorized(response, invalid_token=False)


@pytest.mark.parametrize(
    ("header",),
    [
        ("Basic dXNlcjpwYXNz",),
        ("Bearer",),
        ("Bearer ",),
        ("Token " + KEY,),
        (KEY,),
        ("Bearer " + KEY + " extra",),
        ("Bearer " + "x" * 600,),
        ("Bearer kéy",),
        ("Bearer\t" + KEY,),
    ],
)
def test_a_malformed_authorization_header_gets_401(client, header):
    response = client.get("/v1/items/1", headers={"Authorization": header})
    assert_unauthorized(response, invalid_token=True)


def test_an_unknown_key_gets_401(client):
    assert_unauthorized(client.get("/v1/items/1", headers=bearer(OTHER_KEY)), True)


def test_a_valid_key_is_accepted_and_its_name_is_on_g(client):
    response = client.get("/v1/items/7", headers=bearer(KEY))
    assert response.status_code == 200
    assert response.get_json() == {"id": 7, "key": "lis"}


def test_the_bearer_scheme_is_case_insensitive(client):
    response = client.get("/v1/items/7", headers={"Authorization": f"bearer {KEY}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path",),
    [
        ("/healthz",),
        ("/readyz",),
        ("/openapi.json",),
        ("/docs",),
        ("/other",),
        ("/v2/anything",),
        ("/v1x",),
    ],
)
def test_open_paths_need_no_key(client, path):
    assert client.get(path).status_code != 401


def test_a_revoked_key_from_app_config_gets_401(monkeypatch):
    app = build_app(API_KEYS={"lis": digest(KEY), "old": {"sha256": digest(REVOKED_KEY), "revoked": True}})
    client = app.test_client()
    assert_unauthorized(client.get("/v1/items/1", headers=bearer(REVOKED_KEY)), True)
    assert client.get("/v1/items/1", headers=bearer(KEY)).status_code == 200


def test_a_revoked_key_in_a_yaml_file_gets_401_while_the_new_one_works(tmp_path, monkeypatch):
    key_file = tmp_path / "keys.yaml"
    key_file.write_text(
        "keys:\n"
        f"  - {{name: lis-2025, sha256: {digest(OTHER_KEY)}}}\n"
        f"  - {{name: lis-2024, sha256: {digest(REVOKED_KEY)}, revoked: true}}\n"
    )
    monkeypatch.setenv("MGI_API_KEYS_FILE", str(key_file))
    client = build_app(API_KEYS=None).test_client()
    assert_unauthorized(client.get("/v1/items/1", headers=bearer(REVOKED_KEY)), True)
    response = client.get("/v1/items/1", headers=bearer(OTHER_KEY))
    assert response.get_json()["key"] == "lis-2025"


def test_a_plain_lines_key_file_with_a_revoked_marker_is_read(tmp_path, monkeypatch):
    key_file = tmp_path / "keys.txt"
    key_file.write_text(
        "# name sha256\n"
        f"lis-2025 {digest(OTHER_KEY)}\n\n"
        f"lis-2024 {digest(REVOKED_KEY)} revoked   # rotated out\n"
    )
    monkeypatch.setenv("MGI_API_KEYS_FILE", str(key_file))
    client = build_app(API_KEYS=None).test_client()
    assert client.get("/v1/items/1", headers=bearer(OTHER_KEY)).status_code == 200
    assert client.get("/v1/items/1", headers=bearer(REVOKED_KEY)).status_code == 401


def test_keys_from_the_environment_variable_work(monkeypatch):
    monkeypatch.setenv("MGI_API_KEYS", f" a:{digest(KEY)} , b:{digest(OTHER_KEY).upper()},")
    client = build_app(API_KEYS=None).test_client()
    assert client.get("/v1/items/1", headers=bearer(KEY)).get_json()["key"] == "a"
    assert client.get("/v1/items/1", headers=bearer(OTHER_KEY)).get_json()["key"] == "b"


def test_every_configured_digest_is_compared_without_early_exit(monkeypatch):
    keys = {f"k{i}": digest(f"key-number-{i}") for i in range(5)}
    calls = []
    real = security.hmac.compare_digest

    def counting(a, b):
        calls.append(b)
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", counting)
    client = build_app(API_KEYS=keys).test_client()
    response = client.get("/v1/items/1", headers=bearer("key-number-0"))
    assert response.get_json()["key"] == "k0"
    assert len(calls) == 5


def test_development_mode_logs_a_warning_at_every_start_and_opens_v1(log_lines, monkeypatch):
    build_app(API_KEYS=None, DEV_MODE=True)
    monkeypatch.setenv("MGI_DEV_MODE", "1")
    client = build_app(API_KEYS=None).test_client()
    warnings = [d for d in log_lines.json("mgi.security") if d["level"] == "WARNING"]
    assert len(warnings) == 2
    assert all(d["msg"].startswith("development mode: authentication disabled") for d in warnings)
    assert client.get("/v1/items/3").get_json() == {"id": 3, "key": "dev"}


def test_start_up_fails_without_any_key_or_development_mode():
    with pytest.raises(RuntimeError, match="no active API key configured"):
        build_app(API_KEYS=None)


def test_every_key_revoked_is_a_lockdown_not_a_start_up_failure(log_lines):
    # The operator's emergency stop after a leak: it applies, and readiness says why nothing is served.
    client = build_app(API_KEYS={"old": {"sha256": digest(KEY), "revoked": True}}).test_client()
    assert client.get("/v1/items/1", headers=bearer(KEY)).status_code == 401
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "no active API key" in ready.get_json()["message"]
    assert any(
        line["level"] == "ERROR" and "all revoked" in line["msg"] for line in log_lines.json("mgi.security")
    )


@pytest.mark.parametrize(
    ("env_value", "message"),
    [
        ("lis:not-a-digest", r"MGI_API_KEYS entry #1 \(key 'lis'\): expected a SHA-256 hex"),
        (f"a:{digest(KEY)},lis", r"MGI_API_KEYS entry #2: expected 'name:sha256hex'"),
        (f"a:{digest(KEY)},a:{digest(OTHER_KEY)}", r"duplicate API key name 'a'"),
        (f"a:{digest(KEY)},b:{digest(KEY)}", r"'b' .* has the same digest as 'a'"),
        (f"bad name:{digest(KEY)}", r"MGI_API_KEYS entry #1: key name 'bad name' is invalid"),
        (f"lis:{KEY}", r"did you paste the key itself"),
    ],
)
def test_a_malformed_key_configuration_fails_at_start_up_naming_the_entry(monkeypatch, env_value, message):
    monkeypatch.setenv("MGI_API_KEYS", env_value)
    with pytest.raises(KeyConfigError, match=message) as excinfo:
        build_app(API_KEYS=None)
    assert KEY not in str(excinfo.value)


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("keys:\n  - {name: a, sha256: abc}\n", ".yaml", r"keys\[1\] \(key 'a'\)"),
        (
            f"keys:\n  - {{name: a, sha256: {'a' * 64}, expires: 2025}}\n",
            ".yaml",
            r"keys\[1\]: unknown field",
        ),
        (
            f"keys:\n  a: {'a' * 64}\n  b: {{sha256: {'b' * 64}, revoked: maybe}}\n",
            ".yml",
            r"entry 'b'.*'revoked' must be true or false",
        ),
        (f"keys:\n  a: {'1' * 64}\n", ".yml", r"entry 'a'.*quote the digest"),
        ("keys: [\n", ".yaml", "not valid YAML"),
        ("- a\n", ".yaml", "must be a mapping with a 'keys' field"),
        (f"a {'a' * 64}\nb\n", ".txt", r"line 2: expected 'name sha256hex'"),
        (f"a {'a' * 64}\na {'b' * 64}\n", "", r"duplicate API key name 'a'"),
    ],
)
def test_a_malformed_key_file_fails_at_start_up_naming_the_entry(
    tmp_path, monkeypatch, content, suffix, message
):
    key_file = tmp_path / f"keys{suffix}"
    key_file.write_text(content)
    monkeypatch.setenv("MGI_API_KEYS_FILE", str(key_file))
    with pytest.raises(KeyConfigError, match=message):
        build_app(API_KEYS=None)


def test_a_missing_key_file_fails_at_start_up(tmp_path, monkeypatch):
    monkeypatch.setenv("MGI_API_KEYS_FILE", str(tmp_path / "absent.yaml"))
    with pytest.raises(KeyConfigError, match="cannot read"):
        build_app(API_KEYS=None)


def test_an_unparseable_development_mode_flag_fails_at_start_up(monkeypatch):
    monkeypatch.setenv("MGI_DEV_MODE", "maybe")
    with pytest.raises(KeyConfigError, match="MGI_DEV_MODE"):
        build_app()


def test_no_key_ever_reaches_the_logs(client, log_lines, caplog):
    caplog.set_level(logging.DEBUG)
    client.get("/v1/items/1", headers=bearer(KEY))
    client.get("/v1/items/1", headers=bearer(OTHER_KEY))
    client.get("/v1/items/1", headers={"Authorization": "Basic " + KEY})
    text = "\n".join(log_lines.lines) + caplog.text
    assert '"key_name":"lis"' in text
    assert KEY not in text and OTHER_KEY not in text
    assert digest(KEY) not in text


def test_hash_key_prints_a_new_key_and_its_config_line(capsys, monkeypatch):
    assert security.main(["hash-key", "--name", "lis-prod"]) == 0
    key, line = capsys.readouterr().out.splitlines()
    name, hexdigest = line.split(":")
    assert name == "lis-prod"
    assert len(key) >= 43
    assert hexdigest == hashlib.sha256(key.encode()).hexdigest()
    monkeypatch.setenv("MGI_API_KEYS", line)
    client = build_app(API_KEYS=None).test_client()
    assert client.get("/v1/items/1", headers=bearer(key)).get_json()["key"] == "lis-prod"


def test_hash_key_runs_as_a_module_and_never_repeats_a_key():
    def run() -> list[str]:
        done = subprocess.run(
            [sys.executable, "-m", "service.api.security", "hash-key"],
            capture_output=True,
            text=True,
            check=True,
        )
        # runpy warns when the package imports the module it is about to run as __main__.
        assert "Warning" not in done.stderr
        return done.stdout.splitlines()

    first, second = run(), run()
    assert first[1].startswith("lis:")
    assert first[0] != second[0]


def test_the_digest_command_hashes_a_key_read_from_standard_input():
    done = subprocess.run(
        [sys.executable, "-m", "service.api.security", "digest"],
        input=KEY + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == digest(KEY)


def test_init_security_returns_the_state_without_the_keys_in_clear():
    from flask import Flask

    app = Flask("bare")
    app.config["API_KEYS"] = {"lis": digest(KEY), "old": {"sha256": digest(OTHER_KEY), "revoked": True}}
    state = init_security(app)
    assert state.active_names == ["lis"]
    assert KEY not in repr(state)
