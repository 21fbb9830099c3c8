"""Blueprints: interpretations, ruleset, health. Declarative flask-smorest views, one success
response each; the interpretation is serialised directly (see serialize.py) for speed."""

from __future__ import annotations

import math
from decimal import Decimal
from time import perf_counter
from typing import Any

import orjson
from flask import Response, abort, current_app, g, json, request
from flask.views import MethodView
from flask_smorest import Blueprint as _Blueprint
from gunicorn.http.errors import ParseException as GunicornParseError
from marshmallow import ValidationError

from service.domain import RULESET_VERSION, interpret
from service.domain.panel import Panel
from service.domain.results import Interpretation
from service.domain.ruleset import describe

from . import records
from .admission import admit_batch, batch_deadline, budget_error, retry_after
from .errors import error_body, flatten
from .observability import count_interpretations
from .parsing import StrictParser
from .schemas import (
    AuditOut,
    AuditQuery,
    BatchRequestSchema,
    BatchResponseSchema,
    ErrorSchema,
    HealthSchema,
    InterpretationRequestSchema,
    InterpretationResponseSchema,
    RecordListOut,
    RecordListQuery,
    RecordOut,
    RulesetImpactOut,
    RulesetImpactRequest,
    RulesetSchema,
    StoredInterpretationOut,
)
from .serialize import to_dict


class Blueprint(_Blueprint):
    """flask-smorest blueprint parsing JSON bodies strictly."""

    ARGUMENTS_PARSER = StrictParser()


# One reused schema instance: re-creating it per request costs a third of the throughput.
REQUEST_SCHEMA = InterpretationRequestSchema()
_RULESET_BODY = json.dumps(describe())
_HEALTH_BODY = json.dumps({"status": "ok", "ruleset_version": RULESET_VERSION})

ERRORS = {
    401: "Missing, malformed, unknown or revoked API key.",
    400: "Malformed JSON (duplicate keys, NaN/Infinity, empty body).",
    413: "Body too large.",
    415: "Not application/json.",
    422: "Validation failed; errors names every offending field by dotted path.",
    429: "Too many batches running (for this API key, or in total): not started; send it again after "
    "the Retry-After header's seconds.",
}


def json_errors(view: Any, codes: tuple[int, ...] = (400, 401, 413, 415, 422)) -> Any:
    """Document the error responses every JSON-body endpoint can give (the one error body).

    Documentation only: flask-smorest's ``alt_response`` also wraps the view in a call-through
    wrapper per code, five calls per request that do nothing at run time, so the documentation is
    taken from the wrapped copy and attached to the view itself."""
    documented = view
    for code in codes:
        documented = v1.alt_response(code, schema=ErrorSchema, description=ERRORS[code])(documented)
    view._apidoc = documented._apidoc
    return view


def batch_errors(view: Any) -> Any:
    """json_errors plus the batch endpoint's 429 (admission.py)."""
    return json_errors(view, (400, 401, 413, 415, 422, 429))


v1 = Blueprint(
    "interpretations",
    __name__,
    url_prefix="/v1",
    description="Interpret monoclonal-gammopathy work-ups (IMWG 2014).",
)
ops = Blueprint("operations", __name__, description="Liveness and the ruleset in force.")


def _default(v: Any) -> Any:
    # Only reached for a type orjson does not know; a Decimal is the one the domain could leak.
    if isinstance(v, Decimal):
        f = float(v)
        return f if math.isfinite(f) else None
    raise TypeError(type(v).__name__)


def json_bytes(payload: Any) -> bytes:
    """A JSON-ready value as UTF-8 JSON text, by orjson (strict JSON: non-finite floats become null)."""
    try:
        return orjson.dumps(payload, default=_default)
    except orjson.JSONEncodeError:
        # orjson refuses strings that are not valid UTF-8 (a lone surrogate in an echoed unknown
        # field name); the standard encoder escapes them. Non-finite floats are nulled by _n first.
        return json.dumps(payload, default=_default, allow_nan=False).encode()


def json_response(payload: dict, status: int = 200) -> Response:
    """Serialise a mapping as the response."""
    return Response(json_bytes(payload), status=status, mimetype="application/json")


def interpretation_payload(panel: Panel) -> dict:
    """Interpret a validated panel and record what the access log may say about it."""
    result = interpret(panel)
    g.ruleset_version = result.ruleset_version
    g.classification_code = result.classification.code.value
    return answer_of(result, panel)


