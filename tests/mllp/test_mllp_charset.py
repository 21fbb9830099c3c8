"""Over MLLP, as on POST /v1/hl7v2: the frame's bytes are read in the character set MSH-18 declares
(HL7 table 0211), and a set that is unknown or cannot be carried by an 8-bit frame is rejected (AR
naming MSH-18), never read as UTF-8 regardless."""

from __future__ import annotations

import time

from .conftest import err, msa, oru, wait_for


def declaring(charset: bytes, control_id: str, pid: bytes = b"12345") -> bytes:
    message = oru(control_id).replace(b"|P|2.5.1\r", b"|P|2.5.1||||||" + charset + b"\r", 1)
    return message.replace(b"PID|1||12345^", b"PID|1||" + pid + b"^", 1)


def test_a_latin1_frame_is_read_as_latin1(start_listener, engine):
    ack = start_listener(engine.port).client().send(declaring(b"8859/1", "CS8859", b"M\xc3\xa9"))
    assert msa(ack)[:2] == ["AA", "CS8859"]
    assert wait_for(lambda: len(engine.messages) == 1)
    assert "PID|1||MÃ©^^^HOSP^MR" in engine.messages[0]


def test_a_utf16_declaration_is_rejected_at_msh18(start_listener, engine):
    ack = start_listener(engine.port).client().send(declaring(b"UNICODE UTF-16", "CS16"))
    assert msa(ack)[:2] == ["AR", "CS16"]
    assert err(ack).startswith("ERR||MSH^1^18|103^")
    time.sleep(0.3)
    assert engine.messages == []


def test_bytes_not_valid_in_the_declared_set_are_rejected(start_listener, engine):
    ack = start_listener(engine.port).client().send(declaring(b"UNICODE UTF-8", "CSBAD", b"M\xe9"))
    assert msa(ack)[:2] == ["AR", "CSBAD"]
    assert err(ack).startswith("ERR||MSH^1^18|102^")
