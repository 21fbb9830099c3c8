"""The review console's tables: reviews (every sign-off, with name and time) and local user accounts.

They share the records store's metadata (service.store.models.Base), so the store's migrations and
models are compared as one schema; migration ``0002_reviews`` creates them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.store.models import IDEMPOTENCY_KEY_LENGTH, RECORD_ID_LENGTH, Base, BigId

NAME_LENGTH = 64
ROLES = ("reviewer", "viewer")
DECISIONS = ("approve", "amend")


class Review(Base):
    """One sign-off of a stored interpretation: approved as it is, or amended (with the reason)."""

    __tablename__ = "reviews"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # The record's public id. No foreign key, as for the audit trail: erasing a patient's records
    # goes through the store, which also erases their reviews (service.review.store.erase_orphans).
    interpretation_id: Mapped[str] = mapped_column(String(RECORD_ID_LENGTH))
    decision: Mapped[str] = mapped_column(String(16))  # approve or amend
    reviewer: Mapped[str] = mapped_column(String(128))
    reviewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The comment released (the answer's own when the reviewer left it as it was).
    comment: Mapped[str | None] = mapped_column(Text)
    # An amended classification code (null: the answer's stands).
    classification_code: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    # Release status before this review (auto or review_required, or an earlier review's).
    status_before: Mapped[str] = mapped_column(String(32))
    # console (the pages) or api (POST /v1/interpretations/{id}/reviews, with its API key name).
    via: Mapped[str] = mapped_column(String(16))
    api_key_name: Mapped[str | None] = mapped_column(String(128))
    # The Idempotency-Key header of an API sign-off (null without one, and from the console), and
    # the SHA-256 of the body it came with: a retry with the key is answered with this review.
    idempotency_key: Mapped[str | None] = mapped_column(String(IDEMPOTENCY_KEY_LENGTH))
    request_hash: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index(None, "interpretation_id", "seq"),
        Index(None, "reviewed_at"),
        # Retries: one review per Idempotency-Key of an API key, whatever the concurrency.
        UniqueConstraint("api_key_name", "idempotency_key"),
    )


class User(Base):
    """A local account of the review console (argon2 password hash; lockout after failures)."""

    __tablename__ = "review_users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # reviewer or viewer
    # argon2id hash (argon2-cffi's encoded form); null: single sign-on only (trusted header).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Raised when the password changes or the account is reset: older sessions stop working.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
