"""The outbox keeps each interpretation until it is acknowledged, once; settings are read strictly."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from service.adapters.mllp import allowed, parse_allow_list
from service.adapters.outbound import SqliteOutbox, ack_of, backoff, control_id_of
from service.api import MAX_BODY_BYTES
from service.api.mllp import OUTBOX_FILE, SettingsError, _exclusive, load_settings
from tests.conftest import ROOT

# --------------------------------------------------------------------------- outbox


@pytest.fixture
def outbox(tmp_path: Path):
    box = SqliteOutbox(tmp_path / OUTBOX_FILE)
    yield box
    box.close()


def test_a_queued_message_is_due_at_once_and_survives_reopening_the_file(outbox, tmp_path):
    assert outbox.enqueue("k1", "OUT1", "IN1", b"MSH|...") is True
    outbox.close()
    reopened = SqliteOutbox(tmp_path / OUTBOX_FILE)
    [item] = reopened.due(time.time(), 10)
    assert (item.control_id, item.inbound_control_id, item.payload) == ("OUT1", "IN1", b"MSH|...")
    reopened.close()


def test_the_outbox_file_is_in_wal_mode(outbox, tmp_path):
    import sqlite3

    with sqlite3.connect(tmp_path / OUTBOX_FILE) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_same_key_is_queued_once(outbox):
    assert outbox.enqueue("k1", "OUT1", "IN1", b"a") is True
    assert outbox.enqueue("k1", "OUT2", "IN1", b"b") is False
    assert outbox.counts() == {"pending": 1, "delivered": 0}


def test_a_delivered_message_is_marked_once_and_is_never_due_again(outbox):
    outbox.enqueue("k1", "OUT1", "IN1", b"a")
    [item] = outbox.due(time.time(), 10)
    assert outbox.delivered(item.id, time.time()) is True
    assert outbox.delivered(item.id, time.time()) is False
    assert outbox.due(time.time() + 3600, 10) == []
    assert outbox.counts() == {"pending": 0, "delivered": 1}


def test_a_failed_attempt_postpones_only_that_message(outbox):
    outbox.enqueue("k1", "OUT1", "IN1", b"a")
    outbox.enqueue("k2", "OUT2", "IN2", b"b")
    now = time.time()
    first, _ = outbox.due(now, 10)
    outbox.failed(first.id, now, now + 60, "MSA-1 AE")
    assert [i.control_id for i in outbox.due(now + 1, 10)] == ["OUT2"]
    again = [i for i in outbox.due(now + 61, 10) if i.control_id == "OUT1"]
    assert again and again[0].attempts == 1


def test_messages_are_due_oldest_first(outbox):
    for n in range(5):
        outbox.enqueue(f"k{n}", f"OUT{n}", f"IN{n}", b"x")
    assert [i.control_id for i in outbox.due(time.time(), 10)] == [f"OUT{n}" for n in range(5)]


def test_delivered_messages_older_than_the_retention_are_forgotten_pending_ones_never(outbox):
    outbox.enqueue("k1", "OUT1", "IN1", b"a")
    outbox.enqueue("k2", "OUT2", "IN2", b"b")
    [first, _] = outbox.due(time.time(), 10)
    outbox.delivered(first.id, 1000.0)
    assert outbox.prune(delivered_before=999.0) == 0
    assert outbox.prune(delivered_before=1001.0) == 1
    assert outbox.counts() == {"pending": 1, "delivered": 0}


def test_the_back_off_doubles_from_the_base_up_to_the_ceiling():
    assert [backoff(n, 1.0, 10.0) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff(10_000, 1.0, 300.0) == 300.0


def test_an_ack_is_read_for_its_code_and_the_control_id_it_answers():
    assert ack_of(b"MSH|^~\\&|E|H|M|H|2024||ACK^R01^ACK|R1|P|2.5.1\rMSA|AA|OUT1\r") == ("AA", "OUT1")
    assert ack_of(b"MSH#^~\\&#E#H#M#H#2024##ACK#R1#P#2.5.1\nMSA#CA#OUT2\n") == ("CA", "OUT2")
    assert ack_of(b"garbage") == ("", "")
    assert ack_of(b"MSH|^~\\&|E|H|M|H|2024||ACK^R01^ACK|R1|P|2.5.1\r") == ("", "")


def test_the_control_id_of_an_outbound_message_is_its_msh_10():
    assert control_id_of("MSH|^~\\&|MGI|HOSP|LIS|LAB|2024||ORU^R01^ORU_R01|MGI123|P|2.5.1\rPID|1") == "MGI123"


# --------------------------------------------------------------------------- allow-list


def test_the_allow_list_reads_addresses_and_networks():
    nets = parse_allow_list("10.1.0.0/16, 192.168.4.7 ; fd00::/8")
    assert nets == (
        ipaddress.ip_network("10.1.0.0/16"),
        ipaddress.ip_network("192.168.4.7/32"),
        ipaddress.ip_network("fd00::/8"),
    )


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        ("10.1.255.255", True),
        ("10.2.0.0", False),
        ("192.168.4.7", True),
        ("192.168.4.8", False),
        ("::ffff:10.1.2.3", True),  # an IPv4 peer on a dual-stack socket
        ("fd12::1", True),
        ("not-an-address", False),
    ],
)
def test_a_peer_is_allowed_only_inside_the_list(peer, expected):
    assert allowed(peer, parse_allow_list("10.1.0.0/16,192.168.4.7,fd00::/8")) is expected


def test_an_empty_allow_list_allows_every_peer():
    assert allowed("203.0.113.9", ()) is True


def test_a_bad_allow_list_entry_is_named():
    with pytest.raises(ValueError, match="'10.1.0.0/33'"):
        parse_allow_list("10.1.0.0/33")


# --------------------------------------------------------------------------- settings


def test_the_settings_have_documented_defaults():
    s = load_settings({"MGI_MLLP_OUTBOUND": "engine.example.org:6661"})
    assert (s.listener.host, s.listener.port) == ("127.0.0.1", 2575)
    assert s.listener.max_bytes == MAX_BODY_BYTES  # the /v1/hl7v2 body limit
    assert (s.listener.idle_timeout, s.listener.read_timeout, s.listener.max_connections) == (300, 30, 32)
    assert (s.sender.host, s.sender.port, s.sender.retry_base, s.sender.retry_max) == (
        "engine.example.org",
        6661,
        1,
        300,
    )
    assert s.data_dir == Path("./var") and s.outbox_path.name == OUTBOX_FILE
    assert s.listener.allow == ()


def test_the_http_body_limit_setting_is_the_mllp_message_limit_too():
    s = load_settings({"MGI_MLLP_OUTBOUND": "h:1", "MGI_MAX_BODY_BYTES": "65536"})
    assert s.listener.max_bytes == 65536


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "MGI_MLLP_OUTBOUND is not set"),
        ({"MGI_MLLP_OUTBOUND": "engine"}, "MGI_MLLP_OUTBOUND='engine'"),
        ({"MGI_MLLP_OUTBOUND": "engine:99999"}, "MGI_MLLP_OUTBOUND"),
        ({"MGI_MLLP_PORT": "twenty"}, "MGI_MLLP_PORT='twenty': expected a whole number"),
        ({"MGI_MLLP_PORT": "70000"}, "MGI_MLLP_PORT=70000"),
        ({"MGI_MLLP_IDLE_TIMEOUT": "0"}, "MGI_MLLP_IDLE_TIMEOUT='0': expected at least 0.1"),
        ({"MGI_MLLP_READ_TIMEOUT": "nan"}, "MGI_MLLP_READ_TIMEOUT"),
        ({"MGI_MLLP_MAX_CONNECTIONS": "0"}, "MGI_MLLP_MAX_CONNECTIONS"),
        ({"MGI_MLLP_ALLOW": "10.0.0.0/8,intranet"}, "MGI_MLLP_ALLOW: 'intranet'"),
        (
            {"MGI_MLLP_RETRY_BASE": "5", "MGI_MLLP_RETRY_MAX": "1"},
            "MGI_MLLP_RETRY_MAX='1': expected at least 5",
        ),
    ],
)
def test_a_bad_setting_is_refused_naming_the_variable(env, named):
    env = {"MGI_MLLP_OUTBOUND": "engine:6661", **env} if "MGI_MLLP_OUTBOUND" not in env and env else env
    with pytest.raises(SettingsError) as e:
        load_settings(env)
    assert named in str(e.value)


def test_a_second_listener_on_the_same_data_directory_is_refused(tmp_path):
    with _exclusive(tmp_path), pytest.raises(SettingsError, match="another MLLP listener"):
        with _exclusive(tmp_path):
            pass


def test_the_command_refuses_to_start_without_a_destination_and_says_why(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MGI_MLLP_")}
    proc = subprocess.run(
        [sys.executable, "-m", "service", "mllp"],
        env={**env, "MGI_DATA_DIR": str(tmp_path)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "MGI_MLLP_OUTBOUND is not set" in proc.stderr


@pytest.mark.parametrize(
    ("secret", "says"),
    [
        (None, "MGI_PATIENT_KEY_SECRET is not set"),  # outside development mode the site's secret is needed
        ("s" * 40, "run `python -m service db upgrade`"),  # a database without its schema
    ],
)
def test_a_records_store_that_cannot_start_stops_the_command_with_a_message(tmp_path, secret, says):
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MGI_MLLP_", "MGI_PATIENT_KEY", "MGI_DEV"))
    }
    env.update(
        {
            "MGI_DATA_DIR": str(tmp_path),
            "MGI_MLLP_OUTBOUND": "127.0.0.1:9",
            "MGI_MLLP_PORT": "0",
            "MGI_STORE": "on",
        }
    )
    if secret is not None:
        env["MGI_PATIENT_KEY_SECRET"] = secret
    proc = subprocess.run(
        [sys.executable, "-m", "service", "mllp"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("mllp:")]
    assert line.startswith("mllp: the records store cannot start: ") and says in line


def test_the_command_is_listed_in_the_help():
    proc = subprocess.run(
        [sys.executable, "-m", "service", "help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert "mllp" in proc.stdout
