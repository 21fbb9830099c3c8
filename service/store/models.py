"""The records' tables (SQLAlchemy 2 declarative models).

One row of ``interpretations`` is one answer the service gave: the canonical request (never the
patient's identifier, only its keyed hash), the answer, and who asked. ``record_reads`` is the audit
trail: one row per record shown to someone (by id, or in a list). The schema itself is owned by the
Alembic migrations in ``service/store/migrations``; these classes must agree with them (a test
compares the two).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Constraint names are fixed so that migrations can name them on every backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer, "sqlite")

PATIENT_KEY_LENGTH = 64  # HMAC-SHA-256, hex
SPECIMEN_ID_LENGTH = 64
IDEMPOTENCY_KEY_LENGTH = 255
RECORD_ID_LENGTH = 32  # uuid4, hex


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Interpretation(Base):
    """One stored interpretation: what was asked, what was answered, under which ruleset, by whom."""

    __tablename__ = "interpretations"

    # Internal order of arrival: the list's cursor and "newest first" are on it.
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # The public id (Location: /v1/interpretations/{id}); random, so ids reveal nothing of the volume.
    id: Mapped[str] = mapped_column(String(RECORD_ID_LENGTH), unique=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The panel's date: collected_on as sent, else the day (UTC) the panel was received.
    collected_on: Mapped[date] = mapped_column(Date)
    # HMAC-SHA-256(site secret, patient_ref), hex; null when the request carried no patient_ref.
    patient_key: Mapped[str | None] = mapped_column(String(PATIENT_KEY_LENGTH))
    specimen_id: Mapped[str | None] = mapped_column(String(SPECIMEN_ID_LENGTH))
    # json (POST /v1/interpretations), batch, hl7 or fhir: how the request arrived.
    source: Mapped[str] = mapped_column(String(16))
    api_key_name: Mapped[str | None] = mapped_column(String(128))
    request_id: Mapped[str | None] = mapped_column(String(128))
    idempotency_key: Mapped[str | None] = mapped_column(String(IDEMPOTENCY_KEY_LENGTH))
    # SHA-256 of the canonical request (sorted keys, no patient_ref): "the same body" for retries.
    request_hash: Mapped[str] = mapped_column(String(64))
    ruleset_version: Mapped[str] = mapped_column(String(64))
    classification_code: Mapped[str] = mapped_column(String(64))
    # Release status of the answer: auto, review_required, reviewed, amended.
    status: Mapped[str] = mapped_column(String(32))
    # The canonical request as received (JSON contract form, without patient_ref).
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Earlier panels taken from the store as history (JSON contract form), so the answer can be
    # re-derived exactly (ruleset impact); null when none was.
    store_history: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # The answer as returned (the response body, without its id).
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    # What a ruleset change is judged on, small enough to scan a million rows:
    # {"flags": [codes], "risk": {model: group}}.
    findings: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        # Retries: the same patient, specimen and body is one record, whatever the concurrency.
        UniqueConstraint("patient_key", "specimen_id", "request_hash"),
        # Retries: one record per Idempotency-Key of an API key.
        UniqueConstraint("api_key_name", "idempotency_key"),
        # A patient's records (list, serial memory) are found through the first unique constraint's
        # patient_key prefix: a patient has tens of records, sorted in memory; one index less to write.
        Index(None, "received_at"),
        Index(None, "status", "seq"),
    )


class RecordRead(Base):
    """The audit trail: who was shown which record, when, and how."""

    __tablename__ = "record_reads"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # The record's public id. No foreign key: the trail outlives a record's erasure (it holds no
    # patient data, only who looked at which id).
    interpretation_id: Mapped[str] = mapped_column(String(RECORD_ID_LENGTH))
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    api_key_name: Mapped[str | None] = mapped_column(String(128))
    request_id: Mapped[str | None] = mapped_column(String(128))
    # get (one record by id) or list (a row of a list).
    via: Mapped[str] = mapped_column(String(16))

    __table_args__ = (
        Index(None, "interpretation_id", "seq"),
        Index(None, "read_at"),
    )


class RecordKey(Base):
    """A retry key a record answers beside its own (``interpretations.idempotency_key``): an
    Idempotency-Key, or an HL7 message's or FHIR Bundle's own retry key, first sent with a retry of
    the record (found by its patient, specimen and body, or by another key). A key names one record per
    API key, in either place."""

    __tablename__ = "record_keys"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    api_key_name: Mapped[str | None] = mapped_column(String(128))
    idempotency_key: Mapped[str] = mapped_column(String(IDEMPOTENCY_KEY_LENGTH))
    # The record's public id. No foreign key (as for the audit trail); erasure and retention delete a
    # record's keys with it.
    interpretation_id: Mapped[str] = mapped_column(String(RECORD_ID_LENGTH))
    bound_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("api_key_name", "idempotency_key"),
        Index(None, "interpretation_id"),
    )
