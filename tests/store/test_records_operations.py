"""Audit trail, batch, ruleset impact, retention and erasure, and a database that does not answer."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from service.store import RecordStore
from service.store.models import Interpretation

from .conftest import ROOT_DIR, SECRET, store_app

IFE = {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]}
MGUS = {"spep": {"m_protein": {"value": 1.2, "unit": "g/dL"}}, "serum_ife": IFE}


def post(client, **extra):
    return client.post("/v1/interpretations", json={**MGUS, **extra}).json


# --------------------------------------------------------------------------- audit
def test_every_read_of_a_record_is_in_the_audit_trail_with_who_and_when(client):
    rid = post(client, patient_ref="MRN-1", specimen_id="S1")["id"]
    got = client.get(f"/v1/interpretations/{rid}", headers={"X-Request-Id": "read-by-id-1"})
    client.get("/v1/interpretations?patient_ref=MRN-1", headers={"X-Request-Id": "listed-1"})
    trail = client.get(f"/v1/audit?interpretation_id={rid}").json["items"]
    assert [(e["via"], e["request_id"], e["api_key_name"]) for e in trail] == [
        ("list", "listed-1", "dev"),
        ("get", "read-by-id-1", "dev"),
    ]
    read_at = datetime.fromisoformat(trail[1]["read_at"])
    assert abs(read_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert got.status_code == 200


def test_creating_a_record_is_not_a_read_and_a_missing_record_leaves_no_trail(client):
    post(client)
    client.get("/v1/interpretations/ffffffffffffffffffffffffffffffff")
    assert client.get("/v1/audit").json["items"] == []


def test_the_audit_trail_is_paginated(client):
    rid = post(client)["id"]
    for _ in range(3):
        client.get(f"/v1/interpretations/{rid}")
    first = client.get("/v1/audit?limit=2").json
    rest = client.get(f"/v1/audit?limit=2&cursor={first['next_cursor']}").json
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None


# --------------------------------------------------------------------------- batch
def test_batch_items_are_stored_each_with_its_id_and_a_later_item_sees_an_earlier_one(client):
    items = [
        {**MGUS, "patient_ref": "MRN-B", "specimen_id": "B1", "collected_on": "2025-01-10"},
        {"spep": {"m_protein": {"value": -1, "unit": "g/dL"}}},
        {
            **MGUS,
            "spep": {"m_protein": {"value": 1.8, "unit": "g/dL"}},
            "patient_ref": "MRN-B",
            "specimen_id": "B2",
            "collected_on": "2025-06-10",
        },
    ]
    out = client.post("/v1/interpretations/batch", json={"items": items}).json
    assert [r["status"] for r in out["results"]] == [201, 422, 201]
    first, third = out["results"][0]["interpretation"], out["results"][2]["interpretation"]
    assert third["history_used"] == [{"collected_on": "2025-01-10", "source": "store", "id": first["id"]}]
    assert client.get(f"/v1/interpretations/{first['id']}").json["source"] == "batch"
    again = client.post("/v1/interpretations/batch", json={"items": [items[0]]}).json
    assert again["results"][0]["interpretation"]["id"] == first["id"]  # a retried item: same record


def test_the_same_item_twice_in_one_batch_is_one_record(client, store):
    item = {**MGUS, "patient_ref": "MRN-TWICE", "specimen_id": "T1", "collected_on": "2025-02-01"}
    out = client.post("/v1/interpretations/batch", json={"items": [item, item]}).json
    assert [r["status"] for r in out["results"]] == [201, 201]
    ids = [r["interpretation"]["id"] for r in out["results"]]
    assert ids[0] == ids[1]
    assert store.count() == 1


def test_concurrent_identical_batches_make_one_record_per_item(database_url, tmp_path, store):
    from concurrent.futures import ThreadPoolExecutor

    app = store_app(database_url, tmp_path, BATCH_CONCURRENCY=8, BATCH_CONCURRENCY_PER_KEY=8)

    items = [
        {**MGUS, "patient_ref": "MRN-CB", "specimen_id": f"C{i}", "collected_on": f"2025-0{i + 1}-01"}
        for i in range(3)
    ]

    def send(_):
        with app.test_client() as c:
            r = c.post("/v1/interpretations/batch", json={"items": items})
            assert r.status_code == 200, r.json
            out = r.json
            return [r["status"] for r in out["results"]], [r["interpretation"]["id"] for r in out["results"]]

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(send, range(12)))
    assert {tuple(s) for s, _ in answers} == {(201, 201, 201)}
    assert len({tuple(i) for _, i in answers}) == 1
    assert store.count() == 3
    app.extensions["mgi.store"].store.dispose()


# --------------------------------------------------------------------------- ruleset impact
def _pretend_answered_differently(store, rid, code, flags, risk_group):
    with store.engine.begin() as conn:
        conn.execute(
            update(Interpretation)
            .where(Interpretation.id == rid)
            .values(
                classification_code=code,
                findings={
                    "flags": flags,
                    "risk": {"mgus_mayo_2005": risk_group, "smm_mayo_2018": None, "smm_imwg_2020": None},
                },
            )
        )


def test_ruleset_impact_counts_and_lists_the_answers_the_ruleset_in_force_would_change(client, store):
    same = post(client, specimen_id="same")
    changed = post(client, specimen_id="changed")
    _pretend_answered_differently(store, changed["id"], "SMOLDERING_MYELOMA", ["OLD_FLAG"], "high")
    _pretend_answered_differently(  # as stored, unchanged
        store,
        same["id"],
        same["classification"]["code"],
        sorted(f["code"] for f in same["flags"]),
        same["risk"]["mgus_mayo_2005"]["group"],
    )
    r = client.post("/v1/ruleset-impact", json={})
    assert r.status_code == 200 and r.is_streamed
    report = json.loads(r.get_data())
    s = report["summary"]
    assert (s["examined"], s["changed"], s["category_changed"], s["flags_changed"], s["risk_changed"]) == (
        2,
        1,
        1,
        1,
        1,
    )
    assert s["category_transitions"] == {f"SMOLDERING_MYELOMA -> {changed['classification']['code']}": 1}
    [change] = report["changes"]
    assert change["id"] == changed["id"]
    assert change["category"] == {"from": "SMOLDERING_MYELOMA", "to": changed["classification"]["code"]}
    assert "OLD_FLAG" in change["flags"]["removed"]
    assert change["risk"]["mgus_mayo_2005"]["from"] == "high"
    assert report["next_cursor"] is None


def test_ruleset_impact_unchanged_answers_change_nothing(client):
    for i in range(3):
        post(client, patient_ref="MRN-I", specimen_id=f"I{i}", collected_on=f"2025-0{i + 1}-10")
    s = json.loads(client.post("/v1/ruleset-impact", json={}).get_data())["summary"]
    assert s["examined"] == 3 and s["changed"] == 0 and s["not_reinterpretable"] == 0


def test_ruleset_impact_continues_by_cursor(client):
    for i in range(5):
        post(client, specimen_id=f"C{i}")
    first = json.loads(client.post("/v1/ruleset-impact", json={"max_records": 2}).get_data())
    assert first["summary"]["examined"] == 2 and first["next_cursor"]
    seen = 2
    cursor = first["next_cursor"]
    while cursor:
        page = json.loads(
            client.post("/v1/ruleset-impact", json={"max_records": 2, "cursor": cursor}).get_data()
        )
        seen += page["summary"]["examined"]
        cursor = page["next_cursor"]
    assert seen == 5


def test_ruleset_impact_parameters_are_checked(client):
    r = client.post("/v1/ruleset-impact", json={"max_records": 20_001, "list_limit": -1, "x": 1})
    assert r.status_code == 422
    assert {"max_records", "list_limit", "x"} <= set(r.json["errors"])


def test_the_ruleset_impact_command_reports_the_same(client, store, database_url, tmp_path):
    changed = post(client, specimen_id="changed")
    _pretend_answered_differently(store, changed["id"], "SMOLDERING_MYELOMA", [], None)
    post(client, specimen_id="other")
    env = {"MGI_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    for processes in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-m", "service", "ruleset-impact", "--processes", processes],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT_DIR,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["summary"]["examined"] == 2 and report["summary"]["category_changed"] == 1
        assert [c["id"] for c in report["changes"]] == [changed["id"]]


# --------------------------------------------------------------------------- retention and erasure
def _run_db(args, database_url, **env):
    return subprocess.run(
        [sys.executable, "-m", "service", "db", *args],
        capture_output=True,
        text=True,
        cwd=ROOT_DIR,
        timeout=120,
        env={"MGI_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin", **env},
    )


def test_purge_deletes_records_older_than_the_retention_period_and_keeps_the_rest(
    client, store, database_url
):
    old = post(client, specimen_id="old")["id"]
    young = post(client, specimen_id="young")["id"]
    with store.engine.begin() as conn:
        conn.execute(
            update(Interpretation)
            .where(Interpretation.id == old)
            .values(received_at=datetime.now(UTC) - timedelta(days=31))
        )
        conn.execute(
            update(Interpretation)
            .where(Interpretation.id == young)
            .values(received_at=datetime.now(UTC) - timedelta(days=29))
        )
    done = _run_db(["purge"], database_url, MGI_RETENTION_DAYS="30")
    assert done.returncode == 0, done.stderr
    assert "purged 1 record" in done.stdout
    assert client.get(f"/v1/interpretations/{old}").status_code == 404
    assert client.get(f"/v1/interpretations/{young}").status_code == 200


def test_purge_without_a_retention_period_deletes_nothing_and_says_why(client, database_url):
    post(client)
    done = _run_db(["purge"], database_url)
    assert done.returncode == 2 and "MGI_RETENTION_DAYS" in done.stderr


def test_erasure_deletes_every_record_of_one_patient_and_only_them(client, database_url):
    mine = [post(client, patient_ref="MRN-E", specimen_id=f"E{i}")["id"] for i in range(2)]
    other = post(client, patient_ref="MRN-F", specimen_id="F1")["id"]
    done = subprocess.run(
        [sys.executable, "-m", "service", "db", "erase", "--stdin"],
        input="MRN-E\n",
        capture_output=True,
        text=True,
        cwd=ROOT_DIR,
        timeout=120,
        env={"MGI_DATABASE_URL": database_url, "MGI_PATIENT_KEY_SECRET": SECRET, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert "erased 2 record(s)" in done.stdout
    assert all(client.get(f"/v1/interpretations/{i}").status_code == 404 for i in mine)
    assert client.get(f"/v1/interpretations/{other}").status_code == 200
    assert client.get("/v1/interpretations?patient_ref=MRN-E").json["items"] == []


# --------------------------------------------------------------------------- database unavailable
DEAD = "postgresql+psycopg://nobody@127.0.0.1:9/none"  # port 9 (discard): nothing listens


@pytest.fixture
def dead_app(app):
    state = app.extensions["mgi.store"]
    state.store.engine.dispose()
    state.store = RecordStore.from_url(DEAD, SECRET.encode())
    return app


def test_an_unavailable_database_is_a_503_with_retry_after_and_never_an_unrecorded_answer(dead_app):
    c = dead_app.test_client()
    r = c.post("/v1/interpretations", json=MGUS)
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "5"
    assert set(r.json) == {"code", "status", "message", "errors"} and "classification" not in r.json
    assert c.get("/v1/interpretations/" + "0" * 32).status_code == 503
    ready = c.get("/readyz")
    assert ready.status_code == 503 and "records database" in ready.json["message"]


def test_fail_open_answers_without_a_record_and_says_so(dead_app):
    dead_app.extensions["mgi.store"].fail_open = True
    r = dead_app.test_client().post("/v1/interpretations", json=MGUS)
    assert r.status_code == 200 and "id" not in r.json
    assert any(n.startswith("Not stored") for n in r.json["notes"])


def test_readyz_reports_a_reachable_database(client):
    assert client.get("/readyz").status_code == 200


def test_fail_open_is_read_from_the_environment(database_url, tmp_path):
    app = store_app(database_url, tmp_path, STORE_FAIL_OPEN="1")
    assert app.extensions["mgi.store"].fail_open is True
    app.extensions["mgi.store"].store.dispose()


# --------------------------------------------------------------------------- HL7 v2 and FHIR
def test_hl7_and_fhir_requests_are_stored_in_their_canonical_json_form_with_unchanged_replies(client):
    from tests.conftest import ROOT

    samples = ROOT / "tests" / "adapters" / "samples"
    hl7 = next(iter(sorted(samples.glob("*.hl7"))), None)
    fhir = next(iter(sorted(samples.glob("*.json"))), None)
    if hl7 is None or fhir is None:
        pytest.skip("no HL7/FHIR sample")
    r = client.post("/v1/hl7v2", data=hl7.read_bytes(), content_type="x-application/hl7-v2+er7")
    assert r.status_code == 200 and r.get_data(as_text=True).startswith("MSH|")
    f = client.post("/v1/fhir/interpretations", data=fhir.read_bytes(), content_type="application/fhir+json")
    assert f.status_code == 200 and f.json["resourceType"] == "DiagnosticReport"
    items = client.get("/v1/interpretations").json["items"]
    assert sorted(i["source"] for i in items) == ["fhir", "hl7"]
    for item in items:
        rec = client.get(f"/v1/interpretations/{item['id']}").json
        assert "MSH" not in json.dumps(rec["request"]) and "resourceType" not in rec["request"]


@pytest.mark.parametrize(
    ("since", "why"),
    [
        ("yesterday", "not an ISO date"),
        ("2026-01-01T00:00:00", "has no zone"),
        ("0001-01-01T00:00:00+01:00", "not"),
    ],
)
def test_the_impact_command_refuses_a_since_it_cannot_read_with_a_usage_error(since, why, capsys):
    from service.api.impact import main

    with pytest.raises(SystemExit) as exit_:
        main(["--since", since])
    assert exit_.value.code == 2
    assert why in capsys.readouterr().err
