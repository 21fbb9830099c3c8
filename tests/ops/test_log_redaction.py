"""No patient data in any log: canary patient strings go through every route and error path of the service
under gunicorn (shipped gunicorn.conf.py, gunicorn's access log and debug level switched on to see the
most), then ALL output - stdout, stderr, gunicorn's and the app's - is searched for them."""

from __future__ import annotations

import hashlib
import json
import socket
import textwrap

from service.gunicorn_logging import frames_only, redact_message

from .server import ROOT, Gunicorn

NAME, DOB, HL7_NAME = "ZYXWDoeJane17", "19471231", "Zyxwdoe^Janette"
CANARIES = (NAME, DOB, HL7_NAME, "Janette")
KEY = "redaction-key-" + "r" * 32
AUTH = {"Authorization": f"Bearer {KEY}"}
PANEL = json.loads((ROOT / "examples" / "worked-example-s6.json").read_text())

# The service's app plus one route that is still handling an exception quoting the body when the worker
# timeout strikes: the traceback gunicorn logs then chains that exception.
SLOW_WSGI = textwrap.dedent(
    """
    import time
    from flask import request
    from service.wsgi import app

    @app.post("/v1/slow")
    def slow():
        body = request.get_data(as_text=True)
        try:
            raise ValueError(f"cannot read {body}")
        except ValueError:
            time.sleep(60)
    """
)


def raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(data)
        answer = b""
        try:
            while chunk := s.recv(65536):
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return answer


def hl7_with_canaries() -> bytes:
    text = (ROOT / "tests" / "adapters" / "samples" / "oru_basic_lf.hl7").read_text()
    text = text.replace("Doe^Jane", HL7_NAME).replace("19900115", DOB).replace("12345", NAME)
    return text.encode()


def test_no_canary_patient_string_reaches_any_log(tmp_path):
    (tmp_path / "slow_wsgi.py").write_text(SLOW_WSGI)
    env = {
        "MGI_API_KEYS": f"lis:{hashlib.sha256(KEY.encode()).hexdigest()}",
        "MGI_TIMEOUT": "8",  # long enough for a worker to boot on a loaded machine
        "MGI_BATCH_TIME_BUDGET": "1",
        "MGI_LOG_LEVEL": "DEBUG",
        "GUNICORN_CMD_ARGS": "--access-logfile - --log-level debug",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
    }
    with Gunicorn(tmp_path, env, app="slow_wsgi:app", workers=2) as server:
        port = server.port
        # gunicorn's parser errors: the request line, method, version, header and oversized line
        for line in (
            f"GET /v1/interpretations?name={NAME}&dob={DOB} HTTP/1.1x\r\n\r\n",
            f"G{NAME}T /v1/ruleset HTTP/1.1\r\n\r\n",
            f"GET /{NAME} {DOB}\r\n\r\n",
            f"GET /v1/ruleset?dob={DOB} HTTP/1.1\r\nX-{NAME} {DOB}: x\r\n\r\n",
            f"GET /v1/ruleset?{NAME}={'x' * 3000} HTTP/1.1\r\n\r\n",
            f"GET /v1/ruleset HTTP/1.1\r\nHost: x\r\nX-Patient: {NAME}\r\n" + "X: y\r\n" * 60 + "\r\n",
            f"POST /v1/interpretations HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{NAME}\r\n",
        ):
            assert raw(port, line.encode()).startswith(b"HTTP/1.1 4"), line[:60]
        # the application's routes, each with its error paths
        q = f"?patient={NAME}&dob={DOB}"
        bad_json = f'{{"patient": "{NAME}", "dob": {DOB}'.encode()
        unknown = {**PANEL, NAME: DOB, "patient": {**PANEL["patient"], NAME: DOB}}
        fhir = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {
                    "resource": {
                        "resourceType": "Patient",
                        "name": [{"text": NAME}],
                        "birthDate": "1947-12-31",
                    }
                },
                {"resource": {"resourceType": "Observation", "status": NAME, "code": {"text": DOB}}},
            ],
        }
        calls = [
            ("/v1/interpretations" + q, PANEL, "application/json"),
            ("/v1/interpretations", bad_json, "application/json"),
            ("/v1/interpretations", unknown, "application/json"),
            ("/v1/interpretations", {"spep": {"m_protein": {"value": 1, "unit": NAME}}}, "application/json"),
            ("/v1/interpretations", NAME.encode(), "text/plain"),
            ("/v1/interpretations/batch", {"items": [unknown, PANEL, {NAME: DOB}]}, "application/json"),
            ("/v1/interpretations/batch" + q, {"items": [PANEL]}, "application/json"),
            ("/v1/hl7v2", hl7_with_canaries(), "x-application/hl7-v2+er7"),
            (
                "/v1/hl7v2",
                hl7_with_canaries().replace(b"OBX|1|NM|", b"OBX|1|NM|" + NAME.encode()),
                "text/plain",
            ),
            ("/v1/hl7v2", f"MSH|{NAME}|{DOB}".encode(), "text/plain"),
            ("/v1/fhir/interpretations", fhir, "application/fhir+json"),
            ("/v1/fhir/interpretations", bad_json, "application/fhir+json"),
            (f"/{NAME}/{DOB}", PANEL, "application/json"),
        ]
        statuses = []
        for path, body, ctype in calls:
            statuses.append(server.post(path, body, {**AUTH, "Content-Type": ctype})[0])
            statuses.append(
                server.post(path, body, {"Content-Type": ctype, "Authorization": f"Bearer {NAME}"})[0]
            )
        assert 200 in statuses and {400, 401, 404, 415, 422} <= set(statuses), statuses
        assert server.get(f"/v1/ruleset?dob={DOB}", {**AUTH, "Referer": f"http://x/{NAME}"})[0] == 422
        assert server.get(f"/metrics?{NAME}", {"Authorization": f"Bearer {NAME}"})[0] == 401
        # a worker timeout while an exception quoting the body is being handled
        try:
            server.post("/v1/slow", {"patient": NAME, "dob": DOB}, AUTH, timeout=30)
        except OSError:
            pass
        server.wait_until_up()
    output = server.output()
    for expected in (
        "WORKER TIMEOUT",
        "Invalid request from ip=",
        "Error handling request",
        '"logger":"mgi.access"',
    ):
        assert expected in output, expected  # the paths above really ran
    for canary in CANARIES:
        assert canary not in output, _context(output, canary)