def answer_of(result: Interpretation, panel: Panel) -> dict:
    """The answer as the contract gives it: the interpretation, the earlier panels it used (the
    request's own; serial memory replaces the list with the store's and the request's) and its
    ``release`` decided by the laboratory's release policy (contract 1.1)."""
    payload = to_dict(result)
    payload["history_used"] = [
        {"collected_on": on.isoformat(), "source": "request"}
        for on in sorted(h.collected_on for h in panel.history)
    ]
    payload["release"] = current_app.extensions[RELEASE_EXTENSION].decide(payload, panel)
    return payload


RELEASE_EXTENSION = "mgi.release"
UNAVAILABLE = "The records database is unavailable (Retry-After says when to retry)."


@v1.route("/interpretations")
class Interpretations(MethodView):
    """Interpret one panel; list the stored interpretations."""

    @v1.arguments(REQUEST_SCHEMA, location="json")
    @v1.response(200, InterpretationResponseSchema, description="The interpretation (the store is off).")
    @v1.alt_response(
        201,
        schema=StoredInterpretationOut,
        description="The interpretation, stored: its id, and Location /v1/interpretations/{id}. A retry "
        "(the same Idempotency-Key, or the same patient_ref, specimen_id and body) returns the "
        "first one's record again, with Idempotent-Replayed: true.",
    )
    @v1.alt_response(503, schema=ErrorSchema, description=UNAVAILABLE)
    @v1.doc(
        parameters=[
            records.idempotency_parameter(
                "A retry with the same key (and body) returns the same stored record."
            )
        ]
    )
    @json_errors
    def post(self, panel: Panel) -> Response:
        """Interpret one patient's work-up: category, criteria, risk, flags, recommendations."""
        if records.state() is None:
            if "Idempotency-Key" in request.headers:  # checked, though stateless has no retry to match
                checked = records.idempotency_key()
                if isinstance(checked, Response):
                    return checked
            return json_response(interpretation_payload(panel))
        return records.interpret_and_store(panel)

    @v1.arguments(RecordListQuery, location="query", as_kwargs=True)
    @v1.response(200, RecordListOut)
    @v1.alt_response(401, schema=ErrorSchema, description=ERRORS[401])
    @v1.alt_response(405, schema=ErrorSchema, description="The store is off: nothing to list.")
    @v1.alt_response(422, schema=ErrorSchema, description="A query parameter.")
    @v1.alt_response(503, schema=ErrorSchema, description=UNAVAILABLE)
    def get(self, **query: object) -> Response:
        """Stored interpretations, newest first, a page at a time (each one listed is an audited read)."""
        return records.list_view(query)


@v1.route("/interpretations/<string:record_id>")
class InterpretationRecord(MethodView):
    """One stored interpretation."""

    @v1.response(200, RecordOut)
    @v1.alt_response(401, schema=ErrorSchema, description=ERRORS[401])
    @v1.alt_response(404, schema=ErrorSchema, description="No such record (or the store is off).")
    @v1.alt_response(503, schema=ErrorSchema, description=UNAVAILABLE)
    def get(self, record_id: str) -> Response:
        """The stored request (canonical, no patient_ref), the answer, its provenance; an audited read."""
        return records.get_view(record_id)


@v1.route("/audit")
class Audit(MethodView):
    """Who read which stored interpretation, when."""

    @v1.arguments(AuditQuery, location="query", as_kwargs=True)
    @v1.response(200, AuditOut)
    @v1.alt_response(401, schema=ErrorSchema, description=ERRORS[401])
    @v1.alt_response(404, schema=ErrorSchema, description="The store is off.")
    @v1.alt_response(422, schema=ErrorSchema, description="A query parameter.")
    @v1.alt_response(503, schema=ErrorSchema, description=UNAVAILABLE)
    def get(self, **query: object) -> Response:
        """The audit trail of reads (GET by id and list rows), newest first."""
        return records.audit_view(query)


# What reading a malformed request body raises: gunicorn's parser errors (InvalidChunkSize,
# ChunkMissingTerminator...; NoMoreData is an OSError), werkzeug's own chunked reader a ValueError.
BODY_READ_ERRORS = (GunicornParseError, ValueError, OSError)

