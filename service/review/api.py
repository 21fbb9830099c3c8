"""The review endpoints of the /v1 API (API keys, as every /v1 path; never a console session):

- ``POST /v1/interpretations/{id}/reviews``: a sign-off (contract 1.1 body), 201;
- ``GET /v1/reports/agreement?since=…``: how often reviewers amended, by category, flag and rule;
- ``GET /v1/interpretations/{id}/hl7`` and ``/fhir``: the answer as released, as an HL7 v2 ORU^R01
  (OBR-25 and every OBX-11: P while a review is pending, F final, C amended) or a FHIR
  DiagnosticReport (status preliminary, final or amended).
"""

from __future__ import annotations

import os
from typing import Any

from flask import Response, current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import ValidationError, fields, validate, validates_schema

from service.adapters import fhir, hl7v2
from service.adapters.release import result_status_fhir, result_status_hl7
from service.api import records
from service.api.errors import error_response
from service.api.parsing import StrictParser, parse_body
from service.api.schemas import (
    ErrorSchema,
    QuerySchema,
    SinceField,
    StrictSchema,
    _Open,
    not_blank,
    plain_text,
    printable,
)
from service.domain.results import Code
from service.store import canonical_hash

from . import store as reviews


class _Blueprint(Blueprint):
    ARGUMENTS_PARSER = StrictParser()


api = _Blueprint(
    "reviews",
    __name__,
    url_prefix="/v1",
    description="Sign-off of stored interpretations and how often reviewers change them.",
)

UNAVAILABLE = "The records database is unavailable (Retry-After says when to retry)."
CODES = [c.value for c in Code]
MAX_TEXT = 10_000


class ReviewIn(StrictSchema):
    """A sign-off: approve the answer as it is, or amend it (a new comment and/or classification) with
    the reason."""

    decision = fields.String(required=True, validate=validate.OneOf(["approve", "amend"]))
    reviewer = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=128),
            printable("Must not be blank: send the reviewer's name (who signs the answer off)."),
        ],
    )
    comment = fields.String(
        validate=[
            validate.Length(min=1, max=MAX_TEXT),
            not_blank("Must not be blank: send the corrected comment, or leave comment out."),
            plain_text,
        ]
    )
    classification_code = fields.String(validate=validate.OneOf(CODES))
    reason = fields.String(
        validate=[
            validate.Length(min=1, max=MAX_TEXT),
            not_blank("Must not be blank: send the reason for the amendment."),
            plain_text,
        ]
    )

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("decision") == "amend":
            errors: dict[str, list[str]] = {}
            if not data.get("reason"):
                errors["reason"] = ["An amendment needs its reason."]
            if data.get("comment") is None and data.get("classification_code") is None:
                errors["comment"] = ["An amendment changes the comment or the classification_code."]
            elif data.get("comment") is None:
                # The released comment would still describe the former category beside the new one.
                errors["comment"] = [
                    "A new classification_code needs the comment rewritten to match it: the released "
                    "comment would otherwise still describe the former category."
                ]
            if errors:
                raise ValidationError(errors)
        elif data.get("decision") == "approve":
            # Approval releases the answer as it is: a new comment or classification is an amendment.
            errors = {
                name: ["Approval releases the answer as it is: use decision 'amend', with the reason."]
                for name in ("comment", "classification_code")
                if data.get(name) is not None
            }
            if errors:
                raise ValidationError(errors)


class ReviewOut(_Open):
    id = fields.String(required=True, metadata={"description": "The interpretation's id."})
    status = fields.String(required=True, validate=validate.OneOf(["reviewed", "amended"]))
    review = fields.Dict(required=True)
    location = fields.String(required=True)


class AgreementQuery(QuerySchema):
    since = SinceField(metadata={"description": "Reviews at or after (YYYY-MM-DD or a date-time with zone)."})


class AgreementRow(_Open):
    reviewed = fields.Integer(required=True)
    amended = fields.Integer(required=True)
    amended_rate = fields.Float(required=True)
    amended_cases = fields.List(fields.String(), required=True)


