"""WSGI entry point for gunicorn: ``gunicorn -c gunicorn.conf.py service.wsgi:app``."""

import gc
import sys

from service.api import create_app
from service.store import SchemaNotCurrent, StoreConfigError

try:
    app = create_app()
except (StoreConfigError, SchemaNotCurrent) as e:
    # A records store that cannot start is the operator's to fix: one line saying what to do, no
    # traceback. Exit status 4 is gunicorn's "App failed to load": the master stops instead of
    # starting new workers that would fail the same way.
    print(f"mgi: the records store cannot start: {e}", file=sys.stderr, flush=True)
    sys.exit(4)

# Everything built so far (modules, schemas, the codemap, the ruleset) lives as long as the worker:
# moving it out of the cyclic collector's generations means collections during requests no longer
# walk it (about 5 % of a single request's time, more for large batches). Nothing is freed by this.
gc.collect()
gc.freeze()
