"""SIGHUP never halts the service: a bad key file or code map is refused before any worker reads it and the
previous configuration stays in force (logged, on /readyz, in a metric); an emptied or all-revoked key
file is the operator's emergency stop and applies: every /v1 request is 401 and /readyz says why."""

from __future__ import annotations

import json
import signal
import time

import pytest

from service.api import create_app
from service.api.config_state import publish
from service.api.security import hash_key

from .server import ROOT, Gunicorn

PANEL = json.loads((ROOT / "examples" / "worked-example-s6.json").read_text())
OLD, NEW = "old-key-" + "o" * 32, "new-key-" + "n" * 32
TOKEN = "metrics-token-" + "m" * 24


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def key_file(path, **keys: str | tuple[str, bool]) -> None:
    lines = ["keys:"]
    for name, value in keys.items():
        key, revoked = value if isinstance(value, tuple) else (value, False)
        lines.append(f"  - {{name: {name}, sha256: {hash_key(key)}, revoked: {str(revoked).lower()}}}")
    path.write_text("\n".join(lines) + "\n" if keys else "keys: []\n")


@pytest.fixture
def published(tmp_path, monkeypatch):
    """A key file with OLD, published as gunicorn's master does at start; workers pointed at it."""
    keys = tmp_path / "keys.yaml"
    key_file(keys, lis=OLD)
    runtime = tmp_path / "run"
    monkeypatch.setenv("MGI_API_KEYS_FILE", str(keys))
    monkeypatch.setenv("MGI_METRICS_TOKEN", TOKEN)
    assert publish(runtime) == (True, "1 active key(s), 0 revoked")
    monkeypatch.setenv("MGI_ACTIVE_CONFIG", str(runtime / "config" / "active.json"))
    return keys, runtime


@pytest.mark.parametrize(
    "broken",
    ["keys: [unclosed\n", "keys:\n  - {name: lis, sha256: not-a-digest}\n", "nonsense"],
    ids=["bad-yaml", "bad-digest", "not-a-key-file"],
)
def test_a_bad_key_file_is_refused_and_the_previous_keys_stay_in_force(published, broken):
    keys, runtime = published
    keys.write_text(broken)
    ok, error = publish(runtime)
    assert not ok and str(keys.name) in error
    client = create_app({"TESTING": True}).test_client()  # a worker started after the refused reload
    assert client.post("/v1/interpretations", json=PANEL, headers=auth(OLD)).status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200
    (warning,) = ready.get_json()["warnings"]
    assert "configuration reload refused" in warning and "stays in force" in warning
    metrics = client.get("/metrics", headers=auth(TOKEN)).get_data(as_text=True)
    assert "mgi_config_reload_failed 1.0" in metrics and "mgi_api_keys_active 1.0" in metrics


def test_a_bad_code_map_is_refused_too(published, tmp_path, monkeypatch):
    _, runtime = published
    codemap = tmp_path / "lab.yaml"
    codemap.write_text("codes: [this is not a code map\n")
    monkeypatch.setenv("MGI_CODEMAP_FILE", str(codemap))
    ok, error = publish(runtime)
    assert not ok
    assert error.startswith(f"CodeMapError: {codemap}: malformed YAML") and "\n" not in error
    client = create_app({"TESTING": True}).test_client()
    assert client.post("/v1/interpretations", json=PANEL, headers=auth(OLD)).status_code == 200
    assert "reload refused" in client.get("/readyz").get_json()["warnings"][0]


def test_a_good_reload_applies_and_clears_the_warning(published):
    keys, runtime = published
    keys.write_text("keys: [")
    assert not publish(runtime)[0]
    key_file(keys, lis=NEW, old=(OLD, True))
    assert publish(runtime) == (True, "1 active key(s), 1 revoked")
    client = create_app({"TESTING": True}).test_client()
    assert client.post("/v1/interpretations", json=PANEL, headers=auth(NEW)).status_code == 200
    assert client.post("/v1/interpretations", json=PANEL, headers=auth(OLD)).status_code == 401
    assert "warnings" not in client.get("/readyz").get_json()
    assert "mgi_config_reload_failed 0.0" in client.get("/metrics", headers=auth(TOKEN)).get_data(
        as_text=True
    )


