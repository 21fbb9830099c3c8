"""Strict JSON body parsing for webargs: duplicate keys, NaN/Infinity and over-deep nesting are
rejected with a 400 naming the problem; only application/json is accepted (415)."""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable
from typing import Any, Final

import orjson
from flask import abort
from flask_smorest import abort as smorest_abort
from marshmallow import ValidationError
from marshmallow.fields import List, Tuple
from webargs.flaskparser import FlaskParser

from service.adapters.codes import inexact_problem

from .query_rules import REPEATED


class _BadJson(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise _BadJson(f"duplicate key {k!r} in a JSON object")
            seen.add(k)
    return d


def _constant(name: str) -> Any:
    raise _BadJson(f"{name} is not a valid JSON number")


class UnreadableNumber(float):
    """A JSON number that cannot be read as it is written, with the reason: written non-zero but read
    as zero by a float (1e-400: below the smallest float, about 5e-324; read as 0, a detected M-protein
    would become "no M-spike"), or written with more significant digits than a float keeps
    (2.750000000000000000001 read as 2.75, below a threshold the result is above). It is NaN, so no
    check takes it for a number, and the request schema refuses it with a 422 naming its field, as it
    refuses a number beyond the float range (1e309) and as HL7 v2 and FHIR refuse the same number."""

    problem: str

    def __new__(cls, problem: str) -> UnreadableNumber:
        number = super().__new__(cls, "nan")
        number.problem = problem
        return number


TOO_SMALL = (
    "Number too small: not zero, but too close to zero to be read (below about 5e-324); send 0 if it is zero."
)
_NONZERO_DIGIT = re.compile(r"[1-9]")


def json_number(text: str) -> float:
    """``parse_float`` of request bodies: the float of a JSON number with a fraction or exponent, or an
    UnreadableNumber when the number written is not zero and the float is, or the float is not the
    number written."""
    number = float(text)
    if number == 0.0 and _NONZERO_DIGIT.search(text.partition("e")[0].partition("E")[0]):
        return UnreadableNumber(TOO_SMALL)
    if math.isfinite(number):
        problem = inexact_problem(text, number)
        if problem is not None:
            return UnreadableNumber(problem)
    return number


def loads_strict(data: bytes | str, parse_float: Callable[[str], Any] = json_number) -> Any:
    """json.loads that rejects duplicate keys and NaN/Infinity. ``parse_float`` reads each JSON
    number with a fraction or exponent from its text (the orjson fast path gives only numbers whose
    float is written exactly as sent, which every ``parse_float`` reads as that float)."""
    if isinstance(data, bytes):
        value = _fast(data)
        if value is not _MISS:
            return value
        # JSON on the wire is UTF-8 (RFC 8259): json.loads would also guess UTF-16/32 from the first
        # bytes. A UTF-8 byte-order mark is tolerated; anything else not UTF-8 raises here.
        data = data.decode("utf-8-sig")
    return json.loads(data, object_pairs_hook=_pairs, parse_constant=_constant, parse_float=parse_float)


# Where a JSON number can be a negative zero: -0, -0.0, -0e3, or a negative number with a negative
# exponent, which may underflow to -0.0 (-1e-400). A match inside a string only costs a walk.
_MAY_HAVE_NEGATIVE_ZERO = re.compile(rb"(?<![\w.])-(?:0(?![0-9])|[0-9.]+[eE]-)")


def _unsigned_zeros(value: Any) -> Any:
    """Replace every -0.0 in a parsed JSON value by 0.0, in place (iteratively: as deep as the parser
    reads). A value is a quantity >= 0: a sign on zero means nothing, and would be shown ("-0 g/L")."""
    if type(value) is float:
        return 0.0 if value == 0.0 else value
    if type(value) is not dict and type(value) is not list:
        return value
    stack = [value]
    while stack:
        container = stack.pop()
        items = container.items() if type(container) is dict else enumerate(container)
        for k, v in items:
            t = type(v)
            if t is float:
                if v == 0.0:
                    container[k] = 0.0
            elif t is dict or t is list:
                stack.append(v)
    return value


_MISS: Final = object()


def _fast(raw: bytes) -> Any:
    """orjson's parse of ``raw`` when it provably has no duplicate key, else _MISS.

    Why: the duplicate-key hook above is a Python call per JSON object, which doubles the cost of
    parsing a panel (a batch of 1,000 spends about 40 ms in it); orjson is C but keeps the last of
    duplicate keys silently. Proof used here: orjson's output never has duplicate keys, and neither
    has that output with a space after every ',' and every '":' (the two separators of Python's
    json.dumps and of most LIS encoders; a space inserted inside a string keeps distinct keys
    distinct). So when the body, without the whitespace around it, is byte-identical to either form,
    the body has no duplicate keys and orjson's value is what json.loads gives. Anything else (a
    pretty-printed body, other number spellings, non-ASCII escapes, or whatever orjson refuses:
    NaN, a lone surrogate, a BOM, nesting deeper than it writes) takes the strict parser, so its
    answers and error messages are unchanged: the fast path can only cost time."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _MISS
    text = raw.strip()
    try:
        again = orjson.dumps(value)
    except orjson.JSONEncodeError:  # orjson writes at most 254 levels of nesting; it reads 1,024
        return _MISS
    if text == again or text == again.replace(b",", b", ").replace(b'":', b'": '):
        return value
    return _MISS


def check_charset(req: Any) -> None:
    """JSON is UTF-8: a body declared in another charset would be misread, so it is refused (415)."""
    charset = req.mimetype_params.get("charset")
    if charset is not None and charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
        abort(415, description=f"charset {charset!r} is not supported: send UTF-8 JSON")


def require_mimetype(req: Any, accepted: tuple[str, ...]) -> None:
    """A 415 unless the request's media type (parameters aside) is one of ``accepted``: another type,
    another ``+json`` type included, would be read as something it does not say it is."""
    if req.mimetype not in accepted:
        sent = req.mimetype[:64] or "none"
        abort(415, description=f"Content-Type must be {' or '.join(accepted)}, not {sent!r}")


def parse_body(raw: bytes, parse_float: Callable[[str], Any] = json_number) -> Any:
    """Parse a request body or abort with 400 and a message saying what is wrong. A negative zero
    (-0, -0.0) is read as 0: what the service stores and answers never carries a signed zero."""
    if not raw:
        abort(400, description="empty body: send a JSON object")
    try:
        value = loads_strict(raw, parse_float)
    except _BadJson as e:
        abort(400, description=f"malformed JSON: {e}")
    except RecursionError:
        abort(400, description="malformed JSON: nesting too deep")
    except UnicodeDecodeError:
        abort(400, description="malformed JSON: body is not valid UTF-8")
    except ValueError as e:
        if "integer string conversion" in str(e):  # Python's int() digit limit, in Python's words
            abort(
                400,
                description=f"malformed JSON: a number has more than {sys.get_int_max_str_digits()} digits",
            )
        abort(400, description=f"malformed JSON: {e}")
    return _unsigned_zeros(value) if _MAY_HAVE_NEGATIVE_ZERO.search(raw) else value


class StrictParser(FlaskParser):
    """webargs parser using the strict JSON loader."""

    # Query schemas decide about unknown parameters themselves (they RAISE: an unknown one is a 422
    # naming it), as body schemas do; webargs would otherwise drop them silently.
    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }

    def load_querystring(self, req: Any, schema: Any) -> Any:
        """The query parameters; one sent more than once is a 422 naming it (webargs would read its
        first value and drop the others) unless the schema declares it a list."""
        repeated = {
            name: [REPEATED]
            for name, values in req.args.lists()
            if len(values) > 1 and not isinstance(schema.fields.get(name), List | Tuple)
        }
        if repeated:
            raise ValidationError(repeated)
        return super().load_querystring(req, schema)

    def _raw_load_json(self, req: Any) -> Any:
        require_mimetype(req, ("application/json",))
        check_charset(req)
        return parse_body(req.get_data(cache=True))

    def load_json(self, req: Any, schema: Any) -> Any:
        return self._raw_load_json(req)

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):  # noqa: ANN001
        smorest_abort(422, exc=error, messages=error.messages, headers=error_headers)
