"""LIS interoperability endpoints: HL7 v2.5.1 ORU^R01 and FHIR R4 (adapters in service/adapters).

Both translate into the JSON request body and go through the same request schema and engine as
POST /v1/interpretations, so every interface gives the same interpretation for the same data.

Errors, chosen for interface engines:
- HL7 v2: the body of every error is an HL7 ACK the engine can file — MSA-1 AR (message rejected:
  unparseable, not ORU^R01, unsupported version; HTTP 400) or AE (content error: unknown unit, a
  wrong LOINC code, an IFE text not understood; HTTP 422), with ERR naming the segment and field.
  A wrong Content-Type, an oversized body or a message of more than hl7v2.MAX_SEGMENTS segments (or
  hl7v2.MAX_REPEATS repetitions and subcomponents) gets the standard JSON error body (415 / 413).
- FHIR: an OperationOutcome (HTTP 400 for malformed JSON is the standard body; 422 for a bundle
  that does not validate or translate).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, abort, current_app, g, has_app_context, json, request
from flask.views import MethodView
from marshmallow import ValidationError

from service.adapters import fhir, hl7v2
from service.adapters.codes import CodeMap, json_float, load_codemap
from service.adapters.release import REVIEW_REQUIRED, result_status_fhir, result_status_hl7

from . import records
from .errors import flatten
from .parsing import check_charset, parse_body, require_mimetype
from .schemas import ErrorSchema
from .views import ERRORS, REQUEST_SCHEMA, UNAVAILABLE, v1

log = logging.getLogger("mgi.interop")
EXTENSION = "mgi.codemap"
HL7_TYPES = ("x-application/hl7-v2+er7", "text/plain", "application/hl7-v2")
HL7_MIME = "x-application/hl7-v2+er7"
FHIR_MIME = "application/fhir+json"
# Errors raised before an adapter reads the body (query parameters, an unreadable body) have the
# standard JSON body, beside the endpoint's own HL7 ACK or OperationOutcome.
STANDARD_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
# What the OpenAPI document can say of the bodies (the adapters check the rest).
HL7_BODY = {
    "type": "string",
    "pattern": "^(MSH|FHS|BHS)\\|",
    "description": "An ER7 ORU^R01 message (segments ended by CR, LF or CRLF), at most "
    f"{hl7v2.MAX_SEGMENTS} segments; or a batch file (FHS/BHS ... BTS/FTS) of at most "
    f"{hl7v2.MAX_BATCH_MESSAGES} messages and {hl7v2.MAX_BATCH_SEGMENTS} segments",
}
FHIR_BUNDLE = {
    "type": "object",
    "description": "A FHIR R4 Bundle of Observations, an optional Patient and Conditions",
    "required": ["resourceType", "type", "entry"],
    "properties": {
        "resourceType": {"const": "Bundle"},
        "type": {"enum": list(fhir.BUNDLE_TYPES)},
        "entry": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {"resource": {"type": "object", "required": ["resourceType"]}},
            },
        },
    },
}


def init_interop(app: Flask) -> None:
    """Load and validate the code mapping once; a bad mapping file stops start-up."""
    app.extensions[EXTENSION] = load_codemap(app.config.get("CODEMAP_FILE"))
    app.after_request(_hl7_refusals_as_ack)


HL7_PATH = "/v1/hl7v2"


def _hl7_refusals_as_ack(response: Response) -> Response:
    """An HL7 sender files ACKs, not JSON: a refused authentication on the HL7 endpoint (401, from
    the API-key check before the view) keeps its status and headers, with an ACK AR as its body."""
    if response.status_code != 401 or request.path.rstrip("/") != HL7_PATH or response.mimetype == HL7_MIME:
        return response
    message = "authentication required"
    body = response.get_json(silent=True)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        message = body["message"]
    raw = request.get_data(cache=True) if request.content_length and request.content_length <= 65536 else b""
    refusal = hl7v2.Hl7Error(message, hl7_code=207, ack_code="AR")
    response.set_data(hl7v2.build_ack(raw, error=refusal))
    response.mimetype = HL7_MIME
    return response


def _release_of(interpretation: dict[str, Any]) -> str:
    """The release status of an answer sent now (a missing one is held for review)."""
    return (interpretation.get("release") or {}).get("status", REVIEW_REQUIRED)


def _codemap() -> CodeMap:
    return current_app.extensions[EXTENSION]


def _storing() -> bool:
    """The records store is on for this app (the message's identity is then read for it)."""
    return has_app_context() and records.state() is not None


@dataclass(frozen=True, slots=True)
class StoredAs:
    """How a translated message is stored: the identity read from it (patient_ref, specimen_id)
    and its retry key."""

    identity: dict[str, str]
    retry_key: str | None
    # The retry key is the client's Idempotency-Key header (a key used for another body is a 422),
    # not one read from the message.
    from_header: bool = False
    # With the header: the message's own retry key (sender, control ID and bytes; Bundle identifier
    # and bytes), which names the record of the message sent without the header.
    own_key: str | None = None


def _interpret_dict(
    body: dict[str, Any], source: str, stored: StoredAs | None, input_notes: list[str] | None = None
) -> dict[str, Any]:
    """Interpret a translated request; with ``stored`` (the store is on), store it in its canonical
    JSON form with the message's identity added to it, and what the reading noted (``input_notes``:
    laboratory comments carried, results left out) with the record's answer for its reviewers."""
    from .views import interpretation_payload

    if stored is None:
        return interpretation_payload(REQUEST_SCHEMA.load(body))
    body = {**body, **stored.identity}
    return records.store_translated(
        REQUEST_SCHEMA.load(body),
        body,
        source,
        stored.retry_key,
        from_header=stored.from_header,
        own_key=stored.own_key,
        input_notes=input_notes,
    )


def _hl7(text: str, status: int) -> Response:
    return Response(text, status=status, mimetype=HL7_MIME)


@dataclass(frozen=True, slots=True)
class Hl7Outcome:
    """What one ER7 message came to: the HTTP status, the ER7 reply (ORU^R01 or ACK), the answer."""

    status: int
    reply: str
    interpretation: dict[str, Any] | None = None
    context: hl7v2.OruContext | None = None

    @property
    def ack_code(self) -> str:
        return "AA" if self.status == 200 else ("AR" if self.status == 400 else "AE")


def process_hl7(raw: bytes | str, codemap: CodeMap, idempotency_key: str | None = None) -> Hl7Outcome:
    """Read one ORU^R01 and interpret it: the one reading path of every HL7 v2 transport.

    ``idempotency_key``: the HTTP Idempotency-Key header, the stored record's retry key instead of the
    message's own (sender, control ID and bytes), which still names the record of the message sent
    without the header; records.IdempotencyConflict when it was used for another body.

    Raises hl7v2.MessageTooLarge (the caller's 413); every other failure is an ACK (AR or AE) that
    also lists, as information ERRs, what the reading had ignored. The code map is chosen per sender
    (MSH-3/MSH-4) from ``codemap.senders``. Needs an application context (the request schema and the
    answer's encoding are the app's).
    """
    try:
        ctx = hl7v2.parse_oru(raw, codemap)
    except hl7v2.MessageTooLarge:
        raise
    except hl7v2.Hl7Error as e:
        return Hl7Outcome(
            400 if e.ack_code == "AR" else 422, hl7v2.build_ack(raw, e.ack_code, str(e), error=e)
        )
    except Exception as e:  # noqa: BLE001 - any parser failure is a rejected message, never a 500
        log.info("hl7 message rejected: %s", type(e).__name__)
        return Hl7Outcome(400, hl7v2.build_ack(raw, "AR", "message cannot be parsed as HL7 v2 ER7"))
    stored = None
    if _storing():
        identity, identity_notes = hl7v2.record_identity(ctx)
        ctx.notes.extend(identity_notes)
        own_key = hl7v2.retry_key(ctx, raw)
        if idempotency_key is not None:
            stored = StoredAs(identity, idempotency_key, from_header=True, own_key=own_key)
        else:
            stored = StoredAs(identity, own_key)
    try:
        interpretation = _interpret_dict(ctx.request, "hl7", stored, ctx.notes)
    except ValidationError as e:
        err = hl7v2.validation_error(flatten(e.messages), ctx)
        ack = hl7v2.build_ack(ctx, "AE", err.message, error=err, notes=ctx.notes)
        return Hl7Outcome(422, ack, None, ctx)
    reply = hl7v2.build_oru_response(
        ctx, interpretation, result_status=result_status_hl7(_release_of(interpretation))
    )
    return Hl7Outcome(200, reply, interpretation, ctx)


@dataclass(frozen=True, slots=True)
class Hl7BatchOutcome:
    """What an HL7 batch file came to: one outcome per message (in file order), the batch reply."""

    status: int
    reply: str
    outcomes: tuple[Hl7Outcome, ...] = ()

    @property
    def ack_code(self) -> str:
        """AA when every message was accepted, AR when the file could not be read, else AE."""
        if self.status == 400:
            return "AR"
        return "AA" if all(o.status == 200 for o in self.outcomes) else "AE"


def process_hl7_batch(raw: bytes | str, codemap: CodeMap) -> Hl7BatchOutcome:
    """Read an HL7 batch file (FHS/BHS ... BTS/FTS) message by message, each with ``process_hl7``.

    The reply is a batch: FHS and BHS naming the sender's file and batch control IDs (FHS-12, BHS-12)
    and the batch's outcome (BHS-10, BTS-2); per message its ACK (AA, AE or AR, MSA-2 its MSH-10) and,
    when accepted, the ORU^R01 carrying its interpretation; BTS-1 and FTS-1 the counts. A message
    too large is that message's AR; a file that is not a batch is one ACK AR (status 400).
    """
    try:
        batch_file = hl7v2.split_batch(raw)
    except hl7v2.Hl7Error as e:
        return Hl7BatchOutcome(400, hl7v2.build_ack(raw, "AR", str(e), error=e))
    outcomes: list[Hl7Outcome] = []
    replies: list[list[str]] = []
    summaries: list[str] = []
    for part in batch_file.batches:
        part_replies: list[str] = []
        accepted = 0
        for message in part.messages:
            try:
                outcome = process_hl7(message, codemap)
            except hl7v2.MessageTooLarge as e:
                outcome = Hl7Outcome(413, hl7v2.build_ack(message, "AR", str(e)))
            outcomes.append(outcome)
            if outcome.status == 200 and outcome.context is not None:
                accepted += 1
                part_replies.append(hl7v2.build_ack(outcome.context, "AA"))
            part_replies.append(outcome.reply)
        summaries.append(
            f"{'AA' if accepted == len(part.messages) else 'AE'}: {accepted} of {len(part.messages)} "
            "messages accepted"
        )
        replies.append(part_replies)
    notes = hl7v2.batch_count_notes(batch_file)
    total = len(outcomes)
    accepted_all = sum(o.status == 200 for o in outcomes)
    comment = "; ".join([f"{accepted_all} of {total} messages accepted", *notes])
    reply = hl7v2.build_batch_reply(batch_file, replies, summaries, comment)
    return Hl7BatchOutcome(200, reply, tuple(outcomes))


@v1.route("/hl7v2")
class Hl7v2(MethodView):
    """HL7 v2.5.1 ORU^R01 in, ORU^R01 with the interpretation out."""

    @v1.doc(
        parameters=[
            records.idempotency_parameter(
                "With the records store on, a message sent again with the same key is the same record "
                "(without it, the message's sender, control ID and bytes identify a resend). Not taken "
                "with a batch file (422)."
            )
        ],
        requestBody={"required": True, "content": {t: {"schema": HL7_BODY} for t in HL7_TYPES}},
        responses={
            "200": {
                "description": "ORU^R01 carrying the interpretation as OBX/NTE segments; for a batch "
                "file, a batch (FHS/BHS ... BTS/FTS) with each message's ACK and, when accepted, its "
                "ORU^R01",
                "content": {HL7_MIME: {"schema": {"type": "string"}}},
            },
            "400": {
                "description": "ACK with MSA-1 AR: the message was rejected; or, before any HL7 is "
                "read, the standard error body (a body cut short of its "
                "Content-Length, malformed chunked framing)",
                "content": {HL7_MIME: {"schema": {"type": "string"}}, **STANDARD_ERROR},
            },
            "422": {
                "description": "ACK with MSA-1 AE: content error (code, unit, value); or the "
                "standard error body for a query parameter or the Idempotency-Key header",
                "content": {HL7_MIME: {"schema": {"type": "string"}}, **STANDARD_ERROR},
            },
            "401": {
                "description": ERRORS[401] + " The body is an ACK with MSA-1 AR (an HL7 sender files "
                "ACKs); WWW-Authenticate as on every endpoint.",
                "content": {HL7_MIME: {"schema": {"type": "string"}}},
            },
        },
    )
    @v1.alt_response(413, schema=ErrorSchema, description=ERRORS[413])
    @v1.alt_response(503, schema=ErrorSchema, description=UNAVAILABLE)
    @v1.alt_response(415, schema=ErrorSchema, description="Not an HL7 v2 ER7 content type.")
    def post(self) -> Response:
        """Interpret an ORU^R01 message (ER7), or an HL7 batch file (FHS/BHS ... BTS/FTS)."""
        if request.mimetype not in HL7_TYPES:
            abort(415, description=f"Content-Type must be one of {', '.join(HL7_TYPES)}")
        raw = request.get_data(cache=True)
        key = records.idempotency_key()
        if isinstance(key, Response):
            return key
        batch = hl7v2.is_batch(raw)
        if batch and (refused := records.no_key_on_batch()) is not None:
            return refused
        try:
            outcome: Hl7Outcome | Hl7BatchOutcome = (
                process_hl7_batch(raw, _codemap()) if batch else process_hl7(raw, _codemap(), key)
            )
        except hl7v2.MessageTooLarge as e:
            abort(413, description=str(e))
        except records.IdempotencyConflict:
            return records.idempotency_conflict()
        reply = _hl7(outcome.reply, outcome.status)
        return reply if batch else _replayed(reply)


@v1.route("/fhir/interpretations")
class FhirInterpretations(MethodView):
    """FHIR R4 Bundle of Observations (and Patient, Conditions) in, DiagnosticReport out."""

    @v1.doc(
        parameters=[
            records.idempotency_parameter(
                "With the records store on, a Bundle sent again with the same key is the same record "
                "(without it, the Bundle's identifier and bytes identify a resend)."
            )
        ],
        requestBody={
            "required": True,
            "content": {FHIR_MIME: {"schema": FHIR_BUNDLE}, "application/json": {"schema": FHIR_BUNDLE}},
        },
        responses={
            "200": {
                "description": "DiagnosticReport (conclusion = narrative, conclusionCode = "
                "classification, contained Observations for risk and flags)",
                "content": {FHIR_MIME: {"schema": {"type": "object"}}},
            },
            "422": {
                "description": "OperationOutcome naming each problem; or the standard error body "
                "for a query parameter or the Idempotency-Key header",
                "content": {FHIR_MIME: {"schema": {"type": "object"}}, **STANDARD_ERROR},
            },
        },
    )
    @v1.alt_response(400, schema=ErrorSchema, description=ERRORS[400])
    @v1.alt_response(401, schema=ErrorSchema, description=ERRORS[401])
    @v1.alt_response(413, schema=ErrorSchema, description=ERRORS[413])
    @v1.alt_response(503, schema=ErrorSchema, description=UNAVAILABLE)
    @v1.alt_response(415, schema=ErrorSchema, description=ERRORS[415])
    def post(self) -> Response:
        """Interpret a FHIR R4 Bundle."""
        require_mimetype(request, (FHIR_MIME, "application/json"))
        check_charset(request)
        key = records.idempotency_key()
        if isinstance(key, Response):
            return key
        # Numbers with more digits than a float keeps are refused at their element by the reader.
        bundle = parse_body(request.get_data(cache=True), json_float)
        try:
            if not isinstance(bundle, dict):
                raise fhir.FhirError("the body must be a FHIR Bundle resource (a JSON object)")
            tr = fhir.translate_bundle(bundle, _codemap())
            stored = None
            if _storing():
                identity, identity_notes = fhir.record_identity(bundle)
                tr.notes.extend(identity_notes)
                own_key = fhir.bundle_retry_key(bundle, request.get_data(cache=True))
                if key is not None:
                    stored = StoredAs(identity, key, from_header=True, own_key=own_key)
                else:
                    stored = StoredAs(identity, own_key)
            interpretation = _interpret_dict(tr.request, "fhir", stored, tr.notes)
        except records.IdempotencyConflict:
            return records.idempotency_conflict()
        except fhir.FhirError as e:
            return _fhir(e.operation_outcome(), e.status)
        except ValidationError as e:
            outcome = fhir.operation_outcome(flatten(e.messages), 422, sources=tr.sources, notes=tr.notes)
            return _fhir(outcome, 422)
        return _replayed(
            _fhir(
                fhir.interpretation_to_diagnostic_report(
                    interpretation,
                    bundle,
                    input_notes=tr.notes,
                    status=result_status_fhir(_release_of(interpretation)),
                    request_id=g.get("request_id"),
                ),
                200,
            )
        )


def _replayed(resp: Response) -> Response:
    """Idempotent-Replayed: true when the stored record is an earlier one (a retry), as for JSON."""
    if g.get("record_replayed"):
        resp.headers["Idempotent-Replayed"] = "true"
    return resp


def _fhir(resource: dict[str, Any], status: int) -> Response:
    return Response(json.dumps(resource), status=status, mimetype=FHIR_MIME)
