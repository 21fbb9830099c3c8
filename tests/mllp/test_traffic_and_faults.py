"""A day's traffic in miniature, as separate processes on loopback: ``python -m service mllp``, two
sending connections, and a receiving engine that is killed once mid-exchange and started again.
Every message is acknowledged and every interpretation is filed exactly once (counted by control
id at the receiver)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import ROOT

from .conftest import VT, MllpClient, msa, oru, wait_for

RECEIVER = Path(__file__).with_name("receiver.py")


class Receiver:
    """The receiving engine's process, on a listening socket the test keeps open across restarts."""

    def __init__(self, tmp: Path, die_at: int = 0) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.record = tmp / "received.txt"
        self.log = open(tmp / "receiver.log", "ab")  # noqa: SIM115 - closed in stop()
        self.starts = 0
        self.proc = self._spawn(die_at)

    def _spawn(self, die_at: int) -> subprocess.Popen[bytes]:
        self.starts += 1
        fd = self.sock.fileno()
        args = [sys.executable, str(RECEIVER), "--fd", str(fd), "--record", str(self.record)]
        if die_at:
            args += ["--die-at", str(die_at)]
        return subprocess.Popen(args, pass_fds=(fd,), stdout=self.log, stderr=self.log, cwd=ROOT)

    def restart_if_dead(self) -> bool:
        if self.proc.poll() is None:
            return False
        self.proc = self._spawn(0)
        return True

    def lines(self) -> list[tuple[str, str]]:
        if not self.record.exists():
            return []
        return [tuple(line.split(" ", 1)) for line in self.record.read_text().splitlines() if line]  # type: ignore[misc]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.sock.close()
        self.log.close()


def start_listener(tmp: Path, out_port: int) -> tuple[subprocess.Popen[bytes], int, Path]:
    log = tmp / "listener.log"
    env = {
        **os.environ,
        "MGI_MLLP_PORT": "0",
        "MGI_MLLP_OUTBOUND": f"127.0.0.1:{out_port}",
        "MGI_DATA_DIR": str(tmp / "var"),
        "MGI_MLLP_RETRY_BASE": "0.05",
        "MGI_MLLP_RETRY_MAX": "0.5",
        "MGI_MLLP_ACK_TIMEOUT": "5",
        "MGI_LOG_LEVEL": "WARNING",
    }
    env.pop("MGI_DEV_MODE", None)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", "mllp"], env=env, cwd=ROOT, stdout=out, stderr=out
        )
    port = 0

    def ready() -> bool:
        nonlocal port
        found = re.search(r"MLLP listening on port (\d+)", log.read_text(errors="replace"))
        port = int(found.group(1)) if found else 0
        return bool(port) or proc.poll() is not None

    assert wait_for(ready, timeout=60), "listener did not start"
    assert proc.poll() is None, log.read_text()
    return proc, port, log


def send_all(port: int, ids: list[str], acks: dict[str, str], drop_at: int | None = None) -> None:
    """One sending connection: each message, then its ACK; at ``drop_at`` the connection is cut in
    the middle of a message, which is sent again whole on a new connection."""
    client = MllpClient(port, timeout=30)
    for n, cid in enumerate(ids):
        message = oru(cid)
        if n == drop_at:
            client.send_raw(VT + message[: len(message) // 2])
            client.close()
            client = MllpClient(port, timeout=30)
        code, acked, _ = msa(client.send(message))
        assert acked == cid
        acks[cid] = code
    client.close()


def run_traffic(tmp: Path, total: int, die_at: int) -> None:
    receiver = Receiver(tmp, die_at=die_at)
    listener, port, log = start_listener(tmp, receiver.port)
    try:
        ids = [f"T{n:05d}" for n in range(total)]
        acks: dict[str, str] = {}
        errors: list[BaseException] = []

        def sender(part: list[str], drop_at: int | None) -> None:
            try:
                send_all(port, part, acks, drop_at)
            except BaseException as e:  # noqa: BLE001 - reported by the main thread
                errors.append(e)

        threads = [
            threading.Thread(target=sender, args=(ids[0::2], total // 8)),
            threading.Thread(target=sender, args=(ids[1::2], None)),
        ]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            receiver.restart_if_dead()
            if all(not t.is_alive() for t in threads) and len(receiver.lines()) >= total:
                break
            time.sleep(0.05)
        for t in threads:
            t.join(5)
        assert not errors, errors
        # Every message was acknowledged AA.
        assert Counter(acks.values()) == {"AA": total}
        # Every interpretation reached the receiver exactly once: by its own control id, and by the
        # inbound control id it answers (OBR-20).
        time.sleep(1.0)  # anything sent twice would arrive now
        lines = receiver.lines()
        by_outbound = Counter(outbound for outbound, _ in lines)
        by_inbound = Counter(inbound for _, inbound in lines)
        assert receiver.starts == 2, "the receiver was killed and restarted once"
        assert set(by_inbound) == set(ids)
        assert max(by_inbound.values()) == 1 and max(by_outbound.values()) == 1
        # SIGTERM stops the listener cleanly, its outbox empty.
        listener.send_signal(signal.SIGTERM)
        assert listener.wait(30) == 0, log.read_text()[-3000:]
        status = subprocess.run(
            [sys.executable, "-m", "service", "mllp", "status"],
            env={**os.environ, "MGI_DATA_DIR": str(tmp / "var")},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert json.loads(status.stdout)["pending"] == 0
        assert json.loads(status.stdout)["delivered"] == total
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait(10)
        receiver.stop()


def test_a_thousand_messages_on_two_connections_with_a_dropped_connection_and_a_receiver_crash(tmp_path):
    run_traffic(tmp_path, total=1000, die_at=300)


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("MGI_SLOW_TESTS") != "1", reason="10,000-message variant: set MGI_SLOW_TESTS=1"
)
def test_ten_thousand_messages_with_the_same_faults(tmp_path):
    run_traffic(tmp_path, total=10_000, die_at=4000)


def test_a_listener_killed_with_interpretations_queued_delivers_them_after_its_restart(tmp_path):
    from .conftest import free_port

    listener, port, _ = start_listener(tmp_path, free_port())  # the destination is down
    try:
        client = MllpClient(port)
        for n in range(20):
            assert msa(client.send(oru(f"K{n:02d}")))[:2] == ["AA", f"K{n:02d}"]
        client.close()
        listener.kill()  # SIGKILL: no graceful stop
        listener.wait(10)
        receiver = Receiver(tmp_path)
        try:
            listener, _, _ = start_listener(tmp_path, receiver.port)
            assert wait_for(lambda: len(receiver.lines()) >= 20, timeout=30)
            time.sleep(0.5)
            assert Counter(inbound for _, inbound in receiver.lines()) == {f"K{n:02d}": 1 for n in range(20)}
        finally:
            receiver.stop()
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait(10)