def _context(output: str, needle: str) -> str:
    at = output.find(needle)
    return output[max(0, at - 300) : at + 200]


def test_a_message_keeps_its_template_and_numbers_and_loses_its_text_arguments():
    assert redact_message("Error handling request %s %s", ("GET", f"/x?n={NAME}")) == (
        "Error handling request %s %s",
        ("[redacted]", "[redacted]"),
    )
    assert redact_message("Worker (pid:%s) exited with code %s.", (12, 3)) == (
        "Worker (pid:%s) exited with code %s.",
        (12, 3),
    )
    assert redact_message("Listening at: %s (%s)", ("http://127.0.0.1:1", 7))[1] == ("http://127.0.0.1:1", 7)
    assert redact_message("mgi: configuration refused: %s", ("x",))[1] == ("x",)
    text, args = redact_message(f"Invalid request from ip=10.0.0.1: Invalid HTTP Version: '{NAME}'", ())
    assert text.startswith("Invalid request from ip=10.0.0.1: ") and NAME not in text and args == ()
    assert NAME not in redact_message(ValueError(NAME), ())[0]
    assert redact_message("%s %s", ("POST", f"/{NAME}"))[1] == ("POST", "[redacted]")
    config = f"Current configuration:\n  bind: ['x']\n  raw_env: ['MGI_METRICS_TOKEN={NAME}']\n  workers: 2"
    assert redact_message(config, ())[0] == config.replace(f"['MGI_METRICS_TOKEN={NAME}']", "[redacted]")


def test_a_traceback_keeps_frames_and_types_but_no_message_of_any_chained_exception():
    try:
        try:
            raise ValueError({NAME: ["Unknown field."]})
        except ValueError:
            raise SystemExit(1)  # noqa: B904 - the implicit chain is what gunicorn's traceback shows
    except SystemExit as exc:
        text = frames_only(exc)
    assert "SystemExit" in text and "ValueError" in text and "test_log_redaction.py" in text
    assert NAME not in text
