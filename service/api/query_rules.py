"""Query parameters, one rule for every route: a route takes only the query parameters it declares (a
flask-smorest ``arguments(..., location="query")`` schema), each once.

- A route that declares none refuses any query parameter (422 naming it, ``query.<name>``), here,
  before its view runs.
- A route that declares a query schema has the schema refuse unknown parameters (with the same
  message) and the parser refuse a parameter sent more than once (``StrictParser.load_querystring``).

The routes are found from the app's URL map once the blueprints are registered, so a route added
later is covered without being listed anywhere. The review console's pages (``/review/...``: HTML
forms reading their own parameters) and static files are outside this rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request

from .errors import error_response

UNKNOWN = "Unknown query parameter."
REPEATED = "Sent more than once: send it once."
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
        {f"query.{name}": [UNKNOWN] for name in names[:50]},
    )


def init_query_rules(app: Flask) -> None:
    """Install the rule (after every blueprint is registered, and after authentication's hook)."""
    declared = routes_with_query_schemas(app)

    def refuse_undeclared() -> Response | None:
        if not request.args:
            return None
        endpoint = request.endpoint
        if endpoint is None or endpoint.startswith(OUTSIDE) or (endpoint, request.method) in declared:
            return None  # no route (404/405 as usual), outside the rule, or the schema decides
        return unknown_parameters(list(request.args))

    app.before_request(refuse_undeclared)
