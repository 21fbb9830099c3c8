"""Over MLLP a message is read exactly as POST /v1/hl7v2 reads it: the interpretation delivered is the
HTTP endpoint's reply, and each ACK is the one the endpoint answers with (timestamps and the new
message control ids apart)."""

from __future__ import annotations

import re

import pytest

from service.api import create_app
from tests.conftest import ROOT

from .conftest import msa, oru, wait_for

SAMPLES = ROOT / "tests" / "adapters" / "samples"
HL7 = "x-application/hl7-v2+er7"


@pytest.fixture(autouse=True)
def _lab_codemap(monkeypatch):
    monkeypatch.setenv("MGI_CODEMAP_FILE", str(SAMPLES / "lab-codemap.yaml"))


def comparable(er7: str) -> list[list[str]]:
    """Segments split into fields, without what differs between two answers to one message: the
    reply's own time (MSH-7, OBR-22) and its new control id (MSH-10)."""
    segments = [s.split("|") for s in re.split(r"\r\n|\r|\n", er7) if s]
    for seg in segments:
        if seg[0] == "MSH":
            seg[6] = seg[9] = "*"
        if seg[0] == "OBR" and len(seg) > 22:
            seg[22] = "*"
    return segments


def http_reply(message: bytes) -> tuple[int, str]:
    client = create_app({"TESTING": True, "DEV_MODE": True}).test_client()
    response = client.post("/v1/hl7v2", data=message, content_type=HL7)
    return response.status_code, response.data.decode()


@pytest.mark.parametrize("name", ["oru_basic_lf", "oru_v23_crlf", "oru_local_codes", "oru_worked_example_s6"])
def test_the_interpretation_delivered_over_mllp_is_the_http_endpoints_reply(start_listener, engine, name):
    message = (SAMPLES / f"{name}.hl7").read_bytes()
    status, expected = http_reply(message)
    assert status == 200, expected
    ack = start_listener(engine.port).client().send(message)
    assert msa(ack)[0] == "AA"
    assert wait_for(lambda: len(engine.messages) == 1)
    assert comparable(engine.messages[0]) == comparable(expected)


@pytest.mark.parametrize(
    ("message", "status", "code"),
    [
        (oru("AE0001", unit="furlongs"), 422, "AE"),
        (b"MSH|^~\\&|ADT|HOSP|MGI|HOSP|20240101||ADT^A01^ADT_A01|AR0001|P|2.5.1\rPID|1||1\r", 400, "AR"),
        (b"MSH|^~\\&|LIS|LAB|MGI|HOSP|20240101||ORU^R01^ORU_R01|AR0002|P|9.9\rPID|1||1\r", 400, "AR"),
        (oru("AE0002").replace(b"19600115|F\r", b"19600115|F~M\r"), 422, "AE"),
        (oru("AE0003").replace(b"|||20240501083000\r", b"|||99991231235959-1400\r"), 422, "AE"),
        (
            oru(
                "AE0004",
                extra="OBX|4|TX|25700-6^Immunofixation^LN||||||||F\rNTE|1|L|IgA lambda monoclonal protein.\r",
            ),
            422,
            "AE",
        ),
    ],
    ids=[
        "unknown-unit",
        "not-an-oru",
        "unsupported-version",
        "repeated-pid-8",
        "obr-7-out-of-range",
        "result-in-a-comment",
    ],
)
def test_a_refused_message_gets_the_same_ack_over_mllp_as_over_http(
    start_listener, engine, message, status, code
):
    http_status, expected = http_reply(message)
    assert http_status == status
    ack = start_listener(engine.port).client().send(message)
    assert msa(ack)[0] == code
    assert comparable(ack.decode()) == comparable(expected)
