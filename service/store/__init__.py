"""The records store: every interpretation kept with its canonical request, answer and audit trail.

An adapter the HTTP shell calls (``service.api.records``); the domain never imports it. SQLite under
the data directory by default, PostgreSQL through MGI_DATABASE_URL, schema by Alembic migrations
(``python -m service db upgrade``). docs/records.md describes what is kept and the settings.
"""

from .repository import (
    IdempotencyConflict,
    NewRecord,
    Page,
    ReadEntry,
    Record,
    RecordStore,
    SchemaNotCurrent,
    StoreUnavailable,
    canonical_hash,
    decode_cursor,
    encode_cursor,
    patient_key,
)
from .settings import StoreConfigError, StoreSettings, patient_key_secret, read_settings

__all__ = [
    "IdempotencyConflict",
    "NewRecord",
    "Page",
    "ReadEntry",
    "Record",
    "RecordStore",
    "SchemaNotCurrent",
    "StoreConfigError",
    "StoreSettings",
    "StoreUnavailable",
    "canonical_hash",
    "decode_cursor",
    "encode_cursor",
    "patient_key",
    "patient_key_secret",
    "read_settings",
]
