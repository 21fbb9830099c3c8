"""``python -m service [COMMAND …]``: the service's command line.

Without a command it runs the service locally under gunicorn in explicit development mode:
authentication off (with a warning at every start), bound to loopback only. A deployment uses
docker-compose.yml or the manifests under deploy/, which refuse to start without API keys.

Every other command lives in its own module and is imported only when it is asked for, so that the
service's start-up never pays for a tool it does not run. ``python -m service help`` lists them.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

CONF = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"

# command -> (module exposing ``main(argv: list[str]) -> int``, one-line description)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("service.__main__", "run the service locally in development mode (the default)"),
    "verify": (
        "service.verification.run",
        "run the verification cases against a running instance (--url URL)",
    ),
    "check-config": (
        "service.api.config_state",
        "validate the API-key file and code map as the service would",
    ),
    "mllp": ("service.api.mllp", "HL7 v2 over MLLP: listener and outbound delivery (docs/mllp.md)"),
    "db": ("service.store.cli", "the records database: upgrade, downgrade, current, purge, erase"),
    "ruleset-impact": ("service.api.impact", "re-interpret stored panels under the ruleset in force"),
    "users": ("service.review.cli", "review console accounts: add NAME --role reviewer|viewer, list"),
    "demo-data": ("service.review.demo", "store a demonstration patient (the §6 example with two panels)"),
}


def serve(argv: list[str] | None = None) -> int:
    """Exec gunicorn with the project's settings, development mode on, bound to 127.0.0.1:8000.

    ``--no-store`` runs it stateless (MGI_STORE=off). Otherwise the records store is on: the embedded
    SQLite database under MGI_DATA_DIR (default ./var) is created or migrated here, once, before the
    workers start; a database named by MGI_DATABASE_URL is never migrated implicitly (run
    ``python -m service db upgrade``)."""
    args = list(argv or [])
    if "--no-store" in args:
        args.remove("--no-store")
        os.environ["MGI_STORE"] = "off"
    if args:
        print(f"unknown argument(s) for serve: {' '.join(args)} (only --no-store)", file=sys.stderr)
        return 2
    os.environ["MGI_DEV_MODE"] = "1"
    os.environ.setdefault("MGI_BIND", "127.0.0.1:8000")
    os.environ.setdefault("MGI_WORKERS", "2")
    store = _prepare_embedded_store()
    print(
        f"MGI development server on http://{os.environ['MGI_BIND']} (authentication OFF; {store}; "
        "Ctrl-C to stop)",
        file=sys.stderr,
    )
    args = [sys.executable, "-m", "gunicorn", "-c", str(CONF), "service.wsgi:app"]
    os.execv(sys.executable, args)
    return 0  # not reached


def _prepare_embedded_store() -> str:
    """Migrate the embedded SQLite database of development mode; a description for the banner."""
    from service.store import read_settings

    settings = read_settings()
    if not settings.enabled:
        return "records store off"
    if not settings.embedded:
        return "records in MGI_DATABASE_URL"
    from service.store import RecordStore, migrate, patient_key_secret

    patient_key_secret(settings.data_dir, dev_mode=True)  # generated once here, not by two workers
    store = RecordStore.from_url(settings.url)
    try:
        migrate.upgrade(store.engine)
    finally:
        store.dispose()
    return f"records in {settings.data_dir / 'mgi.sqlite3'}"


def _usage() -> str:
    width = max(len(c) for c in COMMANDS)
    lines = ["usage: python -m service [COMMAND] [ARGS…]", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {desc}" for name, (_, desc) in COMMANDS.items()]
    lines.append(f"  {'help'.ljust(width)}  this list")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a command's module; no command (or ``serve``) runs the service."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("-") and args[0] not in ("-h", "--help"):
        return serve(args)  # ``python -m service --no-store``: options of the default command
    if args[0] == "serve":
        return serve(args[1:])
    name, rest = args[0], args[1:]
    if name in ("help", "-h", "--help"):
        print(_usage())
        return 0
    if name not in COMMANDS:
        print(f"unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
