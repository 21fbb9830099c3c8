"""Real sockets on loopback, ephemeral ports: a sender (test client), the MLLP listener, and a
receiver standing in for the interface engine that files interpretations."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from hl7.mllp import start_hl7_server

from service.adapters.mllp import ListenerSettings
from service.adapters.outbound import SenderSettings
from service.api.mllp import MllpSettings, serve

from .receiver import ack, fields_of

VT, FS_CR = b"\x0b", b"\x1c\r"


def oru(control_id: str, *, unit: str = "g/L", sender: str = "LIS", extra: str = "") -> bytes:
    """An ORU^R01 with an M-spike and free light chains (the listener answers AA)."""
    return (
        f"MSH|^~\\&|{sender}|LAB|MGI|HOSP|20240501120000||ORU^R01^ORU_R01|{control_id}|P|2.5.1\r"
        "PID|1||12345^^^HOSP^MR||Doe^Jane||19600115|F\r"
        "OBR|1|ORD1|FIL1|SPEP^Serum protein electrophoresis^L|||20240501083000\r"
        f"OBX|1|NM|33358-3^Protein.monoclonal^LN||12|{unit}|||||F\r"
        "OBX|2|NM|36916-5^Kappa free^LN||10.4|mg/L|||||F\r"
        "OBX|3|NM|33944-0^Lambda free^LN||48.0|mg/L|||||F\r" + extra
    ).encode()


def frame(message: bytes) -> bytes:
    return VT + message + FS_CR


def msa(reply: bytes) -> list[str]:
    """MSA fields of a reply: [code, control id, text]."""
    line = next(s for s in reply.decode().split("\r") if s.startswith("MSA|"))
    return (line.split("|")[1:] + ["", "", ""])[:3]


def err(reply: bytes) -> str:
    return next((s for s in reply.decode().split("\r") if s.startswith("ERR|")), "")


class MllpClient:
    """A sending system: one connection, one message at a time, waiting for each reply."""

    def __init__(self, port: int, timeout: float = 20.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> bytes:
        """The next framed reply; b'' when the listener closed the connection first."""
        while FS_CR not in self.buffer:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:  # closed with our bytes unread
                return b""
            if not chunk:
                return b""
            self.buffer += chunk
        block, self.buffer = self.buffer.split(FS_CR, 1)
        assert block[:1] == VT, block[:20]
        return block[1:]

    def send(self, message: bytes) -> bytes:
        self.send_raw(frame(message))
        return self.reply()

    def closed_by_peer(self, wait: float = 5.0) -> bool:
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()


class LoopThread:
    """An asyncio loop in a thread, for servers the test talks to over sockets."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def submit(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class FakeEngine:
    """The destination of interpretations, in-process: files each message, answers AA (or what
    ``answer`` says for a message: an MSA-1 code, or None to close without answering)."""

    loop: LoopThread
    port: int = 0
    received: list[tuple[str, str]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # the ER7 of each message filed
    answer: Callable[[str, int], str | None] = lambda text, n: "AA"
    server: Any = None

    async def _on_connection(self, reader: Any, writer: Any) -> None:
        try:
            while True:
                text = (await reader.readblock()).decode()
                code = self.answer(text, len(self.received))
                if code is None:
                    writer.close()
                    return
                if code in ("AA", "CA"):
                    self.received.append(fields_of(text))
                    self.messages.append(text)
                writer.writeblock(ack(text, code))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def _start(self, port: int) -> None:
        self.server = await start_hl7_server(self._on_connection, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]

    def start(self, port: int = 0) -> FakeEngine:
        self.loop.run(self._start(port))
        return self

    def stop(self) -> None:
        async def _stop() -> None:
            self.server.close()
            await self.server.wait_closed()

        self.loop.run(_stop())

    def inbound_ids(self) -> Counter[str]:
        return Counter(inbound for _, inbound in self.received)


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(step)
    return condition()


def free_port() -> int:
    """A port nobody listens on now (for a destination that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_for(data_dir: Path, out_port: int, **listener: Any) -> MllpSettings:
    return MllpSettings(
        listener=replace(ListenerSettings(host="127.0.0.1", port=0), **listener),
        sender=SenderSettings(
            host="127.0.0.1", port=out_port, connect_timeout=2, ack_timeout=2, retry_base=0.05, retry_max=0.3
        ),
        data_dir=data_dir,
    )


class RunningListener:
    """``service.api.mllp.serve`` in a loop thread; ``stop()`` is its SIGTERM."""

    def __init__(self, loop: LoopThread, settings: MllpSettings) -> None:
        self.loop = loop
        self.settings = settings
        ready: asyncio.Future[int] = loop.loop.create_future()

        async def _serve() -> None:
            self._stop = asyncio.Event()
            await serve(settings, self._stop, on_ready=ready.set_result)

        self.task = loop.submit(_serve())
        self.port = loop.run(asyncio.wait_for(_wrap(ready), 30))

    def client(self) -> MllpClient:
        return MllpClient(self.port)

    def stop(self) -> None:
        self.loop.loop.call_soon_threadsafe(self._stop.set)
        self.task.result(30)


async def _wrap(fut: asyncio.Future[int]) -> int:
    return await fut


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    lt = LoopThread()
    yield lt
    lt.close()


@pytest.fixture
def engine(loop_thread: LoopThread) -> Iterator[FakeEngine]:
    e = FakeEngine(loop_thread).start()
    yield e
    with contextlib.suppress(Exception):
        e.stop()


@pytest.fixture
def start_listener(loop_thread: LoopThread, tmp_path: Path) -> Iterator[Callable[..., RunningListener]]:
    running: list[RunningListener] = []

    def _start(out_port: int, data_dir: Path | None = None, **listener: Any) -> RunningListener:
        r = RunningListener(loop_thread, settings_for(data_dir or tmp_path / "var", out_port, **listener))
        running.append(r)
        return r

    yield _start
    for r in running:
        with contextlib.suppress(Exception):
            r.stop()
