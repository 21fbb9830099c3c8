"""The schema is Alembic's: up from empty, down and up again, models and migrations agree; the service
refuses to start on a schema that is not current, and without the patient key secret."""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from service.api import create_app
from service.store import IdempotencyConflict, RecordStore, SchemaNotCurrent, StoreConfigError, migrate
from service.store.models import Base, RecordKey
from service.store.repository import NewRecord

from .conftest import SECRET, fresh_postgres_database, store_app

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    with fresh_postgres_database() as url:
        yield url


def test_migrations_run_up_from_empty_down_to_empty_and_up_again(empty_url):
    engine = RecordStore.from_url(empty_url).engine
    assert migrate.current(engine) is None
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    assert {"interpretations", "record_reads"} <= set(inspect(engine).get_table_names())
    migrate.downgrade(engine, "base")
    assert migrate.current(engine) is None
    assert not {"interpretations", "record_reads"} & set(inspect(engine).get_table_names())
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    engine.dispose()


def test_the_models_agree_with_the_migrations(empty_url):
    engine = RecordStore.from_url(empty_url).engine
    migrate.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == []


def test_the_service_refuses_to_start_on_an_unmigrated_database_and_says_what_to_run(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    with pytest.raises(SchemaNotCurrent, match=r"python -m service db upgrade"):
        store_app(url, tmp_path)


def test_the_service_refuses_to_start_without_the_patient_key_secret_outside_development_mode(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    cfg = {
        "TESTING": True,
        "API_KEYS": {"lis": "0" * 64},
        "STORE": "on",
        "DATABASE_URL": url,
        "PATIENT_KEY_SECRET": None,
    }
    with pytest.raises(StoreConfigError, match="MGI_PATIENT_KEY_SECRET"):
        create_app(cfg)
    with pytest.raises(StoreConfigError, match="at least 32"):
        create_app({**cfg, "PATIENT_KEY_SECRET": "x" * 31})


def test_development_mode_generates_a_secret_once_and_keeps_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'dev.sqlite3'}"
    a = store_app(url, tmp_path, PATIENT_KEY_SECRET=None, STORE_AUTO_MIGRATE=True)
    b = store_app(url, tmp_path, PATIENT_KEY_SECRET=None)
    ka = a.extensions["mgi.store"].store.patient_key("MRN-1")
    assert ka == b.extensions["mgi.store"].store.patient_key("MRN-1")
    assert ka != RecordStore.from_url(url, SECRET.encode()).patient_key("MRN-1")
    assert (tmp_path / "data" / "patient-key-secret.dev").stat().st_mode & 0o077 == 0


def test_with_the_store_off_the_answer_is_the_stateless_one(tmp_path, worked_example):
    app = store_app("sqlite:///unused.sqlite3", tmp_path, STORE="off")
    r = app.test_client().post("/v1/interpretations", json={**worked_example, "patient_ref": "MRN-1"})
    assert r.status_code == 200
    assert "id" not in r.json and "Location" not in r.headers
    assert all(u["source"] == "request" for u in r.json["history_used"])  # nothing from a store
    listing = app.test_client().get("/v1/interpretations")
    assert listing.status_code == 405 and listing.headers["Allow"] == "POST"
    assert app.test_client().get("/v1/interpretations/0123").status_code == 404
    assert not (tmp_path / "data").exists()


def test_the_domain_never_imports_the_store():
    for path in (ROOT / "service" / "domain").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("service.store"), path.name
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("service.store") for a in node.names), path.name


def test_the_store_imports_neither_the_shell_nor_flask():
    for path in (ROOT / "service" / "store").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else ([a.name for a in node.names] if isinstance(node, ast.Import) else [])
            )
            assert not any(n.startswith(("service.api", "flask", "marshmallow")) for n in names), path


