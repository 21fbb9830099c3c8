"""``python -m service users …``: the review console's local accounts.

    python -m service users add NAME --role reviewer      # password from a prompt (or stdin)
    python -m service users add NAME --role viewer --sso  # no password: trusted-header sign-in only
    python -m service users password NAME                 # new password (signs out its sessions)
    python -m service users list

The database is the records store's (MGI_DATABASE_URL, or the SQLite file under MGI_DATA_DIR),
migrated to the current schema (``python -m service db upgrade``).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.store import RecordStore, SchemaNotCurrent, migrate, read_settings

from . import accounts
from .models import ROLES, User


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            raise accounts.AccountError("no password on standard input")
        return line
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise accounts.AccountError("the two passwords differ")
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service users", description="review console accounts")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--sso", action="store_true", help="no password: trusted-header single sign-on only")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    pw = sub.add_parser("password", help="set a new password (ends the account's sessions, lifts a lockout)")
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true")
    sub.add_parser("list", help="list the accounts")
    args = parser.parse_args(argv)
    settings = read_settings()
    if not settings.enabled:
        print("the records store is off (MGI_STORE=off): the review console needs it", file=sys.stderr)
        return 2
    store = RecordStore.from_url(settings.url)
    try:
        migrate.check_current(store.engine)
        if args.command == "list":
            with Session(store.engine) as s:
                for u in s.scalars(select(User).order_by(User.name)):
                    sso = " (single sign-on only)" if u.password_hash is None else ""
                    print(f"{u.name}\t{u.role}{sso}")
            return 0
        if args.command == "add":
            accounts.check_new(args.name, args.role, None)
            password = None if args.sso else _password(args)
            account = accounts.add_user(store, args.name, args.role, password)
            print(f"user {account.name} ({account.role}) created", file=sys.stderr)
            return 0
        accounts.set_password(store, args.name, _password(args))
        print(f"password of {args.name} changed", file=sys.stderr)
        return 0
    except (accounts.AccountError, SchemaNotCurrent) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        store.dispose()


if __name__ == "__main__":
    sys.exit(main())