class AgreementOut(_Open):
    since = fields.String(allow_none=True, required=True)
    reviewed = fields.Integer(required=True)
    amended = fields.Integer(required=True)
    amended_rate = fields.Float(allow_none=True, required=True)
    by_category = fields.List(fields.Nested(AgreementRow), required=True)
    by_flag = fields.List(fields.Nested(AgreementRow), required=True)
    by_rule = fields.List(fields.Nested(AgreementRow), required=True)


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    from service.api.views import json_response

    return json_response(payload, status)


ENV_REVIEW_API_KEYS = "MGI_REVIEW_API_KEYS"


def signing_keys() -> frozenset[str] | None:
    """The API keys that may sign answers off (MGI_REVIEW_API_KEYS: comma-separated key names; "none"
    for none, sign-off only in the review console); None (unset): every key."""
    raw = current_app.config.get("REVIEW_API_KEYS")
    if raw is None:
        raw = os.environ.get(ENV_REVIEW_API_KEYS)
    if raw is None:
        return None
    names = [n.strip() for n in str(raw).split(",") if n.strip()]
    return frozenset() if names == ["none"] else frozenset(names)


@api.route("/interpretations/<string:record_id>/reviews")
class Reviews(MethodView):
    @api.arguments(ReviewIn, location="json")
    @api.response(
        201,
        ReviewOut,
        description="The review recorded; a retry with the same Idempotency-Key and body answers the first "
        "review again, with Idempotent-Replayed: true.",
    )
    @api.doc(
        parameters=[
            records.idempotency_parameter(
                "A retried sign-off with the same key (of the same API key) and body returns the review the "
                "first one recorded instead of recording another; the key with another body, or for another "
                "interpretation, is a 422."
            )
        ]
    )
    @api.alt_response(401, schema=ErrorSchema, description="Missing, malformed, unknown or revoked API key.")
    @api.alt_response(
        403,
        schema=ErrorSchema,
        description="The API key is not one MGI_REVIEW_API_KEYS lets sign answers off.",
    )
    @api.alt_response(404, schema=ErrorSchema, description="No such record (or the store is off).")
    @api.alt_response(422, schema=ErrorSchema, description="Validation failed.")
    @api.alt_response(503, schema=ErrorSchema, description=UNAVAILABLE)
    def post(self, body: dict[str, Any], record_id: str) -> Response:
        """Sign off a stored interpretation: approve it (status reviewed) or amend it (status amended)."""
        st = records.state()
        if st is None:
            return records.not_kept()
        allowed = signing_keys()
        name = g.get("api_key_name")
        if allowed is not None and name is not None and name not in allowed:
            # The reviewer's name is the one the key's system sends: only keys of systems that
            # authenticate their reviewers may sign off (sign-off in the console needs an account).
            return error_response(
                403,
                f"the API key '{name}' may not sign answers off: sign off in the review console, or add the "
                "key to MGI_REVIEW_API_KEYS",
            )
        key = records.idempotency_key()
        if isinstance(key, Response):
            return key
        try:
            done = reviews.add_review(
                st.store,
                record_id,
                decision=body["decision"],
                reviewer=body["reviewer"],
                comment=body.get("comment"),
                classification_code=body.get("classification_code"),
                reason=body.get("reason"),
                via="api",
                api_key_name=g.get("api_key_name"),
                idempotency_key=key,
                # The body as sent (the schema accepted it), so that a retry is recognised as such.
                request_hash=canonical_hash(parse_body(request.get_data(cache=True))) if key else None,
            )
        except reviews.NothingAmended as e:
            # Compared with the answer as it stands under the record's lock: an amendment repeating
            # it (sent twice, or the released text sent back) would report a correction there is not.
            return error_response(422, None, e.errors)
        except reviews.ReviewKeyConflict as e:
            if not e.other_record:
                return records.idempotency_conflict()
            return error_response(
                422,
                "this Idempotency-Key was used for a sign-off of another interpretation",
                {"header.Idempotency-Key": ["Already used for a sign-off of another interpretation."]},
            )
        if done is None:
            return error_response(404, "No stored interpretation has this id.")
        review, status, replayed = done
        resp = _json(
            {
                "id": record_id,
                "status": status,
                "review": review.as_json(),
                "location": f"/v1/interpretations/{record_id}",
            },
            201,
        )
        resp.headers["Location"] = f"/v1/interpretations/{record_id}"
        if replayed:
            resp.headers["Idempotent-Replayed"] = "true"
        return resp


