"""A record answers every key that retried it: ``record_keys`` holds the keys a record answers beside
its own column (an Idempotency-Key, or a message's own retry key, first sent with a retry of it), one
record per key of an API key. Records stored before keep their own key; the downgrade drops the keys
bound since.

Revision ID: 0005_record_keys
Revises: 0004_review_idempotency
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_record_keys"
down_revision = "0004_review_idempotency"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "record_keys",
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("api_key_name", sa.String(128), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("interpretation_id", sa.String(32), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_record_keys"),
        sa.UniqueConstraint(
            "api_key_name", "idempotency_key", name="uq_record_keys_api_key_name_idempotency_key"
        ),
    )
    op.create_index("ix_record_keys_interpretation_id", "record_keys", ["interpretation_id"])


def downgrade() -> None:
    op.drop_table("record_keys")
