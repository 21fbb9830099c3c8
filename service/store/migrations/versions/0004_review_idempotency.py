"""Reviews keep the Idempotency-Key of an API sign-off and the hash of its body: a retried sign-off
(the same key of the same API key) is answered with the first review instead of recording a second.
Reviews recorded before have neither (null).

Revision ID: 0004_review_idempotency
Revises: 0003_lz4_bodies
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_review_idempotency"
down_revision = "0003_lz4_bodies"
branch_labels = None
depends_on = None

UNIQUE = "uq_reviews_api_key_name_idempotency_key"


def upgrade() -> None:
    # Batch mode: SQLite adds a unique constraint by copying the table (env.py: render_as_batch);
    # PostgreSQL alters it in place.
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(255), nullable=True))
        batch.add_column(sa.Column("request_hash", sa.String(64), nullable=True))
        batch.create_unique_constraint(UNIQUE, ["api_key_name", "idempotency_key"])


def downgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.drop_constraint(UNIQUE, type_="unique")
        batch.drop_column("request_hash")
        batch.drop_column("idempotency_key")
