"""HL7 v2 over MLLP: the listener's transport (framing, connections, timeouts, allow-list).

Framing is python-hl7's asyncio MLLP support (``hl7.mllp``): its ``MLLPStreamReader.readblock`` reads
one ``<VT>message<FS><CR>`` block under a byte limit and its ``MLLPStreamWriter.writeblock`` frames a
reply. Chosen over hl7apy's ``hl7apy.mllp.MLLPServer`` because that server reads one byte at a time,
answers one message per connection and then closes it, has no size limit, and drops a badly framed
message without a word; python-hl7's reader keeps the connection open for the next message (what
Mirth Connect and Rhapsody expect), enforces a limit while buffering, and runs on asyncio, so many
idle connections cost no threads. Reading the message itself stays with ``service.adapters.hl7v2``
(the ``/v1/hl7v2`` rules); python-hl7 is used for framing only.

What a sender sees:
* every complete block gets one reply block, in order, on the same connection;
* a block larger than the byte limit gets an AR acknowledgement (echoing MSH-10 when the start of the
  message could be read) and the connection is closed: the rest of an oversized block cannot be told
  apart from the next message;
* a block that does not start with <VT> (bytes outside any frame) closes the connection;
* no byte for ``idle_timeout`` seconds between messages, or a message not complete within
  ``read_timeout`` seconds of its first byte, closes the connection (nothing is acknowledged for a
  message that never arrived whole, so the sender sends it again);
* more than ``max_connections`` open connections, or a peer outside the allow-list: the connection is
  closed at once, before any byte is read.

The reading of a message is the caller's :class:`MessageHandler`, run in a small thread pool so that
one slow message does not stall the other connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from asyncio import LimitOverrunError
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from hl7.mllp import HL7StreamProtocol, HL7StreamReader, InvalidBlockError
from hl7.mllp.streams import CARRIAGE_RETURN as CR
from hl7.mllp.streams import END_BLOCK, START_BLOCK

log = logging.getLogger("mgi.mllp")

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
LF = b"\n"
HEAD_BYTES = 4096  # what is kept of an oversized block to answer it (its MSH segment)


# Seconds to wait for the CR of an end block before taking <FS> alone as the end (a sender that leaves
# the CR out waits for its ACK: it would otherwise wait for the read timeout and get none).
END_BLOCK_GRACE = 0.5


class MessageHandler(Protocol):
    """Reads one message and returns the ER7 reply; both run in a worker thread."""

    def handle(self, raw: bytes) -> bytes: ...

    def too_large(self, head: bytes, limit: int) -> bytes:
        """The reply to a block of more than ``limit`` bytes, of which ``head`` is the start."""


@dataclass(frozen=True, slots=True)
class ListenerSettings:
    host: str = "127.0.0.1"
    port: int = 2575
    max_bytes: int = 256 * 1024
    max_connections: int = 32
    idle_timeout: float = 300.0
    read_timeout: float = 30.0
    workers: int = 2
    stop_grace: float = 10.0
    allow: tuple[IpNetwork, ...] = field(default_factory=tuple)


def parse_allow_list(text: str) -> tuple[IpNetwork, ...]:
    """``"10.1.0.0/16, 192.168.4.7"`` → networks; a bad entry raises ValueError naming it."""
    nets = []
    for entry in (e.strip() for e in text.replace(";", ",").split(",")):
        if entry:
            try:
                nets.append(ipaddress.ip_network(entry, strict=False))
            except ValueError as e:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network ({e})") from None
    return tuple(nets)


def allowed(peer: str, allow: Sequence[IpNetwork]) -> bool:
    """Whether a peer address is inside the allow-list (an empty list allows every peer)."""
    if not allow:
        return True
    try:
        addr = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr.version == net.version and addr in net for net in allow)


class _Reader(HL7StreamReader):
    """python-hl7's reader, also noting when the current block's first byte arrived (for the read
    timeout) and the start of a block refused for its size (to answer it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit=limit)
        self.started_at: float | None = None
        self.started = asyncio.Event()  # set by the first byte of a block
        self.head = b""

    def feed_data(self, data: bytes) -> None:
        if self.started_at is None and not self._buffer:
            data = data.lstrip(CR + LF)  # between blocks: not the start of the next one
        if data and self.started_at is None:
            self.started_at = time.monotonic()
            self.started.set()
        super().feed_data(data)

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        try:
            return await super().readuntil(separator)
        except LimitOverrunError:
            self.head = bytes(self._buffer[:HEAD_BYTES])  # StreamReader's buffer, as python-hl7 reads it
            raise

    def _unread(self, data: bytes) -> None:
        self._buffer[:0] = data

    async def _after_end_block(self) -> bytes | None:
        """The byte after an <FS> (or after CR/LF following it), or None when none comes within
        END_BLOCK_GRACE seconds: a sender that leaves out the end block's CR and waits for its ACK
        is answered instead of held until the read timeout (a CR arriving later is skipped between
        blocks)."""
        try:
            return await asyncio.wait_for(self.readexactly(1), END_BLOCK_GRACE)
        except TimeoutError:
            return None

    async def readblock(self) -> bytes:
        """One ``<VT>message<FS><CR>`` block, without its framing bytes.

        Unlike python-hl7's reader (which reads up to the first ``<FS><CR>``), an ``<FS>`` ends the
        block when it is followed by ``<CR>``, or by a ``<VT>`` (an end block whose CR was left out;
        CR and LF between the two are allowed): the next block starts there and is answered on its
        own, never added to this one. An ``<FS>`` followed by anything else is not an end: it stays
        in the block, and the message reader refuses the block (one message per frame). CR and LF
        between blocks are skipped."""
        while True:
            first = await self.readexactly(1)
            if first not in (CR, LF):
                break
        if first != START_BLOCK:
            self._buffer.clear()
            raise InvalidBlockError("Block does not begin with Start Block character <VT>")
        most = self._limit - 1  # the limit counts the <VT>
        block = bytearray()
        while True:
            try:
                block += (await self.readuntil(END_BLOCK))[:-1]
            except LimitOverrunError as loe:
                if self._buffer.startswith(END_BLOCK, loe.consumed):
                    del self._buffer[: loe.consumed + 1]
                else:
                    self._buffer.clear()
                self._maybe_resume_transport()
                raise ValueError(loe.args[0]) from None
            if len(block) > most:
                self.head = bytes(block[:HEAD_BYTES])
                raise ValueError("block over the limit")
            try:
                after = await self._after_end_block()
                if after is None or after == CR:
                    break  # <FS><CR>, or <FS> alone from a sender now waiting for its ACK
                skipped = b""
                while after == LF or (skipped and after == CR):
                    skipped += after
                    after = await self._after_end_block()
                    if after is None:
                        break
            except asyncio.IncompleteReadError:
                raise asyncio.IncompleteReadError(bytes(block), None) from None
            if after is None:
                break
            if after == START_BLOCK:
                self._unread(START_BLOCK)  # the next block's start: this one has ended
                break
            # Not an end block: the <FS> is part of what was sent in this frame.
            block += END_BLOCK + skipped
            self._unread(after)
        # CR and LF already received after the block are not the next block's first bytes.
        while self._buffer[:1] in (CR, LF):
            del self._buffer[:1]
        # Bytes already buffered belong to the next block: its clock starts now.
        self.started_at = time.monotonic() if self._buffer else None
        if self.started_at is None:
            self.started.clear()
        return bytes(block)


