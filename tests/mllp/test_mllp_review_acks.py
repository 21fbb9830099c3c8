"""Over MLLP: a message without MSH-10 is rejected (AR naming MSH-10) and never interpreted, with the
ACK POST /v1/hl7v2 answers; a v2.4 error ACK carries the whole text of the problem in ERR-1."""

from __future__ import annotations

import re
import time

from service.api import create_app

from .conftest import err, msa, oru

HL7 = "x-application/hl7-v2+er7"


def comparable_ack(er7: str) -> list[list[str]]:
    """An ACK's segments split into fields, without its own time (MSH-7) and control id (MSH-10)."""
    segments = [s.split("|") for s in re.split(r"\r\n|\r|\n", er7) if s]
    for seg in segments:
        if seg[0] == "MSH":
            seg[6] = seg[9] = "*"
    return segments


def http_reply(message: bytes) -> tuple[int, str]:
    client = create_app({"TESTING": True, "DEV_MODE": True}).test_client()
    response = client.post("/v1/hl7v2", data=message, content_type=HL7)
    return response.status_code, response.data.decode()


def test_a_message_without_msh_10_is_rejected_and_not_interpreted(start_listener, engine):
    message = oru("")
    status, expected = http_reply(message)
    assert status == 400
    ack = start_listener(engine.port).client().send(message)
    assert msa(ack)[:2] == ["AR", ""]
    assert err(ack).split("|")[2:4] == ["MSH^1^10", "101^Required field missing^HL70357"]
    assert comparable_ack(ack.decode()) == comparable_ack(expected)
    time.sleep(0.3)
    assert engine.messages == []


def test_a_v24_error_ack_carries_the_whole_text_in_err_1(start_listener, engine):
    message = oru("V24AE", unit="furlongs").replace(b"|P|2.5.1\r", b"|P|2.4\r")
    status, expected = http_reply(message)
    assert status == 422
    ack = start_listener(engine.port).client().send(message)
    assert msa(ack)[:2] == ["AE", "V24AE"]
    assert err(ack).startswith("ERR|OBX^1^6^103&spep.m_protein.unit (OBX[1] (set ID 1, 33358-3)): ")
    assert err(ack).endswith("Must be one of: g/L, g/dL.&HL70357"), err(ack)
    assert comparable_ack(ack.decode()) == comparable_ack(expected)