# A batch of 1,000 full panels with history stays well under 8 MiB; single requests keep the
# app-wide limit (create_app's MAX_CONTENT_LENGTH).
BATCH_MAX_BYTES = 8 * 1024 * 1024
# History entries across a batch. A refused entry costs ~130 us to validate and report (a valid one a
# few): 1,000 items of 50 malformed entries (3 MB) took 6.5 s and answered 13.6 MB, past the worker
# timeout under load. An archive batch carries a few earlier results per patient; 5,000 bounds the
# worst case near 0.7 s.
MAX_BATCH_HISTORY = 5000
# JSON object keys across a batch: the bench mix has ~86 a panel (127 with three history entries), so
# 1,000 full panels with a few history entries each stay well inside 250,000, which bounds the worst
# case (every key unknown, inside history entries) near 3 s.
MAX_BATCH_KEYS = 250_000
BATCH_CHUNK = 8  # items per stage in a batch (see InterpretationsBatch.post)


@v1.before_request
def _body_limits() -> None:
    if request.endpoint == "interpretations.InterpretationsBatch":
        request.max_content_length = BATCH_MAX_BYTES
    if request.method != "POST":
        return
    # RFC 9110 §8.4: a content coding the server does not apply is a 415; read as it is, a gzip body
    # would be "not UTF-8" and a "gzip" label on a plain body would be silently ignored.
    coding = request.headers.get("Content-Encoding", "").strip().lower()
    if coding not in ("", "identity"):
        abort(415, description=f"Content-Encoding {coding[:32]!r} is not supported: send the body unencoded")
    # The body is read here, once (the views get it from the cache), so that no body is ever
    # interpreted unless it arrived whole.
    declared = request.content_length
    limit = request.max_content_length
    raw = request.environ.get("wsgi.input")
    try:
        data = request.get_data(cache=True)
        # A chunked body has no Content-Length: the server's reader stops at the limit, so a body that
        # reaches it is checked for one more byte — an oversized body is a 413, never a truncated one.
        over = (
            declared is None and limit is not None and len(data) >= limit and raw is not None and raw.read(1)
        )
    except BODY_READ_ERRORS:
        # The server's reader refused the body (a chunk size that is not hex, a missing CRLF, a bad
        # trailer): the client's framing, so a 400, not a 500.
        abort(
            400,
            description="the request body could not be read: malformed chunked transfer "
            "encoding or a broken connection",
        )
    if over:
        abort(413)
    if declared is not None and len(data) < declared:
        # The client closed its side before sending its whole Content-Length: a cut HL7 message, say,
        # would lose its last results.
        abort(
            400,
            description=f"the request body ended after {len(data)} of the {declared} bytes its "
            "Content-Length announced",
        )
    if request.endpoint == "interpretations.InterpretationsBatch" and data.count(b":") > MAX_BATCH_KEYS:
        # Every object key needs a colon (a colon inside a string over-counts, never under-counts), and
        # validating, reporting and answering costs grow with the keys: ~13 us for each unknown key
        # in a history entry, so 8 MB of them (1.5 M keys) ran past the worker timeout.
        abort(
            413,
            description=f"more than {MAX_BATCH_KEYS:,} JSON keys in one batch (split the archive into "
            "smaller batches)",
        )


@v1.before_request
def _admit_batch() -> Response | None:
    """A batch or a ruleset-impact run takes its slots (admission.py) once its body has arrived whole,
    before it is parsed: a refused one costs a read and a 429, and the client is never cut off
    mid-body."""
    if request.method != "POST":
        return None
    if request.endpoint == "interpretations.InterpretationsBatch":
        return admit_batch(g.get("api_key_name"))
    if request.endpoint == "interpretations.RulesetImpact":
        # A run re-interprets up to 20,000 stored panels: batch work, under the same slots.
        return admit_batch(g.get("api_key_name"), "ruleset impact")
    return None


