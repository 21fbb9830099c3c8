"""``python -m service db upgrade|downgrade|current|purge|erase``: the records database.

The database is the one the service uses: MGI_DATABASE_URL, else the SQLite file under MGI_DATA_DIR
(default ./var). ``erase`` needs MGI_PATIENT_KEY_SECRET (the patient's panels are found by the keyed
hash of patient_ref); give the reference on stdin (``--stdin``) to keep it out of the shell history
and the process list.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime, timedelta

from . import migrate
from .repository import RecordStore
from .settings import StoreConfigError, patient_key_secret, read_settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m service db", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upgrade", help="migrate the schema to this version's (or to --revision)")
    up.add_argument("--revision", default="head")
    down = sub.add_parser("downgrade", help="migrate the schema back to REVISION ('base' drops every table)")
    down.add_argument("revision")
    sub.add_parser("current", help="print the schema revision of the database and the one this version needs")
    purge = sub.add_parser(
        "purge", help="delete records older than the retention period (MGI_RETENTION_DAYS)"
    )
    purge.add_argument("--days", type=int, help="override MGI_RETENTION_DAYS")
    erase = sub.add_parser("erase", help="delete every record of one patient")
    who = erase.add_mutually_exclusive_group(required=True)
    who.add_argument("--patient-ref", help="the patient's reference as the LIS sends it")
    who.add_argument("--stdin", action="store_true", help="read patient references from stdin, one a line")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = read_settings()
    except StoreConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    store = RecordStore.from_url(settings.url)
    try:
        return _run(args, settings, store)
    except StoreConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        store.dispose()


def _run(args: argparse.Namespace, settings, store: RecordStore) -> int:  # noqa: ANN001
    where = store.engine.url.render_as_string(hide_password=True)
    if args.command == "upgrade":
        migrate.upgrade(store.engine, args.revision)
        print(f"{where}: schema at {migrate.current(store.engine)}")
        return 0
    if args.command == "downgrade":
        migrate.downgrade(store.engine, args.revision)
        print(f"{where}: schema at {migrate.current(store.engine) or 'base (empty)'}")
        return 0
    if args.command == "current":
        have, need = migrate.current(store.engine), migrate.head()
        print(f"{where}: schema {have or 'none'}; this version needs {need}")
        return 0 if have == need else 1
    migrate.check_current(store.engine)
    if args.command == "purge":
        days = args.days if args.days is not None else settings.retention_days
        if days is None or days < 1:
            print("error: no retention period: set MGI_RETENTION_DAYS (or --days N, N >= 1)", file=sys.stderr)
            return 2
        cutoff = datetime.now(UTC) - timedelta(days=days)
        n = store.purge(cutoff)
        _drop_orphan_reviews(store)
        print(f"purged {n} record(s) received before {cutoff.isoformat(timespec='seconds')} ({days} days)")
        return 0
    # erase
    # Development mode's generated secret (python -m service) is used only with MGI_DEV_MODE=1.
    secret = patient_key_secret(settings.data_dir, dev_mode=os.environ.get("MGI_DEV_MODE", "") == "1")
    refs = (
        [args.patient_ref] if args.patient_ref is not None else [ln.strip() for ln in sys.stdin if ln.strip()]
    )
    keyed = RecordStore(store.engine, secret)
    total = 0
    for ref in refs:
        ids = keyed.erase(keyed.patient_keys(ref))
        total += len(ids)
        for rid in ids:
            print(f"erased {rid}")
    _drop_orphan_reviews(store)
    print(f"erased {total} record(s) of {len(refs)} patient reference(s)")
    return 0


def _drop_orphan_reviews(store: RecordStore) -> None:
    """The sign-offs of purged or erased records go with them (a reviewer's comment is patient data)."""
    from service.review.store import erase_orphans

    erase_orphans(store)
