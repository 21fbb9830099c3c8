"""Request ids, JSON logs, Prometheus metrics and readiness (a self-contained Flask extension).

``init_observability(app)`` adds, for every request:

* a request id: the client's ``X-Request-ID`` if it is sane (1-128 characters of
  ``[A-Za-z0-9._-]``), else a fresh uuid4 hex; kept in ``g.request_id`` and returned in the
  ``X-Request-ID`` response header;
* one JSON access-log line on logger ``mgi.access``: ts, level, request_id, key_name, method,
  route (the URL rule pattern, never the raw path), status, latency_ms, ruleset_version and
  classification_code (from ``g.ruleset_version`` / ``g.classification_code`` when the view sets
  them). Never a body, a query value, a header value other than the request id, or anything about
  the patient: the line is built from those fields only;
* Prometheus metrics in a per-app ``CollectorRegistry``: ``mgi_http_requests_total{route,method,
  status}``, ``mgi_http_request_duration_seconds{route,method}`` and
  ``mgi_interpretations_total{classification}`` (from ``g.classification_code`` on a successful
  response; a batch endpoint calls :func:`count_interpretations` once with its items' codes and
  leaves ``g.classification_code`` unset).

and the open endpoints ``GET /metrics`` (Prometheus text format) and ``GET /readyz``.

Logging: every logger under ``mgi`` (and Flask's ``app.logger``, which logs unhandled
exceptions) writes one JSON object per line to stderr. Exceptions are rendered as their type and
frames only (file, line, function), never their message, which may quote a request value.
The level comes from ``app.config["LOG_LEVEL"]`` or env ``MGI_LOG_LEVEL`` (default INFO). ``mgi``
does not propagate to the root logger, so no other handler prints the same line in another format.

Several gunicorn workers: set env ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory writable by
the workers, *before* the workers start (prometheus_client reads it at import). Each worker then
writes its samples to files there and ``/metrics`` aggregates them over all workers, so any worker
can answer a scrape. ``gunicorn.conf.py`` empties the directory when the master starts and calls
``mark_process_dead`` in its ``child_exit`` hook. Without the variable, each process exposes its
own counters (fine for one process and for tests).

Readiness: ``/readyz`` answers 200 ``{"status": "ready", "ruleset_version": ...}`` once
``mark_ready(app)`` has been called (last step of ``create_app``) and the optional
``app.config["READINESS_CHECK"]`` callable (returning a bool, or ``(bool, reason)``) passes;
otherwise 503 with the standard error body. ``ruleset_version`` is
``app.config["RULESET_VERSION"]``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, cast

from flask import Flask, current_app, g, has_request_context, request
from flask.logging import default_handler
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

EXTENSION = "mgi_observability"
ACCESS_LOGGER = "mgi.access"
LOGGER_ROOT = "mgi"
REQUEST_ID_HEADER = "X-Request-ID"
ENV_LOG_LEVEL = "MGI_LOG_LEVEL"
ENV_MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"

#: Seconds. The service answers in well under a millisecond to a few milliseconds; the upper
#: buckets catch pathological requests up to the gunicorn timeout.
LATENCY_BUCKETS = (
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
UNMATCHED_ROUTE = "unmatched"  # 404/405: one label, whatever path was asked (bounded cardinality)
OTHER = "OTHER"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_MAX_CLASSIFICATIONS = 64  # label-cardinality guard for mgi_interpretations_total
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")

# uuid4 as 32 hex digits without building a uuid.UUID (about half the cost of uuid4().hex):
# 122 random bits with the version (4) and RFC 4122 variant bits set.
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)


def new_request_id() -> str:
    return "%032x" % ((int.from_bytes(os.urandom(16), "big") & _UUID_CLEAR) | _UUID_SET)


def _plain(value: object) -> object:
    """An enum member (a classification code from the domain) as its value."""
    return value if isinstance(value, (str, int, float)) else getattr(value, "value", str(value))


_JSON_TEXT: dict[object, str] = {}


def _json_text(value: object) -> str:
    """JSON text of a value from a small set (route, key name, codes): cached, bounded."""
    if value is None:
        return "null"
    try:
        text = _JSON_TEXT.get(value)
    except TypeError:  # unhashable: not from a small set
        return json.dumps(_plain(value), default=str)
    if text is None:
        text = json.dumps(_plain(value), default=str)
        if len(_JSON_TEXT) < 4096:
            _JSON_TEXT[value] = text
    return text


# --------------------------------------------------------------------------- logging


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, msg or the record's ``mgi`` fields.

    Exceptions appear as ``exc_type`` and ``exc_frames`` ("file:line in function"), without the
    exception message, which could carry a request value.
    """

    def __init__(self) -> None:
        super().__init__()
        self._second: tuple[int, str] = (-1, "")

    def _timestamp(self, created: float) -> str:
        sec = int(created)
        cached = self._second
        if cached[0] != sec:
            cached = (sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)))
            self._second = cached
        return f"{cached[1]}.{int((created - sec) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        rendered = getattr(record, "mgi_json", None)
        if rendered is not None and not record.exc_info:
            # Access lines: the fields arrive pre-rendered (see init_observability).
            return (
                f'{{"ts":"{self._timestamp(record.created)}","level":"{record.levelname}",'
                f'"logger":{_json_text(record.name)},{rendered}}}'
            )
        out: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
        }
        fields = getattr(record, "mgi", None)
        if fields is not None:
            out.update(fields)
        else:
            out["msg"] = record.getMessage()
            if has_request_context():
                rid = g.get("request_id")
                if rid is not None:
                    out["request_id"] = rid
        if record.exc_info and record.exc_info[0] is not None:
            out["exc_type"] = record.exc_info[0].__name__
            out["exc_frames"] = [
                f"{_short_path(f.filename)}:{f.lineno} in {f.name}"
                for f in traceback.extract_tb(record.exc_info[2], limit=30)
            ]
        return json.dumps(out, separators=(",", ":"), default=str)


