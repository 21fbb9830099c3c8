"""The MLLP listener answers every message as /v1/hl7v2 reads it, and queues each interpretation
before it says AA."""

from __future__ import annotations

import contextlib
import threading
import time

from service.adapters import hl7v2
from service.adapters.outbound import SqliteOutbox
from service.api.mllp import OUTBOX_FILE

from .conftest import FS_CR, VT, MllpClient, err, frame, free_port, msa, oru, wait_for


def test_an_oru_r01_is_acknowledged_aa_and_its_interpretation_reaches_the_destination(start_listener, engine):
    listener = start_listener(engine.port)
    client = listener.client()
    reply = client.send(oru("MSG0001"))
    assert msa(reply)[:2] == ["AA", "MSG0001"]
    assert "|ACK^R01^ACK|" in reply.decode()
    assert wait_for(lambda: len(engine.received) == 1)
    outbound_id, inbound_id = engine.received[0]
    assert inbound_id == "MSG0001" and outbound_id.startswith("MGI")


def test_several_messages_on_one_connection_are_answered_in_order(start_listener, engine):
    client = start_listener(engine.port).client()
    for n in range(5):
        assert msa(client.send(oru(f"SEQ{n}")))[:2] == ["AA", f"SEQ{n}"]
    assert wait_for(lambda: len(engine.received) == 5)
    assert [inbound for _, inbound in engine.received] == [f"SEQ{n}" for n in range(5)]


def test_a_unit_the_service_cannot_read_is_answered_ae_with_err_and_nothing_is_sent_on(
    start_listener, engine, tmp_path
):
    client = start_listener(engine.port).client()
    reply = client.send(oru("BADUNIT", unit="furlongs"))
    assert msa(reply)[:2] == ["AE", "BADUNIT"]
    assert err(reply).startswith("ERR|") and "OBX" in err(reply)
    assert SqliteOutbox(tmp_path / "var" / OUTBOX_FILE).counts() == {"pending": 0, "delivered": 0}


def test_a_message_that_is_not_an_oru_r01_is_answered_ar(start_listener, engine):
    client = start_listener(engine.port).client()
    reply = client.send(b"MSH|^~\\&|ADT|HOSP|MGI|HOSP|20240101||ADT^A01^ADT_A01|ADT1|P|2.5.1\rPID|1||1\r")
    assert msa(reply)[:2] == ["AR", "ADT1"]
    assert "200^Unsupported message type" in err(reply)


def test_bytes_that_are_not_hl7_inside_a_frame_are_answered_ar_and_the_connection_stays_open(
    start_listener, engine
):
    client = start_listener(engine.port).client()
    assert msa(client.send(b"hello, is this the lab?"))[0] == "AR"
    assert msa(client.send(oru("AFTER1")))[:2] == ["AA", "AFTER1"]


def test_a_message_over_the_segment_limit_is_answered_ar_and_the_connection_stays_open(
    start_listener, engine
):
    client = start_listener(engine.port).client()
    notes = "".join(f"NTE|{i}|L|x\r" for i in range(hl7v2.MAX_SEGMENTS))
    reply = client.send(oru("HUGE1", extra=notes))
    assert msa(reply)[:2] == ["AR", "HUGE1"]
    assert f"at most {hl7v2.MAX_SEGMENTS}" in reply.decode()
    assert msa(client.send(oru("AFTER2")))[:2] == ["AA", "AFTER2"]


def test_a_message_of_exactly_the_segment_limit_is_read(start_listener, engine):
    client = start_listener(engine.port).client()
    base = oru("EXACT1").decode().count("\r")  # segments in the message, the last ends with \r
    notes = "".join(f"NTE|{i}|L|x\r" for i in range(hl7v2.MAX_SEGMENTS - base))
    assert msa(client.send(oru("EXACT1", extra=notes)))[:2] == ["AA", "EXACT1"]


def test_a_block_over_the_byte_limit_is_answered_ar_naming_it_and_the_connection_is_closed(
    start_listener, engine
):
    client = start_listener(engine.port, max_bytes=2048).client()
    message = oru("BIGBYTES", extra="NTE|1|L|" + "y" * 3000 + "\r")
    reply = client.send(message)
    assert msa(reply)[:2] == ["AR", "BIGBYTES"]
    assert "more than 2048 bytes" in reply.decode()
    assert client.closed_by_peer()


