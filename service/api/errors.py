"""One error body for every error: {"code", "status", "message", "errors": {"dotted.path": [...]}}."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

log = logging.getLogger("mgi.errors")

DEFAULT_MESSAGES = {
    400: "Malformed request body.",
    401: "Authentication required.",
    404: "No such resource.",
    405: "Method not allowed on this resource.",
    413: "Request body too large.",
    415: "Content-Type must be application/json.",
    422: "The request failed validation: see errors for each offending field.",
    500: "Internal error. The request was not processed.",
}


UNKNOWN_FIELD = "Unknown field."  # marshmallow's message for a key the schema does not declare


def field_path(prefix: str, key: Any, *, sent: bool = False) -> str:
    """``prefix`` and one more key as a field path: ``labs.calcium``, ``history.0``.

    ``sent``: the key is one the client sent and the API does not declare (an unknown field or query
    parameter); such a key that would read as another path (with a dot or a bracket, a string of
    digits, which reads as a list index, or ``_schema``) is quoted: ``labs["calcium.value"]``. The
    empty key is always quoted (``[""]``), never confused with the body as a whole (``_schema``).
    Declared fields never need quoting, and paths the checks build themselves
    (``history.0.collected_on``) are kept."""
    if isinstance(key, str) and (
        key == "" or (sent and (key == "_schema" or key.isdigit() or any(c in key for c in _QUOTED)))
    ):
        quoted = key.replace("\\", "\\\\").replace('"', '\\"')
        return f'{prefix}["{quoted}"]'
    return f"{prefix}.{key}" if prefix else str(key)


_QUOTED = frozenset('.[]"\\')


def flatten(messages: Any, prefix: str = "", *, sent_keys: bool = False) -> dict[str, list[str]]:
    """Flatten marshmallow's nested error dict into field paths (``field_path``); ``sent_keys``: every
    key of this level is a name the client sent (query parameters)."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, val in messages.items():
            sent = sent_keys or (isinstance(val, list) and UNKNOWN_FIELD in val)
            if key == "_schema" and not sent:
                path = prefix or "_schema"  # a problem of the object as a whole
            else:
                path = field_path(prefix, key, sent=sent)
            for p, msgs in flatten(val, path).items():
                out.setdefault(p, []).extend(msgs)
    elif isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            out[prefix or "_schema"] = list(messages)
        else:
            for m in messages:
                for p, msgs in flatten(m, prefix).items():
                    out.setdefault(p, []).extend(msgs)
    else:
        out[prefix or "_schema"] = [str(messages)]
    return out


def error_body(code: int, message: str | None = None, errors: dict[str, list[str]] | None = None) -> dict:
    """The standard error body."""
    try:
        reason = HTTPStatus(code).phrase
    except ValueError:
        reason = "Error"
    return {
        "code": code,
        "status": reason,
        "message": message or DEFAULT_MESSAGES.get(code, reason),
        "errors": errors or {},
    }


def error_response(
    code: int, message: str | None = None, errors: dict | None = None, headers: dict | None = None
) -> Response:
    """A JSON error response with the standard body."""
    resp = Response(json.dumps(error_body(code, message, errors)), status=code, mimetype="application/json")
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _from_http(e: HTTPException) -> Response:
    code = e.code or 500
    data = getattr(e, "data", None) or {}
    errors: dict[str, list[str]] = {}
    msgs = data.get("messages")
    if isinstance(msgs, dict):
        # webargs nests by location ({"json": {...}}): a body field's path is its own; a query
        # parameter is named query.<name>, as an unknown one is.
        for loc, loc_msgs in msgs.items():
            query = loc == "query"
            errors.update(flatten(loc_msgs, "query" if query else "", sent_keys=query))
    message = data.get("message")
    if (
        message is None
        and e.description
        and (code not in DEFAULT_MESSAGES or e.description != type(e).description)
    ):
        # A description the code chose (abort(415, description=...)) says more than the default.
        message = e.description
    headers = dict(data.get("headers") or {})
    allowed = getattr(e, "valid_methods", None)  # set on werkzeug's MethodNotAllowed only
    if code == 405 and allowed:
        headers["Allow"] = ", ".join(allowed)
    return error_response(code, message, errors, headers)


def _unhandled(e: Exception) -> Response:
    # Never a stack trace or a request value in the body; the log keeps the exception type only.
    log.error("unhandled error: %s", type(e).__name__, exc_info=e)
    return error_response(500)


def register(app: Flask) -> None:
    """Install the handlers (after flask-smorest's, which they replace)."""
    app.register_error_handler(HTTPException, _from_http)
    app.register_error_handler(Exception, _unhandled)
