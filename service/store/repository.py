"""Repository functions of the records store: save, read (with the audit trail), list, history,
purge, erase. Plain SQLAlchemy Core/ORM over one engine; no web framework here."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import math
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple, cast

import orjson
from sqlalchemy import (
    Boolean,
    Connection,
    Engine,
    Table,
    Text,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from .models import Interpretation, RecordKey, RecordRead
from .settings import StoreConfigError

log = logging.getLogger("mgi.store")


class StoreUnavailable(RuntimeError):
    """The database cannot be reached (or answered with an operational error)."""


class SchemaNotCurrent(RuntimeError):
    """The database schema is not at the revision this code needs."""


class IdempotencyConflict(ValueError):
    """An Idempotency-Key already used for another request body."""


def _default(v: Any) -> Any:
    if isinstance(v, Decimal):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, date):
        return v.isoformat()
    raise TypeError(type(v).__name__)


def dumps(value: Any) -> str:
    """JSON text for the JSON columns (orjson: several times faster than the standard encoder)."""
    return orjson.dumps(value, default=_default).decode()


def canonical_hash(request: dict[str, Any]) -> str:
    """SHA-256 of the canonical request: sorted keys, and a whole number written with a fraction (12.0,
    1.2e1) as the number it is (12), so the same body in another key order or number spelling is the
    same."""
    return hashlib.sha256(
        orjson.dumps(_whole_numbers(request), default=_default, option=orjson.OPT_SORT_KEYS)
    ).hexdigest()


def _whole_numbers(value: Any) -> Any:
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def normal_patient_ref(patient_ref: str) -> str:
    """The patient reference as it is hashed: without leading and trailing white space (an LIS pads
    identifiers to a field width) and in Unicode normal form C (an accented letter is one code point
    however it was sent), so that the variants of one identifier are one patient."""
    return unicodedata.normalize("NFC", patient_ref.strip())


def patient_key(secret: bytes, patient_ref: str) -> str:
    """HMAC-SHA-256(site secret, patient_ref in its normal form), hex: links a patient's panels
    without keeping the ref. Every patient_ref is hashed here (JSON, batch, HL7 v2 PID-3, FHIR
    identifiers, list and erase by patient_ref)."""
    return _hmac(secret, normal_patient_ref(patient_ref))


def patient_keys(secret: bytes, patient_ref: str) -> list[str]:
    """The keys a patient's records can carry: the key of the normal form, then, when the reference
    as written differs from it, the key it had as written (records stored before references were
    normalised), so that listing and erasing by reference find those records too."""
    normal = normal_patient_ref(patient_ref)
    key = _hmac(secret, normal)
    return [key] if normal == patient_ref else [key, _hmac(secret, patient_ref)]


def _hmac(secret: bytes, text: str) -> str:
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()


_RECORD_ID = re.compile(r"[0-9a-f]{32}")


def is_record_id(value: str) -> bool:
    """Whether ``value`` can be a record's id (32 hex digits, as _values draws them): anything else names
    no record, and is answered so without a query (a NUL, say, is one no database column can hold)."""
    return _RECORD_ID.fullmatch(value) is not None


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(dt: datetime) -> datetime:
    """A stored time with its zone: SQLite keeps none, and every stored time is UTC."""
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The position a cursor names; ValueError for anything this service did not hand out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("not a cursor this service returned") from None
    # Exactly the form encode_cursor writes: ASCII digits without a leading zero, within a 64-bit
    # sequence number (a larger one is refused here, not by the database), and unpadded.
    if _CURSOR.fullmatch(raw) is None or encode_cursor(seq := int(raw[1:])) != cursor or seq > MAX_SEQ:
        raise ValueError("not a cursor this service returned")
    return seq


_CURSOR = re.compile(r"s(0|[1-9][0-9]{0,18})")
MAX_SEQ = 2**63 - 1  # PostgreSQL bigint


@dataclass(frozen=True)
class NewRecord:
    """What the shell hands over to be stored."""

    request: dict[str, Any]
    response: dict[str, Any]
    collected_on: date
    patient_key: str | None
    specimen_id: str | None
    source: str
    api_key_name: str | None
    request_id: str | None
    idempotency_key: str | None
    ruleset_version: str
    classification_code: str
    status: str
    store_history: list[dict[str, Any]] | None = None
    request_hash: str = ""


def findings_of(response: dict[str, Any]) -> dict[str, Any]:
    """The parts of an answer a ruleset change is judged on: flag codes and risk groups."""
    return {
        "flags": sorted({f["code"] for f in response.get("flags") or ()}),
        "risk": {m: (r or {}).get("group") for m, r in sorted((response.get("risk") or {}).items())},
    }


@dataclass(frozen=True)
class Record:
    """A stored interpretation as read back."""

    id: str
    seq: int
    received_at: datetime
    collected_on: date
    patient_key: str | None
    specimen_id: str | None
    source: str
    api_key_name: str | None
    request_id: str | None
    idempotency_key: str | None
    request_hash: str
    ruleset_version: str
    classification_code: str
    status: str
    request: dict[str, Any]
    store_history: list[dict[str, Any]] | None
    response: dict[str, Any]
    findings: dict[str, Any]

    @classmethod
    def of(cls, row: Any) -> Record:
        """From a row of the interpretations table (a list row has no request or answer bodies)."""
        m = row._mapping
        return cls(
            m["id"],
            m["seq"],
            aware(m["received_at"]),
            m["collected_on"],
            m["patient_key"],
            m["specimen_id"],
            m["source"],
            m["api_key_name"],
            m["request_id"],
            m["idempotency_key"],
            m["request_hash"],
            m["ruleset_version"],
            m["classification_code"],
            m["status"],
            m.get("request") or {},
            m.get("store_history"),
            m.get("response") or {},
            m["findings"],
        )


class ScanRow(NamedTuple):
    seq: int
    id: str
    collected_on: date
    request: dict[str, Any]
    store_history: list[dict[str, Any]] | None
    classification_code: str
    findings: dict[str, Any]


@dataclass(frozen=True)
class Page:
    records: list[Record]
    next_cursor: str | None


@dataclass(frozen=True)
class ReadEntry:
    interpretation_id: str
    read_at: datetime
    api_key_name: str | None
    request_id: str | None
    via: str
    seq: int


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    # WAL: readers never wait for the writer; busy_timeout: writers of several workers queue up
    # instead of failing with "database is locked".
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the JSON columns encoded by orjson; SQLite's file directory is made."""
    kwargs: dict[str, Any] = {"json_serializer": dumps, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreConfigError(
                    f"cannot create the data directory {Path(path).parent} ({e.strerror}): set "
                    "MGI_DATA_DIR to a writable directory, MGI_DATABASE_URL to a database, or MGI_STORE=off"
                ) from e
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # Few connections per worker (a sync worker uses one at a time); pool_pre_ping off: a connection
    # the server dropped (a restart) is noticed by the statement that fails, which is retried once.
    if url.startswith("postgresql"):
        kwargs["connect_args"] = {"connect_timeout": 5}
    return create_engine(url, pool_size=2, max_overflow=4, pool_recycle=3600, **kwargs)


class RecordStore:
    """The records store over one engine."""

    def __init__(self, engine: Engine, secret: bytes | None = None) -> None:
        self.engine = engine
        self._secret = secret
        # The same pool, each statement committed on its own (PostgreSQL's write of a new record).
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    @classmethod
    def from_url(cls, url: str, secret: bytes | None = None) -> RecordStore:
        return cls(make_engine(url), secret)

    # ------------------------------------------------------------------ identity
    def patient_key(self, patient_ref: str) -> str:
        if self._secret is None:
            raise RuntimeError("the store was opened without the patient key secret")
        return patient_key(self._secret, patient_ref)

    def patient_keys(self, patient_ref: str) -> list[str]:
        """Every key the records of this reference can carry (``patient_keys``): for list and erase."""
        if self._secret is None:
            raise RuntimeError("the store was opened without the patient key secret")
        return patient_keys(self._secret, patient_ref)

    # ------------------------------------------------------------------ plumbing
    def _run(self, work: Any, *, audit: bool = False, autocommit: bool = False) -> Any:
        """Run ``work(connection)`` in a transaction (SQLAlchemy Core: the ORM's unit of work would
        cost more than the statements); retried once when the connection had been dropped (a
        database restart). Operational failures become StoreUnavailable.

        ``audit``: the transaction only appends audit rows beside a read; on PostgreSQL its commit
        does not wait for the disk (synchronous_commit off): a crash of the database server within a
        fraction of a second after a read can lose that read's audit row, never a record.

        ``autocommit``: each statement is its own transaction (no BEGIN and COMMIT round trips), for
        work whose single write is one statement."""
        for attempt in (1, 2):
            try:
                if autocommit:
                    with self._autocommit.connect() as conn:
                        return work(conn)
                with self.engine.begin() as conn:
                    if audit and self._postgres:
                        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                    return work(conn)
            except DBAPIError as e:
                if isinstance(e, IntegrityError):
                    raise
                if attempt == 1 and e.connection_invalidated:
                    continue
                if isinstance(e, OperationalError) or e.connection_invalidated:
                    raise StoreUnavailable(type(e.orig).__name__ if e.orig else type(e).__name__) from e
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def _postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def ping(self) -> tuple[bool, str]:
        """(reachable, reason) for /readyz."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True, ""
        except DBAPIError as e:
            return False, f"records database unavailable ({type(e.orig or e).__name__})"

    def dispose(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ write
    def find_retry(
        self,
        *,
        api_key_name: str | None,
        idempotency_key: str | None,
        patient_key: str | None,
        specimen_id: str | None,
        request_hash: str,
    ) -> Record | None:
        """The record an earlier identical request made, if any (IdempotencyConflict when the
        Idempotency-Key was used for another body)."""
        if idempotency_key is None and (patient_key is None or specimen_id is None):
            return None  # nothing to match a retry by: no round trip

        def work(c: Connection) -> Found | None:
            return _find_retry(c, api_key_name, idempotency_key, patient_key, specimen_id, request_hash)

        found = self._run(work)
        return None if found is None else found.record

    def save(self, new: NewRecord) -> tuple[Record, bool]:
        """Store ``new``; (record, True), or (the existing record, False) when it is a retry of an
        earlier request (same Idempotency-Key, or same patient, specimen and body) - decided by the
        unique constraints, so two concurrent retries still make one row."""
        values = _values(new)

        def work(c: Connection) -> int:
            return int(c.execute(INSERT_RECORD, values).scalar_one())

        try:
            seq = self._run(work)
        except IntegrityError:
            return self._the_earlier(new), False
        return Record(seq=seq, **values), True

    def _the_earlier(self, new: NewRecord) -> Record:
        """The record a concurrent identical request stored first (after a unique-constraint refusal)."""
        existing = self.find_retry(
            api_key_name=new.api_key_name,
            idempotency_key=new.idempotency_key,
            patient_key=new.patient_key,
            specimen_id=new.specimen_id,
            request_hash=new.request_hash,
        )
        if existing is None:
            raise RuntimeError("a unique constraint refused the record but no earlier record matches it")
        return existing

    def record(self, pending: Pending) -> tuple[Record, bool]:
        """Read the patient's panels, make the record from them and insert it: (record, True), or
        (the earlier record, False) for a retry.

        On PostgreSQL this is two statements, each its own transaction: the panels' SELECT and an
        INSERT ... ON CONFLICT DO NOTHING, whose commit is the only one that waits for the disk. A
        retry (an earlier identical request, committed or committing concurrently: the unique check
        waits for it) inserts nothing, and the earlier record is read back. On SQLite a retry is
        looked for first (a read transaction cannot become a write one while another connection
        writes); the unique constraints decide races either way."""
        if not self._postgres:
            if not pending.retry_key and pending.patient_key is None:
                return self.save(pending.make([]))
            earlier, rows = self._run(lambda c: _lookups(c, pending))
            outcome = earlier if earlier is not None else self._insert(pending, pending.make(rows))
        else:
            outcome = self._run(lambda c: _record(c, pending), autocommit=True)
        if isinstance(outcome, Record):
            if pending.own_key is not None:
                # A message sent with an Idempotency-Key: its record answers the message's own key too,
                # so that the message resent without the header is the same record.
                self._bind(outcome, pending.api_key_name, pending.own_key)
            return outcome, True
        if not outcome.by_key:
            self._bind_key(outcome.record, pending)
        return outcome.record, False

    def _insert(self, pending: Pending, new: NewRecord) -> Record | Found:
        """Insert ``new``: the new record, or the earlier one a unique constraint says it retries."""
        values = _values(new)
        try:
            seq = self._run(lambda c: int(c.execute(INSERT_RECORD, values).scalar_one()))
        except IntegrityError:
            return cast(Found, self._run(lambda c: _retried(c, pending)))
        return Record(seq=seq, **values)

    def _bind_key(self, record: Record, pending: Pending) -> None:
        """A retry found otherwise than by the key it brings (by its patient, specimen and body, or by a
        message's own retry key): the key becomes one the record answers, so that the key used again
        for another body is refused, and with the same body replays the record, as for a key that made
        its record. Into the record's own column when it has none (of the same caller), else into
        record_keys; a key bound to another record meanwhile stays that record's."""
        key = pending.idempotency_key
        if key is None or (record.idempotency_key == key and record.api_key_name == pending.api_key_name):
            return
        if record.idempotency_key is None and record.api_key_name == pending.api_key_name:
            stmt = update(T).where(T.c.id == record.id, T.c.idempotency_key.is_(None))
            try:
                done = self._run(
                    lambda c: c.execute(stmt.values(idempotency_key=key)).rowcount, autocommit=self._postgres
                )
            except IntegrityError:
                return  # another record of this caller holds the key as its own: that one answers it
            if done:
                return
        self._bind(record, pending.api_key_name, key)

    def _bind(self, record: Record, api_key_name: str | None, key: str) -> None:
        """``key`` of ``api_key_name`` bound to ``record`` in record_keys, unless it names a record there
        already (a concurrent retry bound it first)."""
        row = {"api_key_name": api_key_name, "idempotency_key": key, "interpretation_id": record.id}
        bind = BIND_KEY if self._postgres else BIND_KEY_SQLITE
        self._run(lambda c: c.execute(bind, {**row, "bound_at": utcnow()}), autocommit=self._postgres)

    def record_batch(self, pending: Sequence[Pending]) -> list[tuple[Record, bool]]:
        """Several records in order (a later one sees an earlier one's panel as history). On
        PostgreSQL in one transaction (a retry inserts nothing and is read back), so a batch costs
        one durable commit."""
        if not self._postgres:
            return [self.record(p) for p in pending]

        def work(c: Connection) -> list[tuple[Record, bool]]:
            outcomes = [_record(c, p) for p in pending]
            return [(o, True) if isinstance(o, Record) else (o.record, False) for o in outcomes]

        return self._run(work)

    # ------------------------------------------------------------------ read
    def get(self, record_id: str, *, reader: str | None, request_id: str | None) -> Record | None:
        """One record by id; the read is recorded in the audit trail in the same transaction."""
        if not is_record_id(record_id):
            return None

        def work(c: Connection) -> Record | None:
            row = c.execute(BY_ID, {"rid": record_id}).first()
            if row is None:
                return None
            c.execute(INSERT_READ, _read_rows([record_id], reader, request_id, "get"))
            return Record.of(row)

        return self._run(work, audit=True)

    def record_reads(
        self, record_ids: Sequence[str], *, reader: str | None, request_id: str | None, via: str
    ) -> None:
        """Audit rows for records shown by other means than get and list_records (the review console's
        queue, a case's trend charts drawn from the patient's other panels)."""
        if not record_ids:
            return
        rows = _read_rows(list(dict.fromkeys(record_ids)), reader, request_id, via)
        self._run(lambda c: c.execute(INSERT_READ, rows), audit=True)

    def list_records(
        self,
        *,
        patient_key: str | Sequence[str] | None = None,
        status: str | None = None,
        since: datetime | None = None,
        before_seq: int | None = None,
        limit: int = 50,
        reader: str | None = None,
        request_id: str | None = None,
    ) -> Page:
        """Records newest first, after the cursor (summaries: no request or answer bodies); every
        record listed is recorded as read."""
        cols = [c for c in T.c if c.name not in ("request", "response", "store_history")]

        def work(c: Connection) -> Page:
            q = select(*cols)
            if isinstance(patient_key, str):
                q = q.where(T.c.patient_key == patient_key)
            elif patient_key is not None:
                q = q.where(T.c.patient_key.in_(list(patient_key)))
            if status is not None:
                q = q.where(T.c.status == status)
            if since is not None:
                q = q.where(T.c.received_at >= since)
            if before_seq is not None:
                q = q.where(T.c.seq < before_seq)
            rows, cursor = _newest_first(c, q, T.c.seq, limit)
            if rows:
                c.execute(INSERT_READ, _read_rows([r.id for r in rows], reader, request_id, "list"))
            return Page([Record.of(r) for r in rows], cursor)

        return self._run(work, audit=True)

    def reads(
        self,
        *,
        interpretation_id: str | None = None,
        since: datetime | None = None,
        before_seq: int | None = None,
        limit: int = 100,
    ) -> tuple[list[ReadEntry], str | None]:
        """The audit trail, newest first."""
        if interpretation_id is not None and not is_record_id(interpretation_id):
            return [], None

        def work(c: Connection) -> tuple[list[ReadEntry], str | None]:
            q = select(RT)
            if interpretation_id is not None:
                q = q.where(RT.c.interpretation_id == interpretation_id)
            if since is not None:
                q = q.where(RT.c.read_at >= since)
            if before_seq is not None:
                q = q.where(RT.c.seq < before_seq)
            rows, cursor = _newest_first(c, q, RT.c.seq, limit)
            out = [
                ReadEntry(r.interpretation_id, aware(r.read_at), r.api_key_name, r.request_id, r.via, r.seq)
                for r in rows
            ]
            return out, cursor

        return self._run(work)

    def count(self) -> int:
        return int(self._run(lambda c: c.scalar(select(func.count()).select_from(T))))

    def scan(
        self,
        *,
        chunk: int = 2000,
        since: datetime | None = None,
        shard: tuple[int, int] = (0, 1),
        after: int = 0,
    ) -> Iterator[list[ScanRow]]:
        """What ruleset impact reads of every record, in chunks, oldest first: keyset pagination
        (constant cost per chunk), plain columns (no answer bodies). ``shard`` (k, n) keeps the
        records whose seq % n == k, for n processes sharing a run."""
        cols = (T.c.seq, T.c.id, T.c.collected_on, T.c.request, T.c.store_history, T.c.classification_code)
        k, n = shard
        while True:

            def work(c: Connection, after: int = after) -> list[ScanRow]:
                q = select(*cols, T.c.findings).where(T.c.seq > after)
                if since is not None:
                    q = q.where(T.c.received_at >= since)
                if n > 1:
                    q = q.where(T.c.seq % n == k)
                return [ScanRow(*row) for row in c.execute(q.order_by(T.c.seq).limit(chunk))]

            rows = self._run(work)
            if not rows:
                return
            yield rows
            after = rows[-1].seq

    # ------------------------------------------------------------------ retention and erasure
    def purge(self, older_than: datetime) -> int:
        """Delete records received before ``older_than`` with the keys bound to them (and the audit rows
        of reads before it)."""

        def work(c: Connection) -> int:
            old = T.c.received_at < older_than
            c.execute(delete(KT).where(KT.c.interpretation_id.in_(select(T.c.id).where(old))))
            n = c.execute(delete(T).where(old)).rowcount
            c.execute(delete(RT).where(RT.c.read_at < older_than))
            return int(n or 0)

        return self._run(work)

    def erase(self, patient_key: str | Sequence[str]) -> list[str]:
        """Delete every record of one patient (of each of its keys, ``patient_keys``) with the keys bound
        to them; the ids erased (the audit trail keeps who read them)."""
        keys = [patient_key] if isinstance(patient_key, str) else list(patient_key)

        def work(c: Connection) -> list[str]:
            theirs = T.c.patient_key.in_(keys)
            ids = list(c.scalars(select(T.c.id).where(theirs)))
            c.execute(delete(KT).where(KT.c.interpretation_id.in_(select(T.c.id).where(theirs))))
            c.execute(delete(T).where(theirs))
            return ids

        return self._run(work)


@dataclass(frozen=True)
class Pending:
    """A request about to be stored: what identifies a retry of it, the window of the patient's
    panels it may use as history, and how to make its record from those panels."""

    api_key_name: str | None
    idempotency_key: str | None
    patient_key: str | None
    specimen_id: str | None
    request_hash: str
    history_from: date
    history_before: date
    make: Callable[[list[PanelRow]], NewRecord]
    # With an Idempotency-Key on an HL7 message or a FHIR Bundle: the message's own retry key, which
    # names the record the message made when sent without the header.
    own_key: str | None = None
    # The key of the patient reference as written, when it differs from its normal form's
    # (``patient_keys``): the panels an earlier version of the service stored under it are history too.
    written_key: str | None = None

    @property
    def history_keys(self) -> list[str]:
        keys = [] if self.patient_key is None else [self.patient_key]
        return keys if self.written_key is None else [*keys, self.written_key]

    @property
    def retry_key(self) -> bool:
        return (
            self.idempotency_key is not None
            or self.own_key is not None
            or (self.patient_key is not None and self.specimen_id is not None)
        )

    def find_retry(self, c: Connection, *, by_body: bool = True) -> Found | None:
        return _find_retry(
            c,
            self.api_key_name,
            self.idempotency_key,
            self.patient_key,
            self.specimen_id,
            self.request_hash,
            self.own_key,
            by_body=by_body,
        )


class Found(NamedTuple):
    """An earlier record a request retries, and whether the key the request brings already names it
    (else the key is bound to it)."""

    record: Record
    by_key: bool


def _retried(c: Connection, p: Pending) -> Found:
    """The record a concurrent identical request stored first (after a unique-constraint refusal)."""
    found = p.find_retry(c)  # IdempotencyConflict when the key was used for another body
    if found is None:
        raise RuntimeError("a unique constraint refused the record but no earlier record matches it")
    return found


def _lookups(c: Connection, p: Pending) -> tuple[Found | None, list[PanelRow]]:
    if p.retry_key:
        earlier = p.find_retry(c)
        if earlier is not None:
            return earlier, []
    if p.patient_key is None:
        return None, []
    return None, _panels(c, p.history_keys, p.history_from, p.history_before)


def _record(c: Connection, p: Pending) -> Record | Found:
    """On PostgreSQL: the new record inserted, or, when a unique constraint says it is a retry of an
    earlier request (ON CONFLICT DO NOTHING inserted nothing), the earlier record. A retry is
    interpreted before it is recognised: retries are rare, and looking for one first would cost
    every request a round trip. Only a request with an Idempotency-Key looks its keys up first (one
    statement a key): a key bound in record_keys, or a message's own key, is no unique constraint of
    the new row."""
    if p.idempotency_key is not None or p.own_key is not None:
        found = p.find_retry(c, by_body=False)
        if found is not None:
            return found
    rows = [] if p.patient_key is None else _panels(c, p.history_keys, p.history_from, p.history_before)
    values = _values(p.make(rows))
    seq = c.execute(INSERT_NEW, values).scalar()
    if seq is not None:
        return Record(seq=int(seq), **values)
    return _retried(c, p)


def _values(new: NewRecord) -> dict[str, Any]:
    """The row of a new record (its id is drawn here)."""
    return {
        "id": uuid.uuid4().hex,
        "received_at": utcnow(),
        "collected_on": new.collected_on,
        "patient_key": new.patient_key,
        "specimen_id": new.specimen_id,
        "source": new.source,
        "api_key_name": new.api_key_name,
        "request_id": new.request_id,
        "idempotency_key": new.idempotency_key,
        "request_hash": new.request_hash or canonical_hash(new.request),
        "ruleset_version": new.ruleset_version,
        "classification_code": new.classification_code,
        "status": new.status,
        "request": new.request,
        "store_history": new.store_history,
        "response": new.response,
        "findings": findings_of(new.response),
    }


T = cast(Table, Interpretation.__table__)
RT = cast(Table, RecordRead.__table__)
KT = cast(Table, RecordKey.__table__)

# The hot statements, built once with bind parameters: building a statement per call (coercing each
# value, generating its cache key) cost more CPU than executing it.
INSERT_RECORD = insert(T).returning(T.c.seq)
# PostgreSQL: a row a unique constraint refuses is not inserted (no error, no row returned).
INSERT_NEW = pg_insert(T).on_conflict_do_nothing().returning(T.c.seq)
# A key bound to a record: nothing when the key names a record already (a concurrent retry bound it).
BIND_KEY = pg_insert(KT).on_conflict_do_nothing()
BIND_KEY_SQLITE = sqlite_insert(KT).on_conflict_do_nothing()


def _newest_first(c: Connection, q: Any, seq: Any, limit: int) -> tuple[list[Any], str | None]:
    """One page of ``q`` newest first by ``seq``, and the cursor of the next page (None on the last)."""
    rows = list(c.execute(q.order_by(seq.desc()).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].seq) if more else None


INSERT_READ = insert(RT)


def _read_rows(
    record_ids: Sequence[str], reader: str | None, request_id: str | None, via: str
) -> list[dict[str, Any]]:
    """The audit trail's rows for records shown at one moment, to whom, and how (get, list, trend)."""
    now = utcnow()
    return [
        {
            "interpretation_id": rid,
            "read_at": now,
            "api_key_name": reader,
            "request_id": request_id,
            "via": via,
        }
        for rid in record_ids
    ]


BY_ID = select(T).where(T.c.id == bindparam("rid"))


def _by_key(no_api_key: bool) -> Any:
    """The records a key of an API key names: the one holding it in its own column, and the ones
    record_keys binds it to (one, but for keys without an API key, which no unique constraint
    separates)."""
    api: Any = bindparam("api")

    def of(table: Table) -> Any:
        caller = table.c.api_key_name.is_(None) if no_api_key else table.c.api_key_name == api
        return (table.c.idempotency_key == bindparam("idem")) & caller

    bound = select(*T.c).select_from(KT.join(T, T.c.id == KT.c.interpretation_id)).where(of(KT))
    return union_all(select(T).where(of(T)), bound)


BY_KEY = _by_key(False)
BY_KEY_NO_API_KEY = _by_key(True)
BY_PATIENT_SPECIMEN_BODY = select(T).where(
    T.c.patient_key == bindparam("pk"),
    T.c.specimen_id == bindparam("sp"),
    T.c.request_hash == bindparam("rh"),
)


class _HasSerumMProtein(FunctionElement[bool]):
    """Whether a stored request carries a serum M-protein result (``spep.m_protein``)."""

    inherit_cache = True
    type = Boolean()


@compiles(_HasSerumMProtein, "postgresql")
def _has_m_protein_pg(element: _HasSerumMProtein, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"(json_typeof(({column})->'spep'->'m_protein') = 'object')"


@compiles(_HasSerumMProtein)
def _has_m_protein_sqlite(element: _HasSerumMProtein, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"(json_type({column}, '$.spep.m_protein') = 'object')"


# Serial memory: a patient's records dated in [lo, hi), by day and in the order they were stored. The
# body comes as JSON text: a worker decodes only the records it has not loaded before.
# A patient's panels of the serial window [lo, hi), and those of the patient's first day with a serum
# M-protein when it is earlier: the baseline of the evolving rule (§3.5: a rise within the first 6
# months of follow-up counts from the first M-protein, not from an immunofixation or a blood count
# stored on its own before it).
_FIRST_DAY = (
    select(func.min(T.c.collected_on))
    .where(
        T.c.patient_key.in_(bindparam("pks", expanding=True)),
        T.c.collected_on < bindparam("lo"),
        _HasSerumMProtein(T.c.request),
    )
    .scalar_subquery()
)
PANELS = (
    select(T.c.id, T.c.seq, T.c.collected_on, sql_cast(T.c.request, Text))
    .where(
        # The key of the reference's normal form, and the key of the reference as written when it
        # differs (panels an earlier version stored under it; Pending.history_keys).
        T.c.patient_key.in_(bindparam("pks", expanding=True)),
        ((T.c.collected_on >= bindparam("lo")) & (T.c.collected_on < bindparam("hi")))
        | (T.c.collected_on == _FIRST_DAY),
    )
    .order_by(T.c.collected_on, T.c.seq)
)


class PanelRow(NamedTuple):
    """A stored panel as serial memory reads it."""

    id: str
    seq: int
    collected_on: date
    body: str  # the canonical request, JSON text

    @property
    def request(self) -> dict[str, Any]:
        return cast(dict[str, Any], orjson.loads(self.body))


def _panels(c: Connection, patient_keys: list[str], on_or_after: date, before: date) -> list[PanelRow]:
    return [PanelRow(*r) for r in c.execute(PANELS, {"pks": patient_keys, "lo": on_or_after, "hi": before})]


def _find_retry(
    c: Connection,
    api_key_name: str | None,
    idempotency_key: str | None,
    patient_key: str | None,
    specimen_id: str | None,
    request_hash: str,
    own_key: str | None = None,
    *,
    by_body: bool = True,
) -> Found | None:
    """The earlier record a request retries: the one its key names (IdempotencyConflict when made by
    another request), else the one its message's own key names when made by the same request, else
    (``by_body``) the one of the same patient, specimen and body."""
    if idempotency_key is not None:
        row = _keyed(c, api_key_name, idempotency_key)
        if row is not None:
            return Found(_same_request(row, idempotency_key, patient_key, request_hash), True)
    if own_key is not None:
        row = _keyed(c, api_key_name, own_key)
        if row is not None and row.request_hash == request_hash and row.patient_key == patient_key:
            return Found(Record.of(row), False)
    if by_body and patient_key is not None and specimen_id is not None:
        row = c.execute(
            BY_PATIENT_SPECIMEN_BODY, {"pk": patient_key, "sp": specimen_id, "rh": request_hash}
        ).first()
        if row is not None:
            return Found(Record.of(row), False)
    return None


def _same_request(row: Any, key: str, patient_key: str | None, request_hash: str) -> Record:
    """The record ``key`` names, when it was made by the same request (IdempotencyConflict when not)."""
    # The body's hash leaves out patient_ref (it is not kept): the patient is compared apart.
    if row.request_hash != request_hash or row.patient_key != patient_key:
        raise IdempotencyConflict(key)
    return Record.of(row)


def _keyed(c: Connection, api_key_name: str | None, key: str) -> Any:
    """The record a retry key of an API key names: the one holding it as its own, else the one
    record_keys binds it to (the earliest, for a key without an API key, which no unique constraint
    keeps to one record); None when it names none."""
    stmt = BY_KEY_NO_API_KEY if api_key_name is None else BY_KEY
    rows = sorted(c.execute(stmt, {"idem": key, "api": api_key_name}).all(), key=lambda r: r.seq)
    own = [r for r in rows if r.idempotency_key == key and r.api_key_name == api_key_name]
    return (own or rows)[0] if rows else None
