"""Interpretation records and the audit trail of their reads.

Revision ID: 0001_records
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_records"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "interpretations",
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("collected_on", sa.Date(), nullable=False),
        sa.Column("patient_key", sa.String(64), nullable=True),
        sa.Column("specimen_id", sa.String(64), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("api_key_name", sa.String(128), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("ruleset_version", sa.String(64), nullable=False),
        sa.Column("classification_code", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("store_history", sa.JSON(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_interpretations"),
        sa.UniqueConstraint("id", name="uq_interpretations_id"),
        sa.UniqueConstraint(
            "patient_key",
            "specimen_id",
            "request_hash",
            name="uq_interpretations_patient_key_specimen_id_request_hash",
        ),
        sa.UniqueConstraint(
            "api_key_name", "idempotency_key", name="uq_interpretations_api_key_name_idempotency_key"
        ),
    )
    op.create_index("ix_interpretations_received_at", "interpretations", ["received_at"])
    op.create_index("ix_interpretations_status_seq", "interpretations", ["status", "seq"])
    op.create_table(
        "record_reads",
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("interpretation_id", sa.String(32), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("api_key_name", sa.String(128), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("via", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_record_reads"),
    )
    op.create_index("ix_record_reads_interpretation_id_seq", "record_reads", ["interpretation_id", "seq"])
    op.create_index("ix_record_reads_read_at", "record_reads", ["read_at"])


def downgrade() -> None:
    op.drop_table("record_reads")
    op.drop_table("interpretations")
