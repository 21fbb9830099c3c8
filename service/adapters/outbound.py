"""Outbound HL7 v2 delivery: a durable queue (the outbox) and the sender that empties it over MLLP.

An interpretation is written to the outbox before its inbound message is acknowledged, and leaves the
outbox only when the destination has acknowledged it with MSA-1 AA or CA. Nothing is kept in memory
only, so a stop, a crash or a restart loses no message.

Delivery semantics
------------------
* At least once: an entry is marked delivered in one committed SQLite transaction, right after the
  destination's AA/CA has been read. A message is sent again only if the destination stops answering
  (closed connection, no ACK within the timeout, a negative ACK, an ACK for another control id).
* Exactly once, except for one window: if this process dies after the destination wrote its AA and
  before the ``UPDATE … SET delivered_at`` commits (a few microseconds of local work), the entry is
  still pending at the next start and is sent again. The resent message is byte-identical, with the
  same MSH-10, so a destination that ignores a control id it has already filed (most interface
  engines can) receives it once. MLLP itself has no way to close that window.
* A destination that dies after filing a message but before acknowledging it receives that message
  again: on MLLP an unacknowledged message was not delivered.

The queue sits behind :class:`Outbox` so that it can move from its SQLite file to the records
database without touching the sender or the listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hl7.mllp import InvalidBlockError, open_hl7_connection

log = logging.getLogger("mgi.mllp.outbound")

ACCEPTED = ("AA", "CA")  # original and enhanced acknowledgement modes


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One queued message: its outbox id, its own MSH-10, the inbound MSH-10 it answers, the ER7."""

    id: int
    control_id: str
    inbound_control_id: str
    payload: bytes
    attempts: int


class Outbox(Protocol):
    """A durable FIFO of outbound messages; every method is a committed transaction."""

    def enqueue(self, key: str, control_id: str, inbound_control_id: str, payload: bytes) -> bool:
        """Store a message unless one with the same ``key`` is stored; True when stored now."""

    def due(self, now: float, limit: int) -> list[OutboundMessage]:
        """Undelivered messages whose next attempt is due, oldest first."""

    def delivered(self, item_id: int, now: float) -> bool:
        """Mark delivered (once: False when it already was)."""

    def failed(self, item_id: int, now: float, retry_at: float | None, error: str) -> None:
        """Count an attempt; ``retry_at`` postpones the entry (None keeps it due)."""

    def next_due(self) -> float | None:
        """When the earliest undelivered message is due, or None when none is waiting."""

    def counts(self) -> dict[str, int]:
        """``pending`` and ``delivered`` entries."""

    def prune(self, delivered_before: float) -> int:
        """Forget entries delivered before the given time; returns how many."""

    def close(self) -> None: ...


SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key TEXT NOT NULL UNIQUE,
    control_id TEXT NOT NULL,
    inbound_control_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    delivered_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (next_attempt_at, id) WHERE delivered_at IS NULL;