class _AccessRecord(logging.LogRecord):
    """A LogRecord for an access line, built without LogRecord.__init__'s per-call work
    (source-file basename, thread and process names: constant or meaningless here). It carries
    every standard attribute, so any handler or formatter can still print it."""

    def __init__(self, name: str, level: int, rendered: str) -> None:
        ct = time.time()
        self.name = name
        self.msg = "request"
        self.args = None
        self.levelno = level
        self.levelname = "ERROR" if level == logging.ERROR else "INFO"
        self.pathname = self.filename = self.module = __name__
        self.lineno = 0
        self.funcName = "finish_request"
        self.exc_info = self.exc_text = self.stack_info = None
        self.created = ct
        self.msecs = (ct - int(ct)) * 1000.0 // 1
        self.relativeCreated = (ct - logging._startTime) * 1000.0  # type: ignore[attr-defined]
        self.thread = threading.get_ident()
        self.threadName = self.processName = self.taskName = None
        self.process = os.getpid()
        self.mgi_json = rendered


def _short_path(path: str) -> str:
    parts = path.replace("\\", "/").rsplit("/", 3)
    return "/".join(parts[-3:])


class WithholdExceptionMessages(logging.Filter):
    """Pre-render a record's traceback as frames and exception type only, without the message.

    On a logger, this applies before any handler, so whatever formatter a handler uses (a test's
    log capture, a syslog handler someone adds) prints the traceback without the exception's
    message, which may quote a request value.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc_info = record.exc_info
        if exc_info and exc_info[0] is not None:
            frames = "\n".join(
                f"  {_short_path(f.filename)}:{f.lineno} in {f.name}"
                for f in traceback.extract_tb(exc_info[2], limit=30)
            )
            record.exc_text = f"Traceback (frames only):\n{frames}\n{exc_info[0].__name__} (message withheld)"
        return True


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at emit time (test capture, gunicorn redirection)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # logging may try to set it; it always follows sys.stderr
        pass

    def emit(self, record: logging.LogRecord) -> None:
        # StreamHandler.emit minus its repeated property lookups; called under the handler lock.
        try:
            stream = sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def configure_logging(level: str | int | None = None) -> logging.Handler:
    """Put one JSON stderr handler on the ``mgi`` logger (idempotent) and set its level."""
    root = logging.getLogger(LOGGER_ROOT)
    handler = next((h for h in root.handlers if getattr(h, "mgi_json", False)), None)
    if handler is None:
        handler = _StderrHandler()
        handler.setFormatter(JsonFormatter())
        handler.mgi_json = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    level = level if level is not None else os.environ.get(ENV_LOG_LEVEL) or "INFO"
    if isinstance(level, str):
        if logging.getLevelName(level.upper()) not in range(0, 100):
            raise RuntimeError(f"log level {level!r}: expected DEBUG, INFO, WARNING or ERROR")
        level = level.upper()
    root.setLevel(level)
    root.propagate = False
    return handler


def _json_flask_logger(app: Flask, handler: logging.Handler) -> None:
    """Flask logs unhandled exceptions on app.logger: give it the JSON handler instead of its
    default plain-text one (whose traceback would end with the exception message)."""
    flask_logger = app.logger
    if default_handler in flask_logger.handlers:
        flask_logger.removeHandler(default_handler)
    if handler not in flask_logger.handlers:
        flask_logger.addHandler(handler)
    if not any(isinstance(f, WithholdExceptionMessages) for f in flask_logger.filters):
        flask_logger.addFilter(WithholdExceptionMessages())


# --------------------------------------------------------------------------- metrics


class Metrics:
    """The service's Prometheus metrics in their own registry, with label children cached."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        #: Set by the first failed metric write (metrics storage read-only, full, gone): from then on this
        #: process records nothing, so that a metrics fault never touches an answer.
        self.off = False
        self.faults = 0
        self.requests = Counter(
            "mgi_http_requests",
            "HTTP requests answered, by route pattern, method and status.",
            ("route", "method", "status"),
            registry=registry,
        )
        self.latency = Histogram(
            "mgi_http_request_duration_seconds",
            "Time from the first to the last application hook of a request, in seconds.",
            ("route", "method"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.interpretations = Counter(
            "mgi_interpretations",
            "Interpretations returned, by classification code.",
            ("classification",),
            registry=registry,
        )
        self._http_children: dict[tuple[str, str, int], tuple] = {}
        self._interpretation_children: dict[str, Any] = {}  # prometheus_client label children

    def fault(self, exc: BaseException | None, what: str) -> None:
        """Stop recording in this process after a metrics-storage failure; say so once."""
        self.faults += 1
        if self.off:
            return
        self.off = True
        logging.getLogger("mgi.metrics").error(
            "metrics storage failed (%s: %s): this process stops recording metrics; answers are not "
            "affected. Check %s (writable, free space) and restart the service",
            what,
            type(exc).__name__ if exc is not None else "unavailable",
            ENV_MULTIPROC_DIR,
        )

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        if self.off:
            self.faults += 1
            return
        key = (route, method, status)
        try:
            children = self._http_children.get(key)
            if children is None:
                children = (
                    self.requests.labels(route, method, str(status)),
                    self.latency.labels(route, method),
                )
                self._http_children[key] = children
            children[0].inc()
            children[1].observe(seconds)
        except (
            Exception
        ) as exc:  # a read-only or vanished PROMETHEUS_MULTIPROC_DIR: never the answer's problem
            self.fault(exc, "request metrics")

    def count_interpretation(self, code: str, n: int = 1) -> None:
        if self.off:
            self.faults += 1
            return
        try:
            child = self._interpretation_children.get(code)
            if child is None:
                label = str(_plain(code))
                if len(self._interpretation_children) >= _MAX_CLASSIFICATIONS:
                    label = OTHER
                child = self.interpretations.labels(label)
                self._interpretation_children[code] = child
            child.inc(n)
        except Exception as exc:
            self.fault(exc, "interpretation metrics")


# prometheus_client (multiprocess mode) keeps each process's samples in memory-mapped files
# <type>_<pid>.db, created sparse: on a full filesystem (a tmpfs at its size limit), the first write
# to a page that was never allocated kills the process with SIGBUS. Allocating the files' blocks
# before any metric is written turns "full" into an OSError at start (metrics off, answers go on).
# 1 MiB holds this service's bounded label sets (routes x methods x statuses, 64 classifications)
# many times over, so the files never need to grow into unallocated space.
STORAGE_TYPES = ("counter", "histogram")
STORAGE_BYTES = 1 << 20


def prepare_metrics_storage(directory: str, pid: int | None = None) -> None:
    """Allocate this process's metric files in ``directory``; raises OSError if it cannot."""
    pid = os.getpid() if pid is None else pid
    for typ in STORAGE_TYPES:
        path = os.path.join(directory, f"{typ}_{pid}.db")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size < STORAGE_BYTES:
                os.posix_fallocate(fd, 0, STORAGE_BYTES)
        finally:
            os.close(fd)


def storage_writable(directory: str | None) -> bool:
    """Whether a new worker could allocate its metric files there now (scrape-time check)."""
    if not directory:
        return True
    try:
        st = os.statvfs(directory)
    except OSError:
        return False
    read_only = bool(st.f_flag & os.ST_RDONLY)
    free = st.f_bavail * st.f_frsize
    return not read_only and os.access(directory, os.W_OK) and free >= len(STORAGE_TYPES) * STORAGE_BYTES


def count_interpretation(code: str) -> None:
    """Count one interpretation with classification ``code``."""
    count_interpretations({code: 1})


def count_interpretations(counts: Mapping[str, int]) -> None:
    """Count a batch's interpretations, ``counts`` per classification code (one update per code)."""
    metrics = current_app.extensions[EXTENSION].metrics
    for code, n in counts.items():
        metrics.count_interpretation(code, n)


# --------------------------------------------------------------------------- readiness


@dataclass
class ObservabilityState:
    metrics: Metrics
    multiproc_dir: str | None
    ready: bool = False
    handler: logging.Handler | None = field(default=None, repr=False)
    #: Callables yielding metric families computed at scrape time (configuration state, admission).
    status_metrics: list[Callable[[], Iterable[Any]]] = field(default_factory=list)
    #: Further readiness checks, ``() -> (ok, reason)`` (the API keys, ...).
    readiness_checks: list[Callable[[], tuple[bool, str]]] = field(default_factory=list)
    #: ``() -> list[str]``: conditions /readyz reports while ready (a refused configuration reload, ...).
    readiness_warnings: list[Callable[[], list[str]]] = field(default_factory=list)


def mark_ready(app: Flask) -> None:
    """Declare start-up finished: ``/readyz`` may now answer 200 (call last in create_app)."""
    app.extensions[EXTENSION].ready = True


def _error(status: HTTPStatus, message: str):
    body: dict[str, Any] = {"code": status.value, "status": status.phrase, "message": message, "errors": {}}
    response = current_app.json.response(body)
    response.status_code = status.value
    return response


def _readiness(app: Flask, state: ObservabilityState) -> tuple[bool, str]:
    if not state.ready:
        return False, "start-up not finished"
    for extension_check in state.readiness_checks:
        ok, reason = extension_check()
        if not ok:
            return False, reason
    check = app.config.get("READINESS_CHECK")
    if check is None:
        return True, ""
    try:
        result = check()
    except Exception as exc:  # a failing probe means "not ready", never a 500
        logging.getLogger("mgi.readiness").warning(
            "readiness check raised %s", type(exc).__name__, exc_info=True
        )
        return False, f"readiness check failed ({type(exc).__name__})"
    if isinstance(result, tuple):
        ok, reason = result
        return bool(ok), str(reason or "")
    return bool(result), "" if result else "readiness check reported not ready"


class _StatusCollector:
    """Process and configuration state, computed when scraped (never stored in the metric files)."""

    def __init__(self, app: Flask, state: ObservabilityState) -> None:
        self.app = app
        self.state = state

    def collect(self):
        writable = GaugeMetricFamily(
            "mgi_metrics_storage_writable",
            f"1 if {ENV_MULTIPROC_DIR} can take a new worker's metric files (writable, free space).",
            value=1.0 if storage_writable(self.state.multiproc_dir) else 0.0,
        )
        yield writable
        faults = CounterMetricFamily(
            "mgi_metrics_storage_faults",
            "Metric writes skipped by the answering process after its metrics storage failed.",
            value=float(self.state.metrics.faults),
        )
        yield faults
        for extra in self.state.status_metrics:
            yield from extra()


# --------------------------------------------------------------------------- the extension


def init_observability(app: Flask) -> ObservabilityState:
    """Install request ids, JSON access logs, metrics, ``/metrics`` and ``/readyz``.

    Call first in create_app (before ``init_security``), so its ``before_request`` runs before
    any other hook and every response, a 401 included, carries a request id and is logged.
    """
    handler = configure_logging(app.config.get("LOG_LEVEL"))
    _json_flask_logger(app, handler)
    multiproc_dir = os.environ.get(ENV_MULTIPROC_DIR) or None
    if multiproc_dir and values.ValueClass is values.MutexValue:
        raise RuntimeError(
            f"{ENV_MULTIPROC_DIR} was set after prometheus_client was imported: set it in the "
            "environment before the process starts (gunicorn.conf.py / the container environment)"
        )
    metrics = Metrics(CollectorRegistry(auto_describe=True))
    if multiproc_dir:
        try:
            if not os.path.isdir(multiproc_dir):
                raise FileNotFoundError(multiproc_dir)
            prepare_metrics_storage(multiproc_dir)
        except OSError as exc:
            metrics.fault(exc, f"{ENV_MULTIPROC_DIR}={multiproc_dir}")
    state = ObservabilityState(metrics=metrics, multiproc_dir=multiproc_dir, handler=handler)
    app.extensions[EXTENSION] = state

    access_log = logging.getLogger(ACCESS_LOGGER)
    access_name = access_log.name
    observe = metrics.observe_request
    count = metrics.count_interpretation
    id_ok = _REQUEST_ID_RE.fullmatch
    perf_counter = time.perf_counter
    make_record = _AccessRecord
    # The proxied objects themselves, fetched once per hook call instead of once per attribute.
    get_request = request._get_current_object  # type: ignore[attr-defined]
    get_g = g._get_current_object
    INFO, ERROR = logging.INFO, logging.ERROR  # noqa: N806

    mgi_logger = logging.getLogger(LOGGER_ROOT)
    only_ours = [handler]
    formatter = handler.formatter
    # Direct writes copy JsonFormatter's access line: only while the handler still uses one.
    json_formatter = isinstance(formatter, JsonFormatter)
    timestamp = (formatter if isinstance(formatter, JsonFormatter) else JsonFormatter())._timestamp
    lock = cast(threading.RLock, handler.lock)  # Handler.__init__ always creates it

    def direct_write_possible() -> bool:
        """True while the access line's only destination is our JSON handler, untouched (no
        other handler, filter or formatter was added, e.g. by a test's log capture)."""
        return (
            not access_log.handlers
            and not access_log.filters
            and access_log.propagate
            and not access_log.disabled
            and mgi_logger.handlers == only_ours
            and not mgi_logger.propagate
            and not handler.filters
            and json_formatter
            and handler.formatter is formatter
            and handler.level <= INFO
        )

    # The hot path: a few dict reads, two metric updates (label children cached), one log line
    # built from cached JSON fragments (no json.dumps per request), one header appended.
    def start_request():
        gd = get_g().__dict__
        rid = get_request().environ.get("HTTP_X_REQUEST_ID")
        gd["request_id"] = rid if rid is not None and id_ok(rid) else new_request_id()
        gd["mgi_t0"] = perf_counter()

    def finish_request(response):
        now = perf_counter()
        gd = get_g().__dict__
        req = get_request()
        rid = gd.get("request_id")
        if rid is None or not id_ok(rid):  # our hook did not run, or a view replaced the id
            rid = gd["request_id"] = new_request_id()
        t0 = gd.get("mgi_t0")
        seconds = now - t0 if t0 is not None else 0.0
        rule = req.url_rule
        route = rule.rule if rule is not None else None
        method = req.method
        if method not in _METHODS:
            method = OTHER
        status = response.status_code
        observe(route or UNMATCHED_ROUTE, method, status, seconds)
        code = gd.get("classification_code")
        if code is not None and status < 400:
            count(code)
        level = ERROR if status >= 500 else INFO
        if access_log.isEnabledFor(level):
            fields = (
                f'"msg":"request","request_id":"{rid}",'
                f'"key_name":{_json_text(gd.get("api_key_name"))},'
                f'"method":"{method}","route":{_json_text(route)},"status":{status},'
                f'"latency_ms":{seconds * 1000.0:.3f},'
                f'"ruleset_version":{_json_text(gd.get("ruleset_version"))},'
                f'"classification_code":{_json_text(code)}'
            )
            if direct_write_possible():
                # What logging would do here, minus the LogRecord (two dozen attributes) and
                # logging's dispatch: the same line, under the same handler lock, same stream.
                line = (
                    f'{{"ts":"{timestamp(time.time())}",'
                    f'"level":"{"ERROR" if level == ERROR else "INFO"}",'
                    f'"logger":"{ACCESS_LOGGER}",{fields}}}\n'
                )
                lock.acquire()
                try:
                    stream = sys.stderr
                    stream.write(line)
                    stream.flush()
                except Exception:
                    handler.handleError(make_record(access_name, level, fields))
                finally:
                    lock.release()
            else:
                access_log.handle(make_record(access_name, level, fields))
        headers = response.headers
        headers.add(REQUEST_ID_HEADER, rid)
        # Every answer may carry patient data or a page users paste keys into: no cache (browser,
        # proxy) may keep it, and no browser may guess a type other than the declared one.
        headers["Cache-Control"] = "no-store"
        headers["X-Content-Type-Options"] = "nosniff"
        return response

    # Put ours first even if other hooks were registered before init_observability.
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)
    app.after_request(finish_request)

    status_collector = _StatusCollector(app, state)

    def metrics_view():
        registry = metrics.registry
        try:
            if multiproc_dir:
                registry = CollectorRegistry()
                multiprocess.MultiProcessCollector(registry, path=multiproc_dir)
            text = generate_latest(registry)
        except Exception as exc:  # the storage cannot be read: say so to the scraper, nothing else
            logging.getLogger("mgi.metrics").error("metrics cannot be read: %s", type(exc).__name__)
            return _error(
                HTTPStatus.SERVICE_UNAVAILABLE, f"metrics storage cannot be read ({ENV_MULTIPROC_DIR})"
            )
        text += generate_latest(status_collector)
        return app.response_class(text, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def readyz_view():
        ok, reason = _readiness(app, state)
        if not ok:
            return _error(HTTPStatus.SERVICE_UNAVAILABLE, f"not ready: {reason}")
        body: dict[str, Any] = {"status": "ready", "ruleset_version": app.config.get("RULESET_VERSION")}
        warnings = [w for source in state.readiness_warnings for w in source()]
        if warnings:
            body["warnings"] = warnings
        return body

    app.add_url_rule("/metrics", endpoint="mgi_metrics", view_func=metrics_view, methods=["GET"])
    app.add_url_rule("/readyz", endpoint="mgi_readyz", view_func=readyz_view, methods=["GET"])
    return state
