"""Query parameters, one rule for every route: a route takes only the query parameters it declares (a
flask-smorest ``arguments(..., location="query")`` schema), each once.

- A route that declares none refuses any query parameter (422 naming it, ``query.<name>``), here,
  before its view runs.
- A route that declares a query schema has the schema refuse unknown parameters (with the same
  message) and the parser refuse a parameter sent more than once (``StrictParser.load_querystring``).
- On every route, a parameter whose name or value is not UTF-8 once percent-decoded (``?patient_ref=
  MRN%FF1``) is refused (422 naming it), here, before anything reads it: read with replacement
  characters it would be another value than the one sent (a patient with no records, an empty list).

The routes are found from the app's URL map once the blueprints are registered, so a route added
later is covered without being listed anywhere. The review console's pages (``/review/...``: HTML
forms reading their own parameters) and static files are outside this rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Flask, Response, request

from .errors import error_response, field_path

UNKNOWN = "Unknown query parameter."
REPEATED = "Sent more than once: send it once."
NOT_UTF8 = "Not valid UTF-8 once percent-decoded: percent-encode the UTF-8 bytes of the text (%C3%A9 for é)."
# Endpoints outside the API's rule: the console's pages and Flask's static files.
OUTSIDE = ("review.", "static")


def _declares_query(view: Callable[..., Any], method: str) -> bool:
    handler = getattr(getattr(view, "view_class", None), method.lower(), None) or view
    arguments = getattr(handler, "_apidoc", {}).get("arguments", {})
    return any(p.get("in") in ("query", "querystring") for p in arguments.get("parameters", ()))


def routes_with_query_schemas(app: Flask) -> frozenset[tuple[str, str]]:
    """(endpoint, method) of every route whose view declares its query parameters."""
    found = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        if view is None:
            continue
        for method in rule.methods or ():
            if _declares_query(view, "GET" if method == "HEAD" else method):
                found.add((rule.endpoint, method))
    return frozenset(found)


def unknown_parameters(names: list[str]) -> Response:
    names = sorted(names)
    return error_response(
        422,
        f"unknown query parameter(s): {', '.join(names[:10])}",
        {field_path("query", name, sent=True): [UNKNOWN] for name in names[:50]},
    )


def not_utf8_parameters(query_string: bytes) -> list[str]:
    """The names of the parameters of a raw query string whose name or value is not UTF-8 once
    percent-decoded (as Werkzeug splits it: on '&', '+' a space), the name shown with replacement
    characters where its own bytes are not UTF-8."""
    bad = []
    for part in query_string.split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        raw_name = unquote_to_bytes(name.replace(b"+", b" "))
        try:
            raw_name.decode("utf-8")
            unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            bad.append(raw_name.decode("utf-8", "replace"))
    return bad


def not_utf8(names: list[str]) -> Response:
    names = sorted(set(names))
    return error_response(
        422,
        f"query parameter(s) not valid UTF-8: {', '.join(names[:10])}",
        {field_path("query", name, sent=True): [NOT_UTF8] for name in names[:50]},
    )


def init_query_rules(app: Flask) -> None:
    """Install the rule (after every blueprint is registered, and after authentication's hook)."""
    declared = routes_with_query_schemas(app)

    def refuse_undeclared() -> Response | None:
        query_string = request.query_string
        if not query_string:
            return None
        endpoint = request.endpoint
        if endpoint is None or endpoint.startswith(OUTSIDE):
            return None  # no route (404/405 as usual), or outside the rule
        if b"%" in query_string or not query_string.isascii():
            bad = not_utf8_parameters(query_string)
            if bad:
                return not_utf8(bad)
        if not request.args or (endpoint, request.method) in declared:
            return None  # the schema decides
        return unknown_parameters(list(request.args))

    app.before_request(refuse_undeclared)
