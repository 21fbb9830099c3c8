"""What the service answers under gunicorn (the shipped gunicorn.conf.py) for requests whose framing
only a real server shows: a header sent twice, joined by gunicorn into one value."""

from __future__ import annotations

import json
import socket

import pytest

from .server import Gunicorn

BODY = json.dumps({"serum_ife": {"result": "negative"}}).encode()


def raw(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are; the status, headers and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(data)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with Gunicorn(
        tmp_path_factory.mktemp("gunicorn"), {"MGI_DEV_MODE": "1", "MGI_STORE": "off"}, workers=1
    ) as g:
        yield g


def test_an_idempotency_key_sent_twice_is_refused_under_gunicorn(server):
    head = (
        b"POST /v1/interpretations HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nIdempotency-Key: key-A\r\nIdempotency-Key: key-B\r\n"
        b"Content-Length: %d\r\n\r\n" % len(BODY)
    )
    status, _, body = raw(server.port, head + BODY)
    assert status == 422, body[:300]
    errors = json.loads(body)["errors"]
    assert list(errors) == ["header.Idempotency-Key"] and errors["header.Idempotency-Key"][0].startswith(
        "Sent more than once"
    )
    once = head.replace(b"Idempotency-Key: key-B\r\n", b"")
    assert raw(server.port, once + BODY)[0] == 200


@pytest.mark.parametrize(
    ("secret", "says"),
    [
        (None, "MGI_PATIENT_KEY_SECRET is not set"),
        ("s" * 40, "run `python -m service db upgrade`"),
    ],
)
def test_a_records_store_that_cannot_start_stops_gunicorn_with_a_message(tmp_path, secret, says):
    import os
    import subprocess
    import sys

    from .server import CONF, ROOT, SCRUBBED, free_port

    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED and not k.startswith("MGI_PATIENT_KEY")}
    env.update(
        {
            "MGI_BIND": f"127.0.0.1:{free_port()}",
            "MGI_WORKERS": "1",
            "MGI_STORE": "on",
            "MGI_DATA_DIR": str(tmp_path),
            "MGI_API_KEYS": "lis:" + "a" * 64,
            "PYTHONPATH": str(ROOT),
        }
    )
    if secret is not None:
        env["MGI_PATIENT_KEY_SECRET"] = secret
    proc = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(CONF), "service.wsgi:app"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in output, output[-3000:]
    (line,) = [x for x in output.splitlines() if x.startswith("mgi: the records store cannot start: ")]
    assert says in line