class _Closed(Exception):
    """The connection ends (peer closed, timeout, framing): no reply is owed."""


class MllpListener:
    """An asyncio MLLP server: ``await start()``, then ``await stop()``."""

    def __init__(self, handler: MessageHandler, settings: ListenerSettings) -> None:
        self.handler = handler
        self.settings = settings
        self._server: asyncio.Server | None = None
        self._pool = ThreadPoolExecutor(max_workers=max(1, settings.workers), thread_name_prefix="mllp")
        self._connections: set[asyncio.Task[None]] = set()
        self._open: dict[Any, _Reader] = {}  # writer -> reader of each open connection
        self._answering: set[Any] = set()  # writers whose message is being read and answered
        self._stopping = False
        self.port = settings.port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        # The reader counts the <VT> start byte against its limit; the limit is the message's.
        limit = self.settings.max_bytes + 1

        def factory() -> HL7StreamProtocol:
            return HL7StreamProtocol(_Reader(limit), self._connected, loop=loop)

        self._server = await loop.create_server(factory, self.settings.host, self.settings.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("MLLP listener on %s:%d", self.settings.host, self.port)

    async def stop(self) -> None:
        """Stop accepting, let each connection finish the message it is reading or answering (up to
        ``stop_grace`` seconds), then close them."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for writer, reader in list(self._open.items()):
            if reader.started_at is None and writer not in self._answering:
                writer.close()  # idle between messages: nothing to finish
        if self._connections:
            _, late = await asyncio.wait(self._connections, timeout=self.settings.stop_grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1)
        if self._server is not None:
            await self._server.wait_closed()
        self._pool.shutdown(wait=True)
        log.info("MLLP listener stopped")

    def _connected(self, reader: Any, writer: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _serve(self, reader: _Reader, writer: Any) -> None:
        peer = writer.get_extra_info("peername") or ("?", 0)
        where = f"{peer[0]}:{peer[1]}"
        if self._stopping:
            writer.close()
            return
        if not allowed(str(peer[0]), self.settings.allow):
            log.warning("MLLP connection from %s refused: not in MGI_MLLP_ALLOW", where)
            writer.close()
            return
        if len(self._open) >= self.settings.max_connections:
            log.warning("MLLP connection from %s refused: %d connections open", where, len(self._open))
            writer.close()
            return
        self._open[writer] = reader
        loop = asyncio.get_running_loop()
        try:
            while not self._stopping:
                try:
                    block = await self._next_block(reader)
                except ValueError:  # python-hl7: the block exceeds the limit
                    reply = await loop.run_in_executor(
                        self._pool, self.handler.too_large, reader.head, self.settings.max_bytes
                    )
                    writer.writeblock(reply)
                    await writer.drain()
                    log.warning(
                        "MLLP message from %s over %d bytes: refused, connection closed",
                        where,
                        self.settings.max_bytes,
                    )
                    break
                self._answering.add(writer)
                try:
                    reply = await loop.run_in_executor(self._pool, self.handler.handle, block)
                    writer.writeblock(reply)
                    await writer.drain()
                finally:
                    self._answering.discard(writer)
        except _Closed as e:
            if str(e):
                log.info("MLLP connection from %s closed: %s", where, e)
        except (ConnectionError, OSError) as e:
            log.info("MLLP connection from %s lost: %s", where, type(e).__name__)
        finally:
            self._open.pop(writer, None)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _next_block(self, reader: _Reader) -> bytes:
        """The next block, under the idle timeout until its first byte, then the read timeout."""
        idle_since = time.monotonic()
        read = asyncio.ensure_future(reader.readblock())
        first_byte = asyncio.ensure_future(reader.started.wait())
        try:
            while True:
                now = time.monotonic()
                if reader.started_at is None:
                    left = idle_since + self.settings.idle_timeout - now
                    reason = f"idle for {self.settings.idle_timeout:g} s"
                else:
                    left = reader.started_at + self.settings.read_timeout - now
                    reason = f"message not complete within {self.settings.read_timeout:g} s"
                if left <= 0:
                    raise _Closed(reason)
                # Until the first byte, its arrival also wakes us (to switch to the read timeout).
                waiting = {read} if first_byte.done() else {read, first_byte}
                done, _ = await asyncio.wait(waiting, timeout=left, return_when=asyncio.FIRST_COMPLETED)
                if read in done:
                    return read.result()
        except asyncio.IncompleteReadError as e:
            raise _Closed("peer closed mid-message" if e.partial else "") from None
        except InvalidBlockError:
            raise _Closed("bytes outside an MLLP frame (no <VT> start block)") from None
        finally:
            for task in (read, first_byte):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
