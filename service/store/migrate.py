"""Schema migrations (Alembic, scripts shipped in service/store/migrations), run on an engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from .repository import SchemaNotCurrent

SCRIPTS = Path(__file__).resolve().parent / "migrations"
UPGRADE_HINT = "run `python -m service db upgrade` (with the same MGI_DATABASE_URL / MGI_DATA_DIR)"


def _config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.attributes["engine"] = engine
    return cfg


def head() -> str:
    """The revision this code needs."""
    rev = ScriptDirectory.from_config(_config_no_engine()).get_current_head()
    assert rev is not None
    return rev


def _config_no_engine() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    return cfg


def current(engine: Engine) -> str | None:
    """The database's revision (None: never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = _config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    cfg = _config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def check_current(engine: Engine) -> None:
    """Raise SchemaNotCurrent unless the database is at this code's revision."""
    have, need = current(engine), head()
    if have == need:
        return
    if have is None:
        raise SchemaNotCurrent(f"the records database has no schema yet: {UPGRADE_HINT}")
    raise SchemaNotCurrent(
        f"the records database is at schema revision {have}, this version needs {need}: {UPGRADE_HINT}"
    )
