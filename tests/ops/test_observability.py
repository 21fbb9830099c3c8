"""Request ids, JSON access logs, metrics and readiness: service/api/observability.py."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from flask import Flask

from service.api import observability
from service.api.observability import count_interpretation, init_observability

from .conftest import KEY, METRICS_TOKEN, bearer, build_app

METRICS_AUTH = bearer(METRICS_TOKEN)

ACCESS_FIELDS = {
    "ts",
    "level",
    "logger",
    "msg",
    "request_id",
    "key_name",
    "method",
    "route",
    "status",
    "latency_ms",
    "ruleset_version",
    "classification_code",
}
PANEL = {
    "spep": {"m_protein": {"value": 987.654, "unit": "g/dL"}},
    "patient": {"name": "ZZSECRET", "mrn": "ZZMRN-4711"},
    "code": "MGUS_NON_IGM",
}
SECRETS = ("987.654", "ZZSECRET", "ZZMRN-4711", "ZZQUERY", "ZZHEADER")


def is_generated_id(value: str) -> bool:
    return re.fullmatch(r"[0-9a-f]{32}", value) is not None and uuid.UUID(value).version == 4


@pytest.mark.parametrize(
    ("sent",),
    [("abc-123",), ("LIS.order_42-7",), ("a" * 128,), ("0",)],
)
def test_a_sane_x_request_id_is_honoured_and_returned(client, log_lines, sent):
    response = client.get("/healthz", headers={"X-Request-ID": sent})
    assert response.headers["X-Request-ID"] == sent
    assert log_lines.json("mgi.access")[-1]["request_id"] == sent


def test_a_missing_x_request_id_is_generated_as_a_uuid4_hex(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert is_generated_id(first) and is_generated_id(second)
    assert first != second


@pytest.mark.parametrize(
    ("sent",),
    [
        ("a" * 129,),
        ("has space",),
        ("semi;colon",),
        ("caf\xe9",),
        ("",),
        ('"quoted"',),
        ('{"json":1}',),
        ("../../etc/passwd",),
    ],
)
def test_an_insane_x_request_id_is_replaced_by_a_generated_one(client, log_lines, sent):
    response = client.get("/healthz", headers={"X-Request-ID": sent})
    returned = response.headers["X-Request-ID"]
    assert is_generated_id(returned)
    line = log_lines.json("mgi.access")[-1]
    assert line["request_id"] == returned
    if sent:
        assert sent not in "\n".join(log_lines.lines)


def test_a_refused_request_still_carries_a_request_id_and_is_logged(log_lines):
    client = build_app(security_first=True).test_client()
    response = client.get("/v1/items/1", headers={"X-Request-ID": "rid-401"})
    assert response.status_code == 401
    assert response.headers["X-Request-ID"] == "rid-401"
    line = log_lines.json("mgi.access")[-1]
    assert (line["request_id"], line["status"], line["key_name"]) == ("rid-401", 401, None)


def test_one_access_line_per_request_has_exactly_the_documented_fields(client, log_lines):
    response = client.post(
        "/v1/interpretations", json=PANEL, headers={**bearer(KEY), "X-Request-ID": "rid-1"}
    )
    assert response.status_code == 200
    lines = log_lines.json("mgi.access")
    assert len(lines) == 1
    line = lines[0]
    assert set(line) == ACCESS_FIELDS
    assert line["level"] == "INFO"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])
    assert {
        k: line[k]
        for k in (
            "request_id",
            "key_name",
            "method",
            "route",
            "status",
            "ruleset_version",
            "classification_code",
        )
    } == {
        "request_id": "rid-1",
        "key_name": "lis",
        "method": "POST",
        "route": "/v1/interpretations",
        "status": 200,
        "ruleset_version": "test-1",
        "classification_code": "MGUS_NON_IGM",
    }
    assert isinstance(line["latency_ms"], float) and line["latency_ms"] >= 0


def test_the_access_line_names_the_route_pattern_not_the_raw_path(client, log_lines):
    client.get("/v1/items/424242", headers=bearer(KEY))
    line = log_lines.json("mgi.access")[-1]
    assert line["route"] == "/v1/items/<int:item_id>"
    assert "424242" not in "\n".join(log_lines.lines)


def test_an_unmatched_path_is_logged_without_its_path(client, log_lines):
    assert client.get("/no/such/ZZQUERY").status_code == 404
    line = log_lines.json("mgi.access")[-1]
    assert line["route"] is None and line["status"] == 404
    assert "ZZQUERY" not in "\n".join(log_lines.lines)


def test_no_request_value_appears_anywhere_in_the_logs(client, log_lines, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    headers = {**bearer(KEY), "X-Patient": "ZZHEADER", "X-Request-ID": "rid-values"}
    ok = client.post("/v1/interpretations?mrn=ZZQUERY", json=PANEL, headers=headers)
    assert ok.status_code == 200
    # The view raises an exception whose message quotes the whole body: Flask logs it.
    boom = client.post("/v1/explode?mrn=ZZQUERY", json=PANEL, headers=headers)
    assert boom.status_code == 500
    invalid = client.post(
        "/v1/interpretations",
        data='{"x": ZZSECRET 987.654',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert invalid.status_code == 400
    stderr = capsys.readouterr().err
    captured = "\n".join(log_lines.lines) + "\n" + caplog.text + "\n" + stderr
    # Non-vacuous: the access lines and the exception record were captured ...
    access = log_lines.json("mgi.access")
    assert [line["status"] for line in access] == [200, 500, 400]
    assert access[1]["level"] == "ERROR"
    errors = [d for d in log_lines.json() if d.get("exc_type") == "ValueError"]
    assert errors and errors[0]["exc_frames"] and errors[0]["request_id"] == "rid-values"
    assert '"request_id":"rid-values"' in stderr
    # ... and not one request value is in any of them.
    for secret in SECRETS:
        assert secret not in captured, secret


@pytest.mark.parametrize(("direct",), [(True,), (False,)])
def test_the_direct_access_line_equals_the_one_logging_would_write(monkeypatch, capsys, direct):
    """With our JSON handler alone on 'mgi', access lines are written without a LogRecord;
    with any other handler there (pytest's own log capture, say) they go through logging.
    Either way the same line reaches stderr."""
    records = []

    class CountingRecord(observability._AccessRecord):
        def __init__(self, *args):
            records.append(args[0])
            super().__init__(*args)

    monkeypatch.setattr(observability, "_AccessRecord", CountingRecord)
    app = build_app()
    mgi = logging.getLogger("mgi")
    ours = app.extensions["mgi_observability"].handler
    extra = [] if direct else [logging.NullHandler()]
    monkeypatch.setattr(mgi, "handlers", [ours, *extra])
    client = app.test_client()
    capsys.readouterr()
    headers = {**bearer(KEY), "X-Request-ID": "rid-direct"}
    client.post("/v1/interpretations?mrn=ZZQUERY", json=PANEL, headers=headers)
    client.post("/v1/explode", json=PANEL, headers=headers)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert len(records) == (0 if direct else 2)
    access = [line for line in lines if line["logger"] == "mgi.access"]
    assert [line["status"] for line in access] == [200, 500]
    assert all(set(line) == ACCESS_FIELDS for line in access)
    assert list(access[0])[:4] == ["ts", "level", "logger", "msg"]
    assert access[0]["classification_code"] == "MGUS_NON_IGM"
    assert access[0]["request_id"] == "rid-direct"
    assert access[1]["level"] == "ERROR"
    assert any(line.get("exc_type") == "ValueError" for line in lines)
    for secret in SECRETS:
        assert secret not in json.dumps(lines), secret


def test_an_operator_formatter_on_the_json_handler_is_used_for_access_lines(monkeypatch, capsys):
    """A deployment that puts its own formatter on the 'mgi' handler still starts, and its access
    lines go through that formatter, not the direct JSON write."""
    handler = observability.configure_logging()
    monkeypatch.setattr(handler, "formatter", logging.Formatter("PLAIN %(name)s %(message)s"))
    client = build_app().test_client()
    capsys.readouterr()
    assert client.get("/healthz").status_code == 200
    assert "PLAIN mgi.access request" in capsys.readouterr().err.splitlines()


def test_metrics_exposition_counts_requests_latencies_and_interpretations(client):
    client.post("/v1/interpretations", json=PANEL, headers=bearer(KEY))
    client.post("/v1/interpretations", json={**PANEL, "code": "SMOLDERING_MYELOMA"}, headers=bearer(KEY))
    client.post("/v1/interpretations", json=PANEL, headers=bearer(KEY))
    client.post("/v1/interpretations", json=PANEL)  # 401: counted as a request only
    client.get("/v1/items/5", headers=bearer(KEY))
    client.get("/nowhere/42")
    response = client.get("/metrics", headers=METRICS_AUTH)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = response.get_data(as_text=True)
    expected = [
        'mgi_http_requests_total{method="POST",route="/v1/interpretations",status="200"} 3.0',
        'mgi_http_requests_total{method="POST",route="/v1/interpretations",status="401"} 1.0',
        'mgi_http_requests_total{method="GET",route="/v1/items/<int:item_id>",status="200"} 1.0',
        'mgi_http_requests_total{method="GET",route="unmatched",status="404"} 1.0',
        'mgi_http_request_duration_seconds_count{method="POST",route="/v1/interpretations"} 4.0',
        'mgi_http_request_duration_seconds_bucket{le="0.00025",method="GET",route="unmatched"}',
        'mgi_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="unmatched"} 1.0',
        'mgi_interpretations_total{classification="MGUS_NON_IGM"} 2.0',
        'mgi_interpretations_total{classification="SMOLDERING_MYELOMA"} 1.0',
    ]
    for sample in expected:
        assert sample in text, sample
    assert "42" not in "".join(line for line in text.splitlines() if "nowhere" in line)


def test_count_interpretation_adds_to_the_classification_counter(app, client):
    with app.test_request_context():
        for code in ("MGUS_IGM", "MGUS_IGM", "MULTIPLE_MYELOMA"):
            count_interpretation(code)
    text = client.get("/metrics", headers=METRICS_AUTH).get_data(as_text=True)
    assert 'mgi_interpretations_total{classification="MGUS_IGM"} 2.0' in text
    assert 'mgi_interpretations_total{classification="MULTIPLE_MYELOMA"} 1.0' in text


def test_an_enum_classification_code_is_counted_and_logged_by_its_value(log_lines):
    import enum

    class Code(enum.Enum):
        MGUS_IGM = "MGUS_IGM"

    app = build_app()

    @app.get("/v1/enum")
    def enum_view():
        from flask import g

        g.classification_code = Code.MGUS_IGM
        return {}

    client = app.test_client()
    assert client.get("/v1/enum", headers=bearer(KEY)).status_code == 200
    with app.test_request_context():
        count_interpretation(Code.MGUS_IGM)
    text = client.get("/metrics", headers=METRICS_AUTH).get_data(as_text=True)
    assert 'mgi_interpretations_total{classification="MGUS_IGM"} 2.0' in text
    assert log_lines.json("mgi.access")[0]["classification_code"] == "MGUS_IGM"


def test_a_view_that_overwrites_the_request_id_cannot_break_the_log_line(log_lines):
    app = build_app()

    @app.get("/v1/rogue")
    def rogue():
        from flask import g

        g.request_id = 'x"\n{ZZSECRET}'
        return {}

    response = app.test_client().get("/v1/rogue", headers=bearer(KEY))
    line = log_lines.json("mgi.access")[-1]
    assert is_generated_id(line["request_id"])
    assert response.headers["X-Request-ID"] == line["request_id"]
    assert "ZZSECRET" not in "\n".join(log_lines.lines)


def test_classification_labels_are_bounded(app, client):
    with app.test_request_context():
        for i in range(100):
            count_interpretation(f"CODE_{i}")
    text = client.get("/metrics", headers=METRICS_AUTH).get_data(as_text=True)
    assert 'mgi_interpretations_total{classification="OTHER"} 36.0' in text


def test_each_app_has_its_own_metrics_registry():
    first, second = build_app().test_client(), build_app().test_client()
    first.get("/healthz")
    first.get("/healthz")
    second.get("/healthz")
    sample = 'mgi_http_requests_total{method="GET",route="/healthz",status="200"}'
    assert f"{sample} 2.0" in first.get("/metrics", headers=METRICS_AUTH).get_data(as_text=True)
    assert f"{sample} 1.0" in second.get("/metrics", headers=METRICS_AUTH).get_data(as_text=True)


def test_readyz_reports_ready_with_the_ruleset_version(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "ruleset_version": "test-1"}


def _failing_check():
    raise OSError("ruleset file vanished: /secret/path")


@pytest.mark.parametrize(
    ("ready", "check", "message"),
    [
        (False, None, "not ready: start-up not finished"),
        (True, lambda: False, "not ready: readiness check reported not ready"),
        (True, lambda: (False, "ruleset not loaded"), "not ready: ruleset not loaded"),
        (True, _failing_check, "not ready: readiness check failed (OSError)"),
    ],
)
def test_readyz_is_503_with_the_standard_body_when_not_ready(ready, check, message):
    client = build_app(ready=ready, READINESS_CHECK=check).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {
        "code": 503,
        "status": "Service Unavailable",
        "message": message,
        "errors": {},
    }


def test_readyz_passes_when_the_readiness_check_passes():
    client = build_app(READINESS_CHECK=lambda: (True, "")).test_client()
    assert client.get("/readyz").status_code == 200


def test_logging_is_configured_once_however_many_apps_start():
    for _ in range(3):
        build_app()
    handlers = [h for h in logging.getLogger("mgi").handlers if getattr(h, "mgi_json", False)]
    assert len(handlers) == 1


def _app_with(**config) -> Flask:
    app = Flask("bare")
    app.config.update(config)
    return app


def test_an_unknown_log_level_fails_at_start_up():
    with pytest.raises(RuntimeError, match="log level"):
        init_observability(_app_with(LOG_LEVEL="LOUD"))


def test_the_log_level_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MGI_LOG_LEVEL", "warning")
    try:
        init_observability(_app_with())
        assert logging.getLogger("mgi").level == logging.WARNING
    finally:
        init_observability(_app_with(LOG_LEVEL="INFO"))


def test_setting_the_multiprocess_directory_after_import_fails_loudly(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="set after prometheus_client was imported"):
        init_observability(_app_with())


MULTIPROCESS_SCRIPT = textwrap.dedent(
    """
    import sys
    from flask import Flask, g
    from service.api.observability import init_observability

    def make_app():
        app = Flask("worker")
        init_observability(app)

        @app.get("/v1/x")
        def x():
            g.classification_code = "MGUS_NON_IGM"
            return {}
        return app

    # Two "workers" in one process tree: each app writes its samples to the shared directory.
    import os
    pid = os.fork()
    if pid == 0:
        client = make_app().test_client()
        for _ in range(3):
            client.get("/v1/x")
        os._exit(0)
    os.waitpid(pid, 0)
    client = make_app().test_client()
    client.get("/v1/x")
    sys.stdout.write(client.get("/metrics").get_data(as_text=True))
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_multiprocess_mode_aggregates_metrics_over_worker_processes(tmp_path):
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    done = subprocess.run(
        [sys.executable, "-c", MULTIPROCESS_SCRIPT], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert 'mgi_http_requests_total{method="GET",route="/v1/x",status="200"} 4.0' in done.stdout
    assert 'mgi_interpretations_total{classification="MGUS_NON_IGM"} 4.0' in done.stdout
    assert list(tmp_path.glob("*.db"))


def test_the_json_formatter_renders_an_exception_without_its_message():
    formatter = observability.JsonFormatter()
    try:
        raise KeyError("ZZSECRET")
    except KeyError:
        record = logging.LogRecord("mgi.x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = json.loads(formatter.format(record))
    assert line["exc_type"] == "KeyError"
    assert line["msg"] == "failed"
    assert "ZZSECRET" not in json.dumps(line)


def test_a_batch_counts_each_interpreted_item_under_its_classification():
    from service.api import create_app

    app = create_app({"TESTING": True, "DEV_MODE": True})
    client = app.test_client()
    root = Path(__file__).resolve().parents[2] / "examples"
    mgus = json.loads((root / "worked-example-s6.json").read_text())
    igm = json.loads((root / "igm-mgus.json").read_text())
    items = [mgus, {"flc": {"kappa": "high"}}, mgus, igm]
    answer = client.post("/v1/interpretations/batch", json={"items": items}).get_json()
    codes = [r["interpretation"]["classification"]["code"] for r in answer["results"] if r["status"] == 200]
    assert answer["succeeded"] == 3 and answer["failed"] == 1
    text = client.get("/metrics", headers=METRICS_AUTH).get_data(as_text=True)
    for code in set(codes):
        assert f'mgi_interpretations_total{{classification="{code}"}} {codes.count(code)}.0' in text
    assert (
        "mgi_interpretations_total" in text
        and sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("mgi_interpretations_total{")
        )
        == 3
    )