def test_a_message_of_exactly_the_byte_limit_is_read(start_listener, engine):
    message = oru("FITS1")
    client = start_listener(engine.port, max_bytes=len(message)).client()
    assert msa(client.send(message))[:2] == ["AA", "FITS1"]


def test_a_message_one_byte_over_the_byte_limit_is_refused(start_listener, engine):
    message = oru("OVER1")
    client = start_listener(engine.port, max_bytes=len(message) - 1).client()
    assert msa(client.send(message))[:2] == ["AR", "OVER1"]


def test_bytes_outside_a_frame_close_the_connection_without_a_reply(start_listener, engine):
    listener = start_listener(engine.port)
    client = listener.client()
    client.send_raw(oru("NOVT") + FS_CR)
    assert client.reply() == b""
    assert msa(listener.client().send(oru("NEXT1")))[0] == "AA"


def test_a_connection_dropped_mid_message_leaves_nothing_behind(start_listener, engine, tmp_path):
    listener = start_listener(engine.port)
    client = listener.client()
    message = oru("HALF1")
    client.send_raw(VT + message[: len(message) // 2])
    client.close()
    resent = listener.client()
    assert msa(resent.send(message))[:2] == ["AA", "HALF1"]
    assert wait_for(lambda: len(engine.received) == 1)
    time.sleep(0.2)
    assert engine.inbound_ids() == {"HALF1": 1}


def test_a_message_sent_again_after_a_lost_ack_is_acknowledged_but_delivered_once(start_listener, engine):
    client = start_listener(engine.port).client()
    assert msa(client.send(oru("TWICE1")))[0] == "AA"
    assert msa(client.send(oru("TWICE1")))[0] == "AA"
    assert msa(client.send(oru("TWICE2")))[0] == "AA"
    assert wait_for(lambda: len(engine.received) == 2)
    time.sleep(0.2)
    assert engine.inbound_ids() == {"TWICE1": 1, "TWICE2": 1}


def test_a_silent_connection_is_closed_after_the_idle_timeout(start_listener, engine):
    client = start_listener(engine.port, idle_timeout=0.3).client()
    assert msa(client.send(oru("IDLE1")))[0] == "AA"
    assert client.closed_by_peer(wait=3)


def test_a_message_not_complete_within_the_read_timeout_closes_the_connection(start_listener, engine):
    client = start_listener(engine.port, read_timeout=0.3, idle_timeout=30).client()
    client.send_raw(VT + b"MSH|^~\\&|LIS|LAB")
    started = time.monotonic()
    assert client.closed_by_peer(wait=5)
    assert time.monotonic() - started < 3  # the read timeout, not the idle timeout


def test_a_connection_beyond_the_limit_is_closed_at_once(start_listener, engine):
    listener = start_listener(engine.port, max_connections=2)
    first, second = listener.client(), listener.client()
    assert msa(first.send(oru("C1")))[0] == "AA" and msa(second.send(oru("C2")))[0] == "AA"
    third = listener.client()
    assert third.closed_by_peer()
    first.close()

    def served_again() -> bool:  # once the listener has seen the first connection close
        try:
            reply = listener.client().send(oru("C3"))
        except OSError:
            return False
        return bool(reply) and msa(reply)[0] == "AA"

    assert wait_for(served_again, timeout=10, step=0.1)


def test_a_peer_outside_the_allow_list_is_closed_before_a_byte_is_read(start_listener, engine):
    from service.adapters.mllp import parse_allow_list

    listener = start_listener(engine.port, allow=parse_allow_list("10.0.0.0/8"))
    client = listener.client()
    client.send_raw(frame(oru("DENIED1")))
    assert client.reply() == b""


def test_a_peer_inside_the_allow_list_is_served(start_listener, engine):
    from service.adapters.mllp import parse_allow_list

    client = start_listener(engine.port, allow=parse_allow_list("10.0.0.0/8, 127.0.0.1")).client()
    assert msa(client.send(oru("ALLOWED1")))[0] == "AA"


def test_an_interpretation_that_cannot_be_queued_is_answered_ar_never_aa(tmp_path):
    from service.api.mllp import Hl7MllpHandler, build_app

    class BrokenOutbox:
        def enqueue(self, *args):
            raise OSError("disk full")

    reply = Hl7MllpHandler(build_app(), BrokenOutbox()).handle(oru("NOROOM1"))  # type: ignore[arg-type]
    assert msa(reply)[:2] == ["AR", "NOROOM1"]
    assert "207^Application internal error" in err(reply)


def test_messages_wait_in_the_outbox_while_the_destination_is_down_and_survive_a_restart(
    start_listener, loop_thread, tmp_path
):
    from .conftest import FakeEngine

    port = free_port()
    data = tmp_path / "data"
    first = start_listener(port, data_dir=data)
    client = first.client()
    for n in range(5):
        assert msa(client.send(oru(f"Q{n}")))[:2] == ["AA", f"Q{n}"]
    client.close()
    first.stop()
    assert SqliteOutbox(data / OUTBOX_FILE).counts() == {"pending": 5, "delivered": 0}

    engine = FakeEngine(loop_thread).start(port)
    start_listener(port, data_dir=data)
    assert wait_for(lambda: len(engine.received) == 5)
    time.sleep(0.3)
    assert engine.inbound_ids() == {f"Q{n}": 1 for n in range(5)}
    assert wait_for(lambda: SqliteOutbox(data / OUTBOX_FILE).counts() == {"pending": 0, "delivered": 5})


def test_a_message_the_destination_refuses_is_retried_without_holding_back_the_others(start_listener, engine):
    refusals = []

    def answer(text: str, n: int) -> str:
        # Refused until the two messages queued after it have been filed.
        if "|REFUSED1|" in text and len(engine.received) < 2:
            refusals.append(1)
            return "AE"
        return "AA"

    engine.answer = answer
    client = start_listener(engine.port).client()
    for cid in ("REFUSED1", "OK1", "OK2"):
        assert msa(client.send(oru(cid)))[0] == "AA"
    assert wait_for(lambda: len(engine.received) == 3)
    assert [i for _, i in engine.received] == ["OK1", "OK2", "REFUSED1"]
    assert refusals and engine.inbound_ids() == {"REFUSED1": 1, "OK1": 1, "OK2": 1}


def test_a_destination_that_closes_without_answering_gets_the_message_again(start_listener, engine):
    closed = []

    def answer(text: str, n: int) -> str | None:
        if not closed:
            closed.append(1)
            return None  # hang up instead of answering
        return "AA"

    engine.answer = answer
    client = start_listener(engine.port).client()
    assert msa(client.send(oru("DROPPED1")))[0] == "AA"
    assert wait_for(lambda: len(engine.received) == 1)
    time.sleep(0.3)
    assert closed and engine.inbound_ids() == {"DROPPED1": 1}


def test_stopping_lets_a_connection_finish_the_message_it_is_reading_then_refuses_new_ones(
    start_listener, engine
):
    listener = start_listener(engine.port, read_timeout=10)
    client = listener.client()
    message = oru("LAST1")
    client.send_raw(VT + message[:40])
    time.sleep(0.5)  # the listener has the first bytes: it is in the middle of a message
    stopping = threading.Thread(target=listener.stop)
    stopping.start()
    time.sleep(0.3)
    client.send_raw(message[40:] + FS_CR)
    assert msa(client.reply())[:2] == ["AA", "LAST1"]
    stopping.join(15)
    assert not stopping.is_alive()
    with contextlib.suppress(OSError):
        late = MllpClient(listener.port, timeout=2)
        assert late.closed_by_peer(wait=2)


def test_a_failure_inside_the_service_is_answered_ar_never_a_dropped_connection(monkeypatch):
    from service.api import mllp as shell
    from service.api.mllp import Hl7MllpHandler, build_app

    def boom(raw, codemap):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(shell, "process_hl7", boom)
    reply = Hl7MllpHandler(build_app(), object()).handle(oru("BOOM1"))  # type: ignore[arg-type]
    assert msa(reply)[:2] == ["AR", "BOOM1"]
    assert "internal error" in reply.decode()


def test_a_batch_file_in_one_frame_is_answered_ar_saying_how_to_send_it(tmp_path):
    from service.api.mllp import Hl7MllpHandler, build_app

    batch = b"FHS|^~\\&|LIS|LAB\rBHS|^~\\&|LIS|LAB\r" + oru("INBATCH1") + b"BTS|1\rFTS|1\r"
    outbox = SqliteOutbox(tmp_path / "outbox.sqlite3")
    reply = Hl7MllpHandler(build_app(), outbox).handle(batch)
    assert msa(reply)[0] == "AR"
    assert "batch file" in err(reply) and "its own frame" in err(reply)
    err_segment = next(s for s in reply.decode().split("\r") if s.startswith("ERR|"))
    assert "|100" in err_segment and "|207" not in err_segment  # table 0357: segment sequence error
    assert outbox.counts().get("pending", 0) == 0