def test_the_published_copy_not_the_operator_s_file_is_what_workers_read(published):
    keys, _ = published
    key_file(keys, other=NEW)  # edited without a reload: not in force
    client = create_app({"TESTING": True}).test_client()
    assert client.post("/v1/interpretations", json=PANEL, headers=auth(OLD)).status_code == 200
    assert client.post("/v1/interpretations", json=PANEL, headers=auth(NEW)).status_code == 401


@pytest.mark.parametrize("emptied", [True, False], ids=["empty-key-file", "every-key-revoked"])
def test_an_emptied_or_all_revoked_key_file_locks_every_key_out_and_readiness_says_so(published, emptied):
    keys, runtime = published
    if emptied:
        key_file(keys)
    else:
        key_file(keys, lis=(OLD, True))
    assert publish(runtime)[0]
    client = create_app({"TESTING": True}).test_client()
    assert client.post("/v1/interpretations", json=PANEL, headers=auth(OLD)).status_code == 401
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "no active API key" in ready.get_json()["message"]
    assert client.get("/healthz").status_code == 200


def test_without_any_key_source_start_up_still_fails(monkeypatch):
    with pytest.raises(RuntimeError, match="no active API key configured"):
        create_app({"TESTING": True})


# ----------------------------------------------------------------------------- under gunicorn


def _until(predicate, seconds: float = 40) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def test_sighup_with_bad_then_good_then_emptied_key_files_never_halts_gunicorn(tmp_path):
    keys = tmp_path / "keys.yaml"
    key_file(keys, lis=OLD)
    env = {"MGI_API_KEYS_FILE": str(keys), "MGI_RUNTIME_DIR": str(tmp_path / "run")}
    with Gunicorn(tmp_path, env, workers=2) as server:
        assert server.post("/v1/interpretations", PANEL, auth(OLD))[0] == 200

        keys.write_text("keys: [unclosed\n")
        server.signal(signal.SIGHUP)
        assert _until(lambda: b"reload refused" in server.get("/readyz")[2]), server.output()[-3000:]
        time.sleep(2)  # the new workers replace the old ones
        assert server.alive(), server.output()[-3000:]
        assert [server.post("/v1/interpretations", PANEL, auth(OLD))[0] for _ in range(6)] == [200] * 6
        assert server.get("/readyz")[0] == 200

        key_file(keys, lis=NEW, old=(OLD, True))
        server.signal(signal.SIGHUP)
        assert _until(lambda: server.post("/v1/interpretations", PANEL, auth(NEW))[0] == 200)
        assert _until(lambda: server.post("/v1/interpretations", PANEL, auth(OLD))[0] == 401)
        assert b"warnings" not in server.get("/readyz")[2]

        key_file(keys)  # emergency: every key withdrawn
        server.signal(signal.SIGHUP)
        assert _until(lambda: server.get("/readyz")[0] == 503)
        time.sleep(2)
        assert [server.post("/v1/interpretations", PANEL, auth(NEW))[0] for _ in range(6)] == [401] * 6
        assert server.get("/healthz")[0] == 200
        assert server.alive()
    output = server.output()
    assert "mgi: configuration refused" in output and "reload refused" in output
    assert "Worker failed to boot" not in output and "Shutting down: Master" in output


def test_check_config_tells_an_operator_before_the_reload(tmp_path, monkeypatch, capsys):
    from service.__main__ import main

    keys = tmp_path / "keys.yaml"
    key_file(keys, lis=OLD)
    monkeypatch.setenv("MGI_API_KEYS_FILE", str(keys))
    assert main(["check-config"]) == 0
    assert capsys.readouterr().out.strip() == "mgi-config: OK: 1 active key(s), 0 revoked"
    keys.write_text("keys:\n  - {name: lis, sha256: 123}\n")
    assert main(["check-config"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("mgi-config: REFUSED: KeyConfigError:") and "SHA-256" in out
    assert not (tmp_path / "config").exists()  # checking publishes nothing
