"""The review console's schema (migration 0002_reviews up and down), the users command and the
demonstration data."""

from __future__ import annotations

import io
import subprocess
import sys

from sqlalchemy import inspect

from service.review import accounts, cli, demo
from service.store import RecordStore, migrate

from .conftest import PASSWORD, review_app


def test_0002_reviews_follows_the_records_migration_and_goes_down_cleanly(tmp_path):
    engine = RecordStore.from_url(f"sqlite:///{tmp_path / 'm.sqlite3'}").engine
    migrate.upgrade(engine, "0001_records")
    assert "reviews" not in inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    assert {"reviews", "review_users"} <= set(inspect(engine).get_table_names())
    migrate.downgrade(engine, "0001_records")
    assert not {"reviews", "review_users"} & set(inspect(engine).get_table_names())
    assert "interpretations" in inspect(engine).get_table_names()
    engine.dispose()


def env_for(tmp_path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    engine = RecordStore.from_url(url).engine
    migrate.upgrade(engine)
    engine.dispose()
    return {"MGI_DATABASE_URL": url, "MGI_STORE": "on"}


def test_users_add_reads_the_password_from_stdin_and_refuses_a_short_one(tmp_path, monkeypatch, capsys):
    for k, v in env_for(tmp_path).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["add", "rita", "--role", "reviewer"]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert cli.main(["add", "sam", "--role", "viewer"]) == 2
    assert "at least 12" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["add", "rita", "--role", "viewer"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert cli.main(["list"]) == 0
    assert "rita\treviewer" in capsys.readouterr().out


def test_python_m_service_users_is_registered(tmp_path):
    env = {**env_for(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "service", "users", "add", "ana", "--role", "viewer", "--password-stdin"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "user ana (viewer) created" in done.stderr


def test_the_demo_data_gives_the_worked_example_two_earlier_panels_as_history(tmp_path):
    app = review_app(tmp_path, DEV_MODE=True)
    rows = {r["specimen_id"]: r for r in demo.store_demo(app)}
    assert rows["S6-2024-03-15"]["category"] == "MGUS_NON_IGM"
    assert rows["S6-2024-03-15"]["release"] == "review_required"
    assert rows["S6-2024-03-15"]["history_used"] == 2
    assert rows["NEG-2024-03-15"]["release"] == "auto"
    again = {r["specimen_id"]: r["id"] for r in demo.store_demo(app)}
    assert again == {k: r["id"] for k, r in rows.items()}  # stored once
    assert accounts.find(app.extensions["mgi.store"].store, "nobody") is None
    app.extensions["mgi.store"].store.dispose()


def test_erasing_a_patient_erases_the_sign_offs_of_their_records(tmp_path, monkeypatch):
    from service.review import store as reviews
    from service.store import cli as db_cli

    from .conftest import AUTH, SECRET, body, post

    app = review_app(tmp_path)
    st = app.extensions["mgi.store"].store
    client = app.test_client()
    mine = post(client, body("mgus"))["id"]
    other = post(client, body("negative"))["id"]
    for rid in (mine, other):
        reviews.add_review(
            st,
            rid,
            decision="approve",
            reviewer="R",
            comment=None,
            classification_code=None,
            reason=None,
            via="api",
        )
    monkeypatch.setenv("MGI_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("MGI_STORE", "on")
    monkeypatch.setenv("MGI_PATIENT_KEY_SECRET", SECRET)
    assert db_cli.main(["erase", "--patient-ref", "DEMO-MGUS"]) == 0
    assert reviews.reviews_of(st, mine) == []
    assert len(reviews.reviews_of(st, other)) == 1
    assert client.get(f"/v1/interpretations/{other}", headers=AUTH).get_json()["status"] == "reviewed"
    st.dispose()


def test_on_postgresql_reviews_set_the_status_and_feed_the_agreement_report(tmp_path):
    from tests.store.conftest import fresh_postgres_database

    from .conftest import API_KEYS, AUTH, SECRET, body, post

    with fresh_postgres_database() as url:
        engine = RecordStore.from_url(url).engine
        migrate.upgrade(engine)
        assert {"reviews", "review_users"} <= set(inspect(engine).get_table_names())
        engine.dispose()
        from service.api import create_app

        app = create_app(
            {
                "TESTING": True,
                "API_KEYS": API_KEYS,
                "STORE": "on",
                "DATABASE_URL": url,
                "PATIENT_KEY_SECRET": SECRET,
            }
        )
        st = app.extensions["mgi.store"].store
        client = app.test_client()
        rid = post(client, body("mgus"))["id"]
        resp = client.post(
            f"/v1/interpretations/{rid}/reviews",
            json={"decision": "amend", "reviewer": "R", "comment": "Changed.", "reason": "wording"},
            headers=AUTH,
        )
        assert resp.status_code == 201
        assert client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()["status"] == "amended"
        assert client.get("/v1/reports/agreement", headers=AUTH).get_json()["amended"] == 1
        accounts.add_user(st, "rita", "reviewer", PASSWORD)
        assert accounts.sign_in(st, "rita", "wrong")[1] == "invalid"
        assert accounts.sign_in(st, "rita", PASSWORD)[0] is not None
        st.dispose()