"""


class SqliteOutbox:
    """The outbox in one SQLite file: WAL journal, ``synchronous=FULL`` (each commit is on disk
    before the call returns: power loss after an ACK loses nothing), one connection behind a lock
    (the listener's worker threads and the sender share it)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def _write(self, sql: str, params: tuple[object, ...]) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, params)  # autocommit: one statement, one transaction

    def enqueue(self, key: str, control_id: str, inbound_control_id: str, payload: bytes) -> bool:
        now = time.time()
        cur = self._write(
            "INSERT INTO outbox (dedupe_key, control_id, inbound_control_id, payload, created_at,"
            " next_attempt_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING",
            (key, control_id, inbound_control_id, payload, now, now),
        )
        return cur.rowcount == 1

    def due(self, now: float, limit: int) -> list[OutboundMessage]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, control_id, inbound_control_id, payload, attempts FROM outbox"
                " WHERE delivered_at IS NULL AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
                (now, limit),
            ).fetchall()
        return [OutboundMessage(r[0], r[1], r[2], bytes(r[3]), r[4]) for r in rows]

    def delivered(self, item_id: int, now: float) -> bool:
        cur = self._write(
            "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL"
            " WHERE id = ? AND delivered_at IS NULL",
            (now, item_id),
        )
        return cur.rowcount == 1

    def failed(self, item_id: int, now: float, retry_at: float | None, error: str) -> None:
        self._write(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?,"
            " next_attempt_at = COALESCE(?, next_attempt_at) WHERE id = ? AND delivered_at IS NULL",
            (error[:500], retry_at, item_id),
        )

    def next_due(self) -> float | None:
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(next_attempt_at) FROM outbox WHERE delivered_at IS NULL"
            ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def counts(self) -> dict[str, int]:
        with self._lock:
            pending, delivered = self._db.execute(
                "SELECT COALESCE(SUM(delivered_at IS NULL), 0), COALESCE(SUM(delivered_at IS NOT NULL), 0)"
                " FROM outbox"
            ).fetchone()
        return {"pending": int(pending), "delivered": int(delivered)}

    def prune(self, delivered_before: float) -> int:
        return self._write("DELETE FROM outbox WHERE delivered_at < ?", (delivered_before,)).rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()


def backoff(attempt: int, base: float, ceiling: float) -> float:
    """Seconds to wait before attempt ``attempt + 1``: base, 2·base, 4·base, … at most ``ceiling``."""
    return float(min(ceiling, base * 2 ** min(max(attempt - 1, 0), 30)))


def ack_of(reply: bytes) -> tuple[str, str]:
    """MSA-1 (acknowledgement code) and MSA-2 (control id acknowledged) of an ER7 reply; ('', '')
    when the reply has no readable MSA."""
    text = reply.decode("utf-8", "replace")
    segments = [s for s in text.replace("\r\n", "\r").replace("\n", "\r").split("\r") if s]
    if not segments or not segments[0].startswith("MSH") or len(segments[0]) < 4:
        return "", ""
    sep = segments[0][3]
    for seg in segments[1:]:
        fields = seg.split(sep)
        if fields[0] == "MSA":
            code = fields[1].strip() if len(fields) > 1 else ""
            acked = fields[2].strip() if len(fields) > 2 else ""
            return code, acked
    return "", ""


def control_id_of(message: str) -> str:
    """MSH-10 of an ER7 message written by this service (no escapes in it)."""
    msh = message.split("\r", 1)[0]
    fields = msh.split(msh[3]) if len(msh) > 3 else []
    return fields[9] if len(fields) > 9 else ""


@dataclass(frozen=True, slots=True)
class SenderSettings:
    host: str
    port: int
    connect_timeout: float = 10.0
    ack_timeout: float = 30.0
    retry_base: float = 1.0
    retry_max: float = 300.0
    max_ack_bytes: int = 64 * 1024
    keep_delivered_s: float = 7 * 86400.0


class _DestinationDown(Exception):
    """The destination could not be reached or stopped answering: back off, then try again."""