@v1.route("/interpretations/batch")
class InterpretationsBatch(MethodView):
    """Interpret many panels in one request."""

    @v1.arguments(BatchRequestSchema, location="json")
    @v1.response(200, BatchResponseSchema)
    @batch_errors
    def post(self, body: dict) -> Response:
        """Up to 1,000 panels: one result or one error body per item, in order.

        A batch takes no Idempotency-Key header (a 422 naming it): each item is recognised as a retry
        on its own (the same patient_ref, specimen_id and body)."""
        refused = records.no_key_on_batch()
        if refused is not None:
            return refused
        # Items go through in chunks of BATCH_CHUNK, one stage at a time (load the chunk, interpret it,
        # serialise it): each stage's code and data then stay in the CPU caches across the chunk, which
        # measured ~10 % less time per item than item by item (bench/README.md). Chunks stay small, so a
        # batch of 1,000 never holds more than a few answer trees at once (memory, and less for the
        # cyclic GC to walk), and the body is the same JSON the one-shot serialisation would give.
        items = body["items"]
        entries = sum(len(h) for it in items if type(it) is dict and type(h := it.get("history")) is list)
        if entries > MAX_BATCH_HISTORY:
            abort(
                413,
                description=f"{entries} history entries in one batch: at most {MAX_BATCH_HISTORY:,} "
                "(split the archive into smaller batches)",
            )
        if records.state() is not None:
            return records.batch_items(items)
        parts: list[bytes] = []
        ok = 0
        codes: dict[str, int] = {}  # counted once per batch: a metrics update per item costs ~3 us
        deadline = batch_deadline()
        stopped: int | None = None
        for start in range(0, len(items), BATCH_CHUNK):
            if perf_counter() > deadline:  # the time budget (admission.py): start no new item
                stopped = start
                break
            loaded: list[tuple[int, Panel | ValidationError]] = []
            for i in range(start, min(start + BATCH_CHUNK, len(items))):
                item, items[i] = items[i], None  # the parsed item is not needed once loaded
                try:
                    loaded.append((i, REQUEST_SCHEMA.load(item)))
                except ValidationError as e:
                    loaded.append((i, e))
            done = [(i, p, p if isinstance(p, ValidationError) else interpret(p)) for i, p in loaded]
            del loaded
            for i, panel, result in done:
                if isinstance(result, ValidationError):
                    parts.append(
                        json_bytes(
                            {
                                "index": i,
                                "status": 422,
                                "error": error_body(422, None, flatten(result.messages)),
                            }
                        )
                    )
                    continue
                code = result.classification.code
                codes[code] = codes.get(code, 0) + 1
                assert isinstance(panel, Panel)
                answer = answer_of(result, panel)
                parts.append(json_bytes({"index": i, "status": 200, "interpretation": answer}))
                ok += 1
        if stopped is not None:
            # One result per item not started, each the standard error body (status 503): the batch
            # keeps its shape, and the client sends these items again.
            error = json_bytes(budget_error(stopped))
            parts.extend(
                b'{"index":%d,"status":503,"error":%s}' % (i, error) for i in range(stopped, len(items))
            )
        count_interpretations(codes)
        g.ruleset_version = RULESET_VERSION
        head = json_bytes(
            {
                "ruleset_version": RULESET_VERSION,
                "count": len(parts),
                "succeeded": ok,
                "failed": len(parts) - ok,
            }
        )
        response = Response(
            b"".join((head[:-1], b',"results":[', b",".join(parts), b"]}")), mimetype="application/json"
        )
        if stopped is not None:
            response.headers["Retry-After"] = str(retry_after())
        return response


@v1.route("/ruleset-impact")
class RulesetImpact(MethodView):
    """What the ruleset in force would change in the stored answers."""

    @v1.arguments(RulesetImpactRequest, location="json")
    @v1.response(200, RulesetImpactOut)
    @v1.alt_response(404, schema=ErrorSchema, description="The store is off.")
    @v1.alt_response(503, schema=ErrorSchema, description=UNAVAILABLE)
    @batch_errors
    def post(self, body: dict) -> Response:
        """Re-interpret stored panels and count (and list) those whose category, flags or risk group
        would change; streamed as it goes, next_cursor continues a long run.

        A run is batch work: it takes a batch slot (429 with Retry-After when none is free) and stops
        at the batch time budget (``stopped`` is then ``time_budget``; next_cursor continues)."""
        return records.impact_view(body)


@v1.route("/ruleset")
class Ruleset(MethodView):
    """The ruleset in force."""

    @v1.response(200, RulesetSchema)
    @v1.alt_response(401, schema=ErrorSchema, description=ERRORS[401])
    @v1.alt_response(422, schema=ErrorSchema, description="A query parameter (none is taken).")
    def get(self) -> Response:
        """Version, every rule id with its thresholds and citation."""
        return Response(_RULESET_BODY, mimetype="application/json")


@ops.route("/healthz")
class Health(MethodView):
    """Liveness."""

    @ops.response(200, HealthSchema)
    @ops.doc(security=[])
    def get(self) -> Response:
        """Liveness, with the ruleset version."""
        return Response(_HEALTH_BODY, mimetype="application/json")
