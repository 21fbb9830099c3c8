"""The store's settings, read from the environment (docs/records.md lists them).

| variable | default | meaning |
|---|---|---|
| MGI_STORE | on | ``off`` keeps the service stateless: nothing is stored, answers are 200 without id |
| MGI_DATA_DIR | ./var | the embedded SQLite database and, in development mode only, the generated secret |
| MGI_DATABASE_URL | sqlite under MGI_DATA_DIR | a SQLAlchemy URL, e.g. postgresql+psycopg://mgi@db/mgi |
| MGI_PATIENT_KEY_SECRET | (required) | the site secret of the patient key HMAC, at least 32 characters |
| MGI_RETENTION_DAYS | unset (keep) | records older than this are deleted by ``python -m service db purge`` |
| MGI_STORE_FAIL_OPEN | 0 | 1: answer (200, no id) when the database is unavailable instead of 503 |
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("mgi.store")

DEFAULT_DATA_DIR = "./var"
SQLITE_FILE = "mgi.sqlite3"
DEV_SECRET_FILE = "patient-key-secret.dev"
MIN_SECRET_LENGTH = 32


class StoreConfigError(RuntimeError):
    """The store's settings are missing or malformed: the service does not start."""


@dataclass(frozen=True)
class StoreSettings:
    enabled: bool
    url: str
    data_dir: Path
    embedded: bool  # the default SQLite file under data_dir (no MGI_DATABASE_URL)
    retention_days: int | None
    fail_open: bool


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "on", "true", "yes"):
        return True
    if raw in ("0", "off", "false", "no"):
        return False
    raise StoreConfigError(f"{name}={raw!r}: use on/off (or 1/0)")


def read_settings(env: Mapping[str, str] | None = None) -> StoreSettings:
    """The settings from ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    enabled = _flag(env, "MGI_STORE", True)
    data_dir = Path(env.get("MGI_DATA_DIR") or DEFAULT_DATA_DIR)
    url = (env.get("MGI_DATABASE_URL") or "").strip()
    embedded = not url
    if embedded:
        url = f"sqlite:///{(data_dir / SQLITE_FILE).as_posix()}"
    days_raw = (env.get("MGI_RETENTION_DAYS") or "").strip()
    retention: int | None = None
    if days_raw:
        if not days_raw.isdigit() or int(days_raw) < 1:
            raise StoreConfigError(f"MGI_RETENTION_DAYS={days_raw!r}: a whole number of days, at least 1")
        retention = int(days_raw)
    return StoreSettings(
        enabled=enabled,
        url=url,
        data_dir=data_dir,
        embedded=embedded,
        retention_days=retention,
        fail_open=_flag(env, "MGI_STORE_FAIL_OPEN", False),
    )


def patient_key_secret(data_dir: Path, *, dev_mode: bool, env: Mapping[str, str] | None = None) -> bytes:
    """The site secret of the patient key: MGI_PATIENT_KEY_SECRET, or in development mode only a
    secret generated once and kept in the data directory (with a warning at every start)."""
    env = os.environ if env is None else env
    value = env.get("MGI_PATIENT_KEY_SECRET", "")
    if value:
        if len(value) < MIN_SECRET_LENGTH:
            raise StoreConfigError(
                f"MGI_PATIENT_KEY_SECRET is {len(value)} characters: use at least {MIN_SECRET_LENGTH} "
                "(python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        return value.encode()
    if not dev_mode:
        raise StoreConfigError(
            "MGI_PATIENT_KEY_SECRET is not set: the store links a patient's panels by a keyed hash of "
            "patient_ref and needs the site's secret (at least 32 characters; keep it with the database "
            "backups: without it stored panels cannot be linked to new ones). Or set MGI_STORE=off."
        )
    path = data_dir / DEV_SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker wrote it first
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
    value = ""
    for _ in range(50):  # bounded: another worker may be between creating and writing it
        value = path.read_text().strip()
        if value:
            break
        time.sleep(0.02)
    log.warning(
        "development mode: the patient key secret is a generated one (%s); set "
        "MGI_PATIENT_KEY_SECRET for any real use",
        path,
    )
    if not value:
        raise StoreConfigError(f"{path} is empty: delete it to have a new development secret generated")
    return value.encode()