class OutboundSender:
    """Empties the outbox to one MLLP destination, one message at a time on one connection.

    A destination that cannot be reached (refused, reset, silent past the ACK timeout) holds every
    message back, with the delay doubling from ``retry_base`` to ``retry_max``; a negative ACK
    (AE/AR/CE/CR) postpones only that message by the same schedule, so one message the destination
    refuses never blocks the others behind it. Order is the order of arrival while every message is
    accepted first time.
    """

    def __init__(
        self, outbox: Outbox, settings: SenderSettings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.outbox = outbox
        self.settings = settings
        self.clock = clock
        self._wake = asyncio.Event()
        self._stopping = False
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._down_attempts = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_prune = 0.0

    def notify(self) -> None:
        """A message was queued (callable from any thread)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            while not self._stopping:
                try:
                    await self._round()
                except Exception:  # noqa: BLE001 - the outbox itself failed: keep trying, loudly
                    log.exception("outbound delivery failed; retrying in %.1f s", self.settings.retry_max)
                    self._close()
                    await self._pause(self.settings.retry_max)
        finally:
            self._close()

    async def _round(self) -> None:
        """Deliver what is due now, or sleep until something is."""
        await self._prune()
        batch = await asyncio.to_thread(self.outbox.due, self.clock(), 100)
        if not batch:
            await self._sleep_until_due()
            return
        for item in batch:
            if self._stopping:
                return
            try:
                await self._deliver(item)
            except _DestinationDown as e:
                self._close()
                await asyncio.to_thread(self.outbox.failed, item.id, self.clock(), None, str(e))
                self._down_attempts += 1
                delay = backoff(self._down_attempts, self.settings.retry_base, self.settings.retry_max)
                log.warning(
                    "outbound destination %s:%d unavailable (%s); retrying in %.1f s",
                    self.settings.host,
                    self.settings.port,
                    e,
                    delay,
                )
                await self._pause(delay)
                return

    async def _deliver(self, item: OutboundMessage) -> None:
        reader, writer = await self._connection()
        try:
            writer.writeblock(item.payload)  # type: ignore[attr-defined]  # hl7.mllp's MLLP writer
            await writer.drain()
            reply = await asyncio.wait_for(reader.readblock(), self.settings.ack_timeout)  # type: ignore[attr-defined]
        except (OSError, EOFError, asyncio.IncompleteReadError, InvalidBlockError, ValueError) as e:
            raise _DestinationDown(f"no acknowledgement: {type(e).__name__} {e}".strip()) from e
        except TimeoutError as e:
            raise _DestinationDown(f"no acknowledgement within {self.settings.ack_timeout:g} s") from e
        code, acked = ack_of(reply)
        if acked != item.control_id:
            raise _DestinationDown(f"acknowledgement for {acked!r}, expected {item.control_id!r}")
        self._down_attempts = 0
        if code in ACCEPTED:
            await asyncio.to_thread(self.outbox.delivered, item.id, self.clock())
            log.info("delivered %s (answering %s)", item.control_id, item.inbound_control_id)
            return
        delay = backoff(item.attempts + 1, self.settings.retry_base, self.settings.retry_max)
        await asyncio.to_thread(
            self.outbox.failed, item.id, self.clock(), self.clock() + delay, f"MSA-1 {code or 'missing'}"
        )
        log.warning(
            "destination answered %s to %s (answering %s); retrying in %.1f s",
            code or "no MSA-1",
            item.control_id,
            item.inbound_control_id,
            delay,
        )

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._writer is not None and self._reader is not None:
            if not self._writer.is_closing() and not self._reader.at_eof():
                return self._reader, self._writer
            self._close()  # the destination closed a kept-open connection: open a new one
        try:
            self._reader, self._writer = await asyncio.wait_for(
                open_hl7_connection(
                    self.settings.host, self.settings.port, limit=self.settings.max_ack_bytes
                ),
                self.settings.connect_timeout,
            )
        except (OSError, TimeoutError) as e:
            raise _DestinationDown(f"cannot connect: {type(e).__name__} {e}".strip()) from e
        return self._reader, self._writer

    def _close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        self._reader = self._writer = None

    async def _pause(self, seconds: float) -> None:
        """Sleep, cut short only by stop()."""
        end = time.monotonic() + seconds
        while not self._stopping and (left := end - time.monotonic()) > 0:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), left)

    async def _sleep_until_due(self) -> None:
        self._wake.clear()
        due = await asyncio.to_thread(self.outbox.next_due)
        wait = 5.0 if due is None else min(5.0, max(0.0, due - self.clock()))
        # A keep-alive connection to an idle destination is closed: it would time out there anyway.
        if due is None:
            self._close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), wait)

    async def _prune(self) -> None:
        now = self.clock()
        if now - self._last_prune >= 3600:
            self._last_prune = now
            removed = await asyncio.to_thread(self.outbox.prune, now - self.settings.keep_delivered_s)
            if removed:
                log.info("forgot %d delivered outbound messages", removed)
