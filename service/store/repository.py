"""Repository functions of the records store: save, read (with the audit trail), list, history,
purge, erase. Plain SQLAlchemy Core/ORM over one engine; no web framework here."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import math
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple, cast

import orjson
from sqlalchemy import Engine, create_engine, delete, event, func, insert, select, text
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from .models import Interpretation, RecordRead

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
    """SHA-256 of the canonical request: sorted keys, so the same body in another key order is the same."""
    return hashlib.sha256(orjson.dumps(request, default=_default, option=orjson.OPT_SORT_KEYS)).hexdigest()


def patient_key(secret: bytes, patient_ref: str) -> str:
    """HMAC-SHA-256(site secret, patient_ref), hex: links a patient's panels without keeping the ref."""
    return hmac.new(secret, patient_ref.encode(), hashlib.sha256).hexdigest()


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(dt: datetime) -> datetime:
    # SQLite keeps no zone: every stored time is UTC.
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The position a cursor names; ValueError for anything this service did not hand out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("not a cursor this service returned") from None
    if not raw.startswith("s") or not raw[1:].isdigit() or len(raw) > 21:
        raise ValueError("not a cursor this service returned")
    return int(raw[1:])


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
    def of(cls, row: Interpretation) -> Record:
        return cls(
            row.id,
            row.seq,
            _aware(row.received_at),
            row.collected_on,
            row.patient_key,
            row.specimen_id,
            row.source,
            row.api_key_name,
            row.request_id,
            row.idempotency_key,
            row.request_hash,
            row.ruleset_version,
            row.classification_code,
            row.status,
            row.request,
            row.store_history,
            row.response,
            row.findings,
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
            Path(path).parent.mkdir(parents=True, exist_ok=True)
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

    @classmethod
    def from_url(cls, url: str, secret: bytes | None = None) -> RecordStore:
        return cls(make_engine(url), secret)

    # ------------------------------------------------------------------ identity
    def patient_key(self, patient_ref: str) -> str:
        if self._secret is None:
            raise RuntimeError("the store was opened without the patient key secret")
        return patient_key(self._secret, patient_ref)

    # ------------------------------------------------------------------ plumbing
    def _run(self, work: Any) -> Any:
        """Run ``work(session)`` in a transaction; retried once when the connection had been dropped
        (a database restart). Operational failures become StoreUnavailable."""
        for attempt in (1, 2):
            try:
                with Session(self.engine, expire_on_commit=False) as session, session.begin():
                    return work(session)
            except DBAPIError as e:
                if isinstance(e, IntegrityError):
                    raise
                if attempt == 1 and e.connection_invalidated:
                    continue
                if isinstance(e, OperationalError) or e.connection_invalidated:
                    raise StoreUnavailable(type(e.orig).__name__ if e.orig else type(e).__name__) from e
                raise
        raise AssertionError("unreachable")  # pragma: no cover

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

        def work(s: Session) -> Record | None:
            return self._find_retry(s, api_key_name, idempotency_key, patient_key, specimen_id, request_hash)

        return self._run(work)

    @staticmethod
    def _find_retry(
        s: Session,
        api_key_name: str | None,
        idempotency_key: str | None,
        patient_key: str | None,
        specimen_id: str | None,
        request_hash: str,
    ) -> Record | None:
        if idempotency_key is not None:
            q = select(Interpretation).where(Interpretation.idempotency_key == idempotency_key)
            q = q.where(
                Interpretation.api_key_name.is_(None)
                if api_key_name is None
                else Interpretation.api_key_name == api_key_name
            )
            row = s.scalars(q).first()
            if row is not None:
                if row.request_hash != request_hash:
                    raise IdempotencyConflict(idempotency_key)
                return Record.of(row)
        if patient_key is not None and specimen_id is not None:
            row = s.scalars(
                select(Interpretation).where(
                    Interpretation.patient_key == patient_key,
                    Interpretation.specimen_id == specimen_id,
                    Interpretation.request_hash == request_hash,
                )
            ).first()
            if row is not None:
                return Record.of(row)
        return None

    def save(self, new: NewRecord) -> tuple[Record, bool]:
        """Store ``new``; (record, True), or (the existing record, False) when it is a retry of an
        earlier request (same Idempotency-Key, or same patient, specimen and body) - decided by the
        unique constraints, so two concurrent retries still make one row."""
        rid = uuid.uuid4().hex
        now = utcnow()
        rhash = new.request_hash or canonical_hash(new.request)
        values: dict[str, Any] = {
            "id": rid,
            "received_at": now,
            "collected_on": new.collected_on,
            "patient_key": new.patient_key,
            "specimen_id": new.specimen_id,
            "source": new.source,
            "api_key_name": new.api_key_name,
            "request_id": new.request_id,
            "idempotency_key": new.idempotency_key,
            "request_hash": rhash,
            "ruleset_version": new.ruleset_version,
            "classification_code": new.classification_code,
            "status": new.status,
            "request": new.request,
            "store_history": new.store_history,
            "response": new.response,
            "findings": findings_of(new.response),
        }

        def work(s: Session) -> int:
            return int(
                s.execute(insert(Interpretation).values(**values).returning(Interpretation.seq)).scalar_one()
            )

        try:
            seq = self._run(work)
        except IntegrityError:
            existing = self.find_retry(
                api_key_name=new.api_key_name,
                idempotency_key=new.idempotency_key,
                patient_key=new.patient_key,
                specimen_id=new.specimen_id,
                request_hash=rhash,
            )
            if existing is None:
                raise
            return existing, False
        return Record(seq=seq, **values), True

    def save_many(self, records: Sequence[NewRecord]) -> list[tuple[Record, bool]]:
        """Store several (a batch): each is its own insert, so one retry does not undo the others."""
        return [self.save(r) for r in records]

    # ------------------------------------------------------------------ read
    def get(self, record_id: str, *, reader: str | None, request_id: str | None) -> Record | None:
        """One record by id; the read is recorded in the audit trail in the same transaction."""

        def work(s: Session) -> Record | None:
            row = s.scalars(select(Interpretation).where(Interpretation.id == record_id)).first()
            if row is None:
                return None
            s.execute(
                insert(RecordRead).values(
                    interpretation_id=row.id,
                    read_at=utcnow(),
                    api_key_name=reader,
                    request_id=request_id,
                    via="get",
                )
            )
            return Record.of(row)

        return self._run(work)

    def list_records(
        self,
        *,
        patient_key: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        before_seq: int | None = None,
        limit: int = 50,
        reader: str | None = None,
        request_id: str | None = None,
    ) -> Page:
        """Records newest first, after the cursor; every record listed is recorded as read."""

        def work(s: Session) -> Page:
            q = select(Interpretation)
            if patient_key is not None:
                q = q.where(Interpretation.patient_key == patient_key)
            if status is not None:
                q = q.where(Interpretation.status == status)
            if since is not None:
                q = q.where(Interpretation.received_at >= since)
            if before_seq is not None:
                q = q.where(Interpretation.seq < before_seq)
            rows = list(s.scalars(q.order_by(Interpretation.seq.desc()).limit(limit + 1)))
            more = len(rows) > limit
            rows = rows[:limit]
            if rows:
                now = utcnow()
                s.execute(
                    insert(RecordRead),
                    [
                        {
                            "interpretation_id": r.id,
                            "read_at": now,
                            "api_key_name": reader,
                            "request_id": request_id,
                            "via": "list",
                        }
                        for r in rows
                    ],
                )
            return Page([Record.of(r) for r in rows], encode_cursor(rows[-1].seq) if more else None)

        return self._run(work)

    def reads(
        self,
        *,
        interpretation_id: str | None = None,
        since: datetime | None = None,
        before_seq: int | None = None,
        limit: int = 100,
    ) -> tuple[list[ReadEntry], str | None]:
        """The audit trail, newest first."""

        def work(s: Session) -> tuple[list[ReadEntry], str | None]:
            q = select(RecordRead)
            if interpretation_id is not None:
                q = q.where(RecordRead.interpretation_id == interpretation_id)
            if since is not None:
                q = q.where(RecordRead.read_at >= since)
            if before_seq is not None:
                q = q.where(RecordRead.seq < before_seq)
            rows = list(s.scalars(q.order_by(RecordRead.seq.desc()).limit(limit + 1)))
            more = len(rows) > limit
            rows = rows[:limit]
            out = [
                ReadEntry(r.interpretation_id, _aware(r.read_at), r.api_key_name, r.request_id, r.via, r.seq)
                for r in rows
            ]
            return out, encode_cursor(rows[-1].seq) if more else None

        return self._run(work)

    def panels_of(self, patient_key: str, *, on_or_after: date, before: date) -> list[Record]:
        """A patient's records whose panel date is in [on_or_after, before), oldest first (serial memory)."""

        def work(s: Session) -> list[Record]:
            q = (
                select(Interpretation)
                .where(
                    Interpretation.patient_key == patient_key,
                    Interpretation.collected_on >= on_or_after,
                    Interpretation.collected_on < before,
                )
                .order_by(Interpretation.collected_on, Interpretation.seq)
            )
            return [Record.of(r) for r in s.scalars(q)]

        return self._run(work)

    def count(self) -> int:
        return int(self._run(lambda s: s.scalar(select(func.count()).select_from(Interpretation))))

    def iterate(self, *, chunk: int = 2000, since: datetime | None = None) -> Iterator[list[Record]]:
        """Every record in chunks, oldest first (keyset pagination: constant cost per chunk)."""
        after = 0
        while True:

            def work(s: Session, after: int = after) -> list[Record]:
                q = select(Interpretation).where(Interpretation.seq > after)
                if since is not None:
                    q = q.where(Interpretation.received_at >= since)
                return [Record.of(r) for r in s.scalars(q.order_by(Interpretation.seq).limit(chunk))]

            rows = self._run(work)
            if not rows:
                return
            yield rows
            after = rows[-1].seq

    def scan(
        self,
        *,
        chunk: int = 2000,
        since: datetime | None = None,
        shard: tuple[int, int] = (0, 1),
        after: int = 0,
    ) -> Iterator[list[ScanRow]]:
        """What ruleset impact reads of every record, in chunks, oldest first: keyset pagination
        (constant cost per chunk), plain columns (no ORM objects, no answer bodies). ``shard`` (k, n)
        keeps the records whose seq % n == k, for n processes sharing a run."""
        t = Interpretation.__table__
        cols = (t.c.seq, t.c.id, t.c.collected_on, t.c.request, t.c.store_history, t.c.classification_code)
        k, n = shard
        while True:

            def work(s: Session, after: int = after) -> list[ScanRow]:
                q = select(*cols, t.c.findings).where(t.c.seq > after)
                if since is not None:
                    q = q.where(t.c.received_at >= since)
                if n > 1:
                    q = q.where(t.c.seq % n == k)
                return [ScanRow(*row) for row in s.execute(q.order_by(t.c.seq).limit(chunk))]

            rows = self._run(work)
            if not rows:
                return
            yield rows
            after = rows[-1].seq

    # ------------------------------------------------------------------ retention and erasure
    def purge(self, older_than: datetime) -> int:
        """Delete records received before ``older_than`` (and the audit rows of reads before it)."""

        def work(s: Session) -> int:
            old = delete(Interpretation).where(Interpretation.received_at < older_than)
            n = cast(CursorResult[Any], s.execute(old)).rowcount
            s.execute(delete(RecordRead).where(RecordRead.read_at < older_than))
            return int(n or 0)

        return self._run(work)

    def erase(self, patient_key: str) -> list[str]:
        """Delete every record of one patient; the ids erased (the audit trail keeps who read them)."""

        def work(s: Session) -> list[str]:
            ids = list(s.scalars(select(Interpretation.id).where(Interpretation.patient_key == patient_key)))
            s.execute(delete(Interpretation).where(Interpretation.patient_key == patient_key))
            return ids

        return self._run(work)
