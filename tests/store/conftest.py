"""The records store under test: SQLite always; PostgreSQL when MGI_TEST_DATABASE_URL names a server.

PostgreSQL tests get a database of their own, created for the test session and dropped after it
(tables emptied between tests), so they never touch anything else on the server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from service.api import create_app
from service.store import RecordStore, migrate

ROOT_DIR = str(__import__("pathlib").Path(__file__).resolve().parents[2])
SECRET = "test-secret-0123456789abcdef0123456789abcdef"
PG_ENV = "MGI_TEST_DATABASE_URL"
NO_PG = f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database on the MGI_TEST_DATABASE_URL server, dropped afterwards."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(NO_PG)
    url = make_url(base)
    name = f"mgi_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    # No pool: each statement gets a fresh connection (a PostgreSQL restart in between is harmless).
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (dropped at the end)."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def migrated_postgres(postgres_url) -> str:
    store = RecordStore.from_url(postgres_url)
    migrate.upgrade(store.engine)
    store.dispose()
    return postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    """A migrated, empty records database: a SQLite file, or the session's PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
        store = RecordStore.from_url(url)
        migrate.upgrade(store.engine)
        store.dispose()
        yield url
        return
    url = request.getfixturevalue("migrated_postgres")
    yield url
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE interpretations, record_keys, record_reads, reviews RESTART IDENTITY"))
    engine.dispose()


def store_app(url: str, tmp_path, **config):
    cfg = {
        "TESTING": True,
        "DEV_MODE": True,
        "STORE": "on",
        "DATABASE_URL": url,
        "DATA_DIR": str(tmp_path / "data"),
        "PATIENT_KEY_SECRET": SECRET,
    }
    cfg.update(config)
    return create_app(cfg)


@pytest.fixture
def app(database_url, tmp_path):
    """The app with the records store on (SQLite or PostgreSQL)."""
    application = store_app(database_url, tmp_path)
    yield application
    application.extensions["mgi.store"].store.dispose()


@pytest.fixture
def store(app) -> RecordStore:
    return app.extensions["mgi.store"].store
