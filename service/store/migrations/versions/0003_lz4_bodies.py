"""PostgreSQL: the stored bodies (request, answer, history) are compressed with lz4 instead of pglz.

Each stored answer is several kilobytes of JSON that PostgreSQL compresses on insert; lz4 costs less
CPU per record for about the same size. Only rows written after the upgrade are compressed with lz4;
earlier rows stay readable as they are. A server built without lz4 (or SQLite) keeps its default.

Revision ID: 0003_lz4_bodies
Revises: 0002_reviews
"""

from __future__ import annotations

from alembic import op

revision = "0003_lz4_bodies"
down_revision = "0002_reviews"
branch_labels = None
depends_on = None

COLUMNS = ("request", "store_history", "response")


def _lz4_available() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    return bool(
        bind.exec_driver_sql(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        ).scalar()
    )


def _set(method: str) -> None:
    clauses = ", ".join(f"ALTER COLUMN {c} SET COMPRESSION {method}" for c in COLUMNS)
    op.execute(f"ALTER TABLE interpretations {clauses}")


def upgrade() -> None:
    if _lz4_available():
        _set("lz4")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _set("DEFAULT")
