"""The configuration files in force under gunicorn, validated before any worker reads them.

The API-key file (``MGI_API_KEYS_FILE``) and the lab code map (``MGI_CODEMAP_FILE``) are re-read on a
reload (SIGHUP). A worker that cannot load them cannot start, and gunicorn stops for good when
workers fail to boot, so a typo in the key file would take the service down. Instead:

1. At start and on every SIGHUP, the gunicorn master runs ``python -m service check-config --publish
   RUNTIME_DIR`` (gunicorn.conf.py). It copies both files into a new generation directory under
   ``RUNTIME_DIR/config/``, validates the copies exactly as a worker loads them, and only if they are
   valid publishes them: ``active.json`` then names the copies. ``status.json`` records the attempt.
2. Workers (``MGI_ACTIVE_CONFIG`` = that ``active.json``) read the published copies, never the
   operator's files: a refused reload leaves the previous copies in force, for new workers too.
3. A refused reload is logged by the master, shown in ``/readyz`` (``warnings``; still 200: the
   service answers with the previous configuration) and in ``mgi_config_reload_failed``. At start, an
   invalid configuration stops the service with the error, as before.

A key file naming no active key (emptied, or every key revoked) is valid: it is the operator's
emergency stop after a leak. It applies: every /v1 request is 401, and /readyz answers 503 saying why.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Flask

ENV_ACTIVE = "MGI_ACTIVE_CONFIG"
ENV_KEYS_FILE = "MGI_API_KEYS_FILE"
ENV_CODEMAP_FILE = "MGI_CODEMAP_FILE"
FILES = {"api_keys_file": ENV_KEYS_FILE, "codemap_file": ENV_CODEMAP_FILE}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _write_json(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)  # readers see the old file or the new one, never half of one


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def validate(files: dict[str, str | None]) -> tuple[int, int]:
    """Load the files as a worker does; raises on the first problem. Returns (active, revoked) keys."""
    from service.adapters.codes import load_codemap

    from .security import load_security_config

    probe = Flask("mgi-config-check")
    if files.get("api_keys_file"):
        probe.config["API_KEYS_FILE"] = files["api_keys_file"]
    state = load_security_config(probe)
    load_codemap(files.get("codemap_file") or "")
    return len(state.active_names), len(state.keys) - len(state.active_names)


def publish(runtime_dir: str | os.PathLike[str]) -> tuple[bool, str]:
    """Snapshot, validate and (if valid) publish the configuration files; record the attempt."""
    root = Path(runtime_dir) / "config"
    root.mkdir(parents=True, exist_ok=True)
    status_path = root / "status.json"
    previous = _read_json(root / "active.json")
    generation = root / f"gen-{time.time_ns()}"
    generation.mkdir()
    files: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    try:
        for field, env in FILES.items():
            source = os.environ.get(env, "").strip()
            if not source:
                files[field] = None
                continue
            # The copy is what is validated and what workers read: an edit after this moment cannot
            # slip past the check.
            target = generation / field / Path(source).name
            target.parent.mkdir()
            try:
                shutil.copyfile(source, target)
            except OSError as exc:
                raise RuntimeError(f"{env}={source}: cannot read ({exc.strerror})") from None
            files[field] = str(target)
            sources[str(target)] = source
        active, revoked = validate(files)
    except Exception as exc:
        shutil.rmtree(generation, ignore_errors=True)
        error = f"{type(exc).__name__}: {exc}"
        for copy, source in sources.items():  # name the operator's file, not our copy of it
            error = error.replace(copy, source)
        error = " ".join(error.split())  # one line: the master logs it as one
        status = {"ok": False, "at": _now(), "error": error}
        if previous is not None:
            status["active_since"] = previous.get("published_at")
        _write_json(status_path, status)
        return False, error
    manifest = {**files, "published_at": _now(), "active_keys": active, "revoked_keys": revoked}
    _write_json(root / "active.json", manifest)
    _write_json(
        status_path, {"ok": True, "at": manifest["published_at"], "active_since": manifest["published_at"]}
    )
    for old in root.glob("gen-*"):  # workers have loaded their copies at start: only the newest is needed
        if old != generation:
            shutil.rmtree(old, ignore_errors=True)
    return True, f"{active} active key(s), {revoked} revoked"


# --------------------------------------------------------------------------- worker side


def active_manifest() -> tuple[Path, dict[str, Any]] | None:
    path = os.environ.get(ENV_ACTIVE, "").strip()
    if not path:
        return None
    manifest = _read_json(Path(path))
    if manifest is None:
        raise RuntimeError(f"{ENV_ACTIVE}={path}: the published configuration cannot be read")
    return Path(path), manifest


def apply_active_config(app: Flask) -> None:
    """Point the app at the published copies of the configuration files (no-op outside gunicorn)."""
    found = active_manifest()
    if found is None:
        return
    _, manifest = found
    if manifest.get("api_keys_file"):
        app.config["API_KEYS_FILE"] = manifest["api_keys_file"]
    # "" = the built-in code map only, as published (never a file named in the environment since).
    app.config["CODEMAP_FILE"] = manifest.get("codemap_file") or ""


def watch_config_status(app: Flask) -> None:
    """Report a refused reload on /readyz and in the metrics (call after init_observability)."""
    found = active_manifest()
    observability = app.extensions.get("mgi_observability")
    if found is None or observability is None:
        return
    status_path = found[0].parent / "status.json"

    def warnings() -> list[str]:
        status = _read_json(status_path) or {}
        if status.get("ok", True):
            return []
        return [
            f"configuration reload refused at {status.get('at')}: {status.get('error')}; the configuration "
            f"published at {status.get('active_since')} stays in force"
        ]

    def metrics() -> Iterator[object]:
        from prometheus_client.core import GaugeMetricFamily

        status = _read_json(status_path) or {}
        manifest = _read_json(found[0]) or {}
        yield GaugeMetricFamily(
            "mgi_config_reload_failed",
            "1 if the last configuration reload was refused (the previous configuration stays in force).",
            value=0.0 if status.get("ok", True) else 1.0,
        )
        yield GaugeMetricFamily(
            "mgi_api_keys_active",
            "Active API keys in the published configuration.",
            value=manifest.get("active_keys", 0),
        )

    observability.readiness_warnings.append(warnings)
    observability.status_metrics.append(metrics)


# --------------------------------------------------------------------------- command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m service check-config",
        description="Validate MGI_API_KEYS_FILE and MGI_CODEMAP_FILE as the service loads them; with "
        "--publish, make the valid copies the configuration gunicorn's workers read.",
    )
    parser.add_argument("--publish", metavar="RUNTIME_DIR", help="publish into RUNTIME_DIR/config")
    args = parser.parse_args(argv)
    if args.publish:
        ok, message = publish(args.publish)
    else:
        try:
            active, revoked = validate({k: os.environ.get(v) or None for k, v in FILES.items()})
            ok, message = True, f"{active} active key(s), {revoked} revoked"
        except Exception as exc:
            ok, message = False, f"{type(exc).__name__}: {exc}"
    print(f"mgi-config: {'OK' if ok else 'REFUSED'}: {message}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