@api.route("/reports/agreement")
class Agreement(MethodView):
    @api.arguments(AgreementQuery, location="query", as_kwargs=True)
    @api.response(200, AgreementOut)
    @api.alt_response(401, schema=ErrorSchema, description="Missing, malformed, unknown or revoked API key.")
    @api.alt_response(404, schema=ErrorSchema, description="The store is off.")
    @api.alt_response(422, schema=ErrorSchema, description="A query parameter.")
    @api.alt_response(503, schema=ErrorSchema, description=UNAVAILABLE)
    def get(self, since: Any = None) -> Response:
        """How often reviewers amended the answer, by category, flag and rule (criteria met), with the
        amended cases."""
        st = records.state()
        if st is None:
            return records.not_kept()
        return _json(reviews.agreement(st.store, since))


def _released(record_id: str) -> tuple[dict[str, Any], str] | Response:
    st = records.state()
    if st is None:
        return records.not_kept()
    r = st.store.get(record_id, reader=g.get("api_key_name"), request_id=g.get("request_id"))
    if r is None:
        return error_response(404, "No stored interpretation has this id.")
    return reviews.released(r.response, r.status, reviews.reviews_of(st.store, r.id)), r.status


def stored_context(record_id: str) -> hl7v2.OruContext:
    """The reply context of a stored answer: the service's own header (the record keeps no message);
    the record id is OBR-3 (filler order number)."""
    return hl7v2.OruContext(
        encoding=hl7v2.DEFAULT_ENCODING,
        version="2.5.1",
        message_type="ORU^R01",
        control_id=record_id[:20],
        processing_id="P",
        sending_application="",
        sending_facility="",
        receiving_application="",
        receiving_facility="",
        pid=None,
        # OBR-3, the filler order number: the record's id, under the service's namespace.
        obr=[hl7v2.Segment(f"OBR|1||{record_id}^MGI", hl7v2.DEFAULT_ENCODING, 1)],
    )


@api.route("/interpretations/<string:record_id>/hl7")
class StoredHl7(MethodView):
    @api.response(
        200,
        description="HL7 v2.5.1 ORU^R01 (x-application/hl7-v2+er7)",
        content_type="x-application/hl7-v2+er7",
    )
    @api.alt_response(401, schema=ErrorSchema, description="Missing, malformed, unknown or revoked API key.")
    @api.alt_response(404, schema=ErrorSchema, description="No such record (or the store is off).")
    @api.alt_response(503, schema=ErrorSchema, description=UNAVAILABLE)
    def get(self, record_id: str) -> Response:
        """The stored answer as released, as an ORU^R01: OBX-11 P (review pending), F or C (amended)."""
        out = _released(record_id)
        if isinstance(out, Response):
            return out
        answer, status = out
        text = hl7v2.build_oru_response(
            stored_context(record_id), {"id": record_id, **answer}, result_status=result_status_hl7(status)
        )
        return Response(text, mimetype="x-application/hl7-v2+er7")


@api.route("/interpretations/<string:record_id>/fhir")
class StoredFhir(MethodView):
    @api.response(200, description="FHIR R4 DiagnosticReport", content_type="application/fhir+json")
    @api.alt_response(401, schema=ErrorSchema, description="Missing, malformed, unknown or revoked API key.")
    @api.alt_response(404, schema=ErrorSchema, description="No such record (or the store is off).")
    @api.alt_response(503, schema=ErrorSchema, description=UNAVAILABLE)
    def get(self, record_id: str) -> Response:
        """The stored answer as released, as a DiagnosticReport: preliminary, final or amended."""
        out = _released(record_id)
        if isinstance(out, Response):
            return out
        answer, status = out
        # The stored record's id names the report (its id, 32 hex characters, and its identifier).
        report = fhir.interpretation_to_diagnostic_report(
            {**answer, "id": record_id}, None, status=result_status_fhir(status)
        )
        from service.api.views import json_bytes

        return Response(json_bytes(report), mimetype="application/fhir+json")
