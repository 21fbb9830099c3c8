"""Local accounts of the review console: argon2id password hashes (argon2-cffi), roles, lockout.

Roles: ``reviewer`` (may sign off) and ``viewer`` (reads the queue, cases and reports). After
``LOCKOUT_FAILURES`` wrong passwords in a row an account is locked for ``LOCKOUT_MINUTES``
(MGI_REVIEW_LOCKOUT_FAILURES / MGI_REVIEW_LOCKOUT_MINUTES); a successful sign-in resets the count.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from service.store import RecordStore

from .models import NAME_LENGTH, ROLES, User

UT = cast(Table, User.__table__)

NAME_RE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._@-]{{0,{NAME_LENGTH - 1}}}")
MIN_PASSWORD = 12
HASHER = PasswordHasher()
# Verified when the name is unknown, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = HASHER.hash("not-a-password-of-anyone")


def lockout_failures() -> int:
    return int(os.environ.get("MGI_REVIEW_LOCKOUT_FAILURES", "5"))


def lockout_minutes() -> int:
    return int(os.environ.get("MGI_REVIEW_LOCKOUT_MINUTES", "15"))


class AccountError(ValueError):
    """A user cannot be created as asked (name, role or password)."""


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    session_epoch: int

    @property
    def may_review(self) -> bool:
        return self.role == "reviewer"


def _account(row: Any) -> Account:
    return Account(row.name, row.role, row.session_epoch)


def check_new(name: str, role: str, password: str | None) -> None:
    if not NAME_RE.fullmatch(name):
        raise AccountError(
            f"name {name!r}: 1-{NAME_LENGTH} characters of A-Z a-z 0-9 . _ @ -, "
            "starting with a letter or digit"
        )
    if role not in ROLES:
        raise AccountError(f"role {role!r}: one of {', '.join(ROLES)}")
    if password is not None and len(password) < MIN_PASSWORD:
        raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")


def add_user(store: RecordStore, name: str, role: str, password: str | None) -> Account:
    """Create an account (password None: single sign-on only); AccountError when the name is taken."""
    check_new(name, role, password)
    hashed = HASHER.hash(password) if password is not None else None

    def work(c: Connection) -> Account:
        c.execute(
            insert(UT).values(
                name=name,
                role=role,
                password_hash=hashed,
                failed_logins=0,
                created_at=datetime.now(UTC),
                session_epoch=0,
            )
        )
        return Account(name, role, 0)

    try:
        return store._run(work)
    except IntegrityError:
        raise AccountError(f"a user named {name!r} already exists") from None


def find(store: RecordStore, name: str) -> Account | None:
    def work(c: Connection) -> Account | None:
        row = c.execute(select(UT.c.name, UT.c.role, UT.c.session_epoch).where(UT.c.name == name)).first()
        return _account(row) if row is not None else None

    return store._run(work)


def sign_in(
    store: RecordStore, name: str, password: str, now: datetime | None = None
) -> tuple[Account | None, str]:
    """(account, "") when the password is right; (None, reason) otherwise: "invalid" or "locked"
    (the page says the same for both unknown name and wrong password)."""
    now = now or datetime.now(UTC)

    def load(c: Connection) -> tuple[int, str | None, datetime | None] | None:
        u = c.execute(select(UT.c.id, UT.c.password_hash, UT.c.locked_until).where(UT.c.name == name)).first()
        if u is None:
            return None
        locked = u.locked_until
        if locked is not None and locked.tzinfo is None:
            locked = locked.replace(tzinfo=UTC)
        return u.id, u.password_hash, locked

    found = store._run(load) if NAME_RE.fullmatch(name or "") else None
    if found is None or found[1] is None:
        try:
            HASHER.verify(_DUMMY_HASH, password + "x")
        except VerificationError:
            pass
        return None, "invalid"
    uid, hashed, locked_until = found
    if locked_until is not None and locked_until > now:
        # The same work as for a wrong name or password, so that the time taken does not tell a locked
        # account from an unknown name; the password given is never checked while locked.
        try:
            HASHER.verify(_DUMMY_HASH, password + "x")
        except VerificationError:
            pass
        return None, "locked"
    try:
        HASHER.verify(hashed, password)
        ok = True
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False

    def record(c: Connection) -> tuple[Account | None, str]:
        u = c.execute(select(UT).where(UT.c.id == uid).with_for_update()).one()
        where = update(UT).where(UT.c.id == uid)
        if ok:
            values: dict[str, Any] = {"failed_logins": 0, "locked_until": None}
            if HASHER.check_needs_rehash(hashed):
                values["password_hash"] = HASHER.hash(password)
            c.execute(where.values(**values))
            return _account(u), ""
        failed = (u.failed_logins or 0) + 1
        if failed >= lockout_failures():
            c.execute(where.values(failed_logins=0, locked_until=now + timedelta(minutes=lockout_minutes())))
            return None, "locked"
        c.execute(where.values(failed_logins=failed))
        return None, "invalid"

    return store._run(record)


def end_sessions(store: RecordStore, name: str) -> None:
    """Sign the account out everywhere: every session cookie issued before now stops being accepted
    (a signed cookie lives on the client; the account's session epoch is what the server checks)."""

    def work(c: Connection) -> None:
        c.execute(update(UT).where(UT.c.name == name).values(session_epoch=UT.c.session_epoch + 1))

    store._run(work)


def set_password(store: RecordStore, name: str, password: str) -> None:
    check_new(name, "viewer", password)
    hashed = HASHER.hash(password)

    def work(c: Connection) -> int:
        res = c.execute(
            update(UT)
            .where(UT.c.name == name)
            .values(
                password_hash=hashed, failed_logins=0, locked_until=None, session_epoch=UT.c.session_epoch + 1
            )
        )
        return int(getattr(res, "rowcount", 0) or 0)

    if not store._run(work):
        raise AccountError(f"no user named {name!r}")
