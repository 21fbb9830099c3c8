"""Framing bytes are framing: an end block without its CR ends the frame (the next one is answered on
its own), an end block inside a frame refuses that frame, and CR/LF between frames are skipped."""

from __future__ import annotations

import time

from .conftest import VT, frame, msa, oru, wait_for

FS = b"\x1c"
CALCIUM = "OBX|4|NM|17861-6^Calcium^LN||13.5|mg/dL|8.6-10.3|H|||F\r"


def chemistry(control_id: str) -> bytes:
    """A message with no PID: were it added onto another, that patient would get its calcium."""
    return (
        f"MSH|^~\\&|LIS|LAB|MGI|HOSP|20240501120100||ORU^R01^ORU_R01|{control_id}|P|2.5.1\r"
        "OBR|1|O2|F2|CHEM^CHEM^L|||20240501083000\r" + CALCIUM
    ).encode()


def test_an_end_block_without_its_cr_ends_the_frame_and_the_next_message_is_answered_on_its_own(
    start_listener, engine
):
    client = start_listener(engine.port).client()
    client.send_raw(VT + oru("GLUE1") + FS)
    time.sleep(0.2)  # the next frame in a later write, as the review's sender did
    client.send_raw(frame(chemistry("GLUE2")))
    first, second = client.reply(), client.reply()
    assert msa(first)[:2] == ["AA", "GLUE1"]
    # Read alone, as its own message: a calcium without a screening result is a content error (AE).
    assert msa(second)[:2] == ["AE", "GLUE2"]
    assert wait_for(lambda: len(engine.messages) == 1)
    assert (
        "CALCIUM" not in engine.messages[0].upper().replace("HYPERCALC", "")
        and "|O2|" not in engine.messages[0]
    )
    assert "MYELOMA_DEFINING_EVENT" not in engine.messages[0]


def test_an_end_block_without_its_cr_in_the_same_write(start_listener, engine):
    client = start_listener(engine.port).client()
    client.send_raw(VT + oru("SAME1") + FS + frame(oru("SAME2")))
    assert msa(client.reply())[:2] == ["AA", "SAME1"]
    assert msa(client.reply())[:2] == ["AA", "SAME2"]


def test_an_end_block_inside_a_frame_refuses_the_frame_with_ar_naming_it(start_listener, engine):
    client = start_listener(engine.port).client()
    reply = client.send(oru("INSIDE1") + FS + chemistry("INSIDE2"))
    code, control_id, text = msa(reply)
    assert (code, control_id) == ("AR", "INSIDE1")
    assert "0x1C" in reply.decode() and "one message per frame" in reply.decode()
    assert msa(client.send(oru("AFTER2")))[:2] == ["AA", "AFTER2"]  # the connection stays open
    time.sleep(0.3)
    assert "INSIDE1" not in engine.inbound_ids() and "INSIDE2" not in engine.inbound_ids()


def test_a_start_block_inside_a_frame_refuses_the_frame(start_listener, engine):
    client = start_listener(engine.port).client()
    reply = client.send(oru("LOSTEND1") + VT + chemistry("LOSTEND2"))
    assert msa(reply)[:2] == ["AR", "LOSTEND1"]
    assert "0x0B" in reply.decode()


def test_cr_and_lf_between_frames_are_skipped(start_listener, engine):
    client = start_listener(engine.port).client()
    client.send_raw(frame(oru("GAP1")) + b"\r\r\n")
    assert msa(client.reply())[:2] == ["AA", "GAP1"]
    time.sleep(0.1)
    client.send_raw(b"\n" + frame(oru("GAP2")))
    assert msa(client.reply())[:2] == ["AA", "GAP2"]


def test_an_end_block_followed_by_lf_ends_the_frame_when_the_next_frame_starts(start_listener, engine):
    client = start_listener(engine.port).client()
    client.send_raw(VT + oru("LF1") + FS + b"\n" + frame(oru("LF2")))
    assert msa(client.reply())[:2] == ["AA", "LF1"]
    assert msa(client.reply())[:2] == ["AA", "LF2"]


def test_a_message_of_exactly_the_byte_limit_still_fits_and_one_more_byte_does_not(start_listener, engine):
    message = oru("EDGE1")
    client = start_listener(engine.port, max_bytes=len(message)).client()
    assert msa(client.send(message))[:2] == ["AA", "EDGE1"]
    assert msa(client.send(message + b"X"))[0] == "AR"


def test_the_idle_timeout_still_applies_after_a_stray_cr(start_listener, engine):
    client = start_listener(engine.port, idle_timeout=30, read_timeout=0.3).client()
    assert msa(client.send(oru("IDLECR1")))[0] == "AA"
    client.send_raw(b"\r\n")
    assert not client.closed_by_peer(wait=1.0)  # a stray CR does not start the read timeout's clock
    assert msa(client.send(oru("IDLECR2")))[0] == "AA"


def test_an_end_block_without_its_cr_is_answered_while_the_sender_waits(start_listener, engine):
    # A sender that leaves out the end block's CR and waits for its ACK is answered (it waited for the
    # read timeout and got none); a CR or LF arriving after is skipped between frames.
    client = start_listener(engine.port).client()
    t0 = time.monotonic()
    client.send_raw(VT + oru("WAIT1") + FS)
    assert msa(client.reply())[:2] == ["AA", "WAIT1"]
    assert time.monotonic() - t0 < 5
    client.send_raw(b"\r" + frame(oru("WAIT2")))
    assert msa(client.reply())[:2] == ["AA", "WAIT2"]
    client.send_raw(VT + oru("WAIT3") + FS + b"\n")
    assert msa(client.reply())[:2] == ["AA", "WAIT3"]