def test_compose_runs_postgresql_with_a_volume_and_points_the_service_at_it():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    pg = compose["services"]["postgres"]
    assert pg["image"].startswith("postgres:15")
    volume = pg["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]
    env = compose["services"]["mgi"]["environment"]
    assert (
        env["MGI_DATABASE_URL"].startswith("postgresql+psycopg://")
        and "@postgres:5432/" in env["MGI_DATABASE_URL"]
    )
    assert "MGI_PATIENT_KEY_SECRET" in env


def test_the_development_server_migrates_its_embedded_database_before_starting(tmp_path, monkeypatch):
    from service.__main__ import _prepare_embedded_store

    monkeypatch.setenv("MGI_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MGI_STORE", "on")
    monkeypatch.delenv("MGI_DATABASE_URL", raising=False)
    assert "mgi.sqlite3" in _prepare_embedded_store()
    engine = RecordStore.from_url(f"sqlite:///{tmp_path / 'var' / 'mgi.sqlite3'}").engine
    assert migrate.current(engine) == migrate.head()
    engine.dispose()
    monkeypatch.setenv("MGI_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    assert _prepare_embedded_store() == "records in MGI_DATABASE_URL"  # never migrated implicitly


def test_the_db_command_says_what_the_database_needs(tmp_path):
    import subprocess
    import sys

    from .conftest import ROOT_DIR

    env = {"MGI_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def db(*args):
        return subprocess.run(
            [sys.executable, "-m", "service", "db", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT_DIR,
            timeout=120,
        )

    before = db("current")
    assert before.returncode == 1 and f"schema none; this version needs {migrate.head()}" in before.stdout
    assert db("upgrade").returncode == 0
    assert db("current").returncode == 0
    assert db("downgrade", "base").returncode == 0
    assert db("current").returncode == 1


def test_an_unwritable_data_directory_is_refused_at_start_naming_the_settings(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreConfigError, match="MGI_DATA_DIR"):
        store_app(f"sqlite:///{blocker / 'sub' / 'x.sqlite3'}", tmp_path)


def saved(
    store: RecordStore,
    body: dict,
    specimen: str,
    *,
    api_key_name: str | None = None,
    idempotency_key: str | None = None,
) -> str:
    """The id of a record of ``body`` saved straight into ``store`` (a migration test's row)."""
    record, _ = store.save(
        NewRecord(
            request=body,
            response=body,
            collected_on=date(2025, 1, 1),
            patient_key="k" * 64,
            specimen_id=specimen,
            source="json",
            api_key_name=api_key_name,
            request_id=None,
            idempotency_key=idempotency_key,
            ruleset_version="r",
            classification_code="C",
            status="auto",
        )
    )
    return record.id


def test_postgresql_compresses_new_bodies_with_lz4_and_keeps_earlier_rows_readable():
    """0003_lz4_bodies on a database of the previous release with a record in it (PostgreSQL only)."""
    with fresh_postgres_database() as url:
        store = RecordStore.from_url(url, b"s" * 32)
        migrate.upgrade(store.engine, "0002_reviews")
        body = {"spep": {"m_protein": {"value": 1.5, "unit": "g/dL"}}, "notes": ["x" * 4000]}

        def add(specimen: str) -> str:
            return saved(store, body, specimen)

        def compression(rid: str) -> str:
            with store.engine.connect() as c:
                return c.exec_driver_sql(
                    "SELECT pg_column_compression(response) FROM interpretations WHERE id = %(i)s", {"i": rid}
                ).scalar_one()

        before = add("before")
        assert compression(before) == "pglz"
        migrate.upgrade(store.engine)
        after = add("after")
        assert compression(after) == "lz4" and compression(before) == "pglz"
        for rid in (before, after):
            got = store.get(rid, reader=None, request_id=None)
            assert got is not None and got.response == body and got.request == body
        migrate.downgrade(store.engine, "0002_reviews")
        assert compression(add("down")) == "pglz"
        store.dispose()


def test_records_of_the_previous_release_survive_0005_and_answer_keys_bound_to_them(empty_url):
    """0005_record_keys on a database at 0004 with records in it: the records keep their own keys, a
    key bound after the upgrade finds its record, and the downgrade drops the bound keys only."""
    store = RecordStore.from_url(empty_url, SECRET.encode())
    migrate.upgrade(store.engine, "0004_review_idempotency")
    body = {"spep": {"m_protein": {"value": 1.5, "unit": "g/dL"}}}

    def add(key: str, specimen: str) -> str:
        return saved(store, body, specimen, api_key_name="lis", idempotency_key=key)

    first = add("own-1", "S1")
    migrate.upgrade(store.engine)
    assert "record_keys" in inspect(store.engine).get_table_names()
    names = {u["name"] for u in inspect(store.engine).get_unique_constraints("record_keys")}
    assert "uq_record_keys_api_key_name_idempotency_key" in names

    def find(key: str):
        return store.find_retry(
            api_key_name="lis", idempotency_key=key, patient_key=None, specimen_id=None, request_hash="-"
        )

    with pytest.raises(IdempotencyConflict):  # its own key, still answered (another body's hash)
        find("own-1")
    with store.engine.begin() as conn:
        conn.execute(
            RecordKey.__table__.insert(),
            dict(api_key_name="lis", idempotency_key="bound-1", interpretation_id=first, bound_at=NOW),
        )
    with pytest.raises(IdempotencyConflict):
        find("bound-1")
    assert find("never-used") is None
    migrate.downgrade(store.engine, "0004_review_idempotency")
    assert "record_keys" not in inspect(store.engine).get_table_names()
    assert store.count() == 1
    store.dispose()
