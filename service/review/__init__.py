"""The review console: release policy in use, sign-off of stored answers, trend charts, agreement.

``init_review(app, api)`` registers the review endpoints of the /v1 API (always: with the store off
they answer 404 like the other record endpoints) and, when the records store is on, the console's
pages under ``/review/`` (their own Flask blueprint, session sign-in, CSRF protection).
docs/review-console.md describes the console, its accounts and settings.
"""

from __future__ import annotations

from typing import Any

from . import models  # noqa: F401  (the tables join the store's metadata, for the migrations' check)


def init_review(app: Any, api: Any) -> None:
    from .api import api as review_api

    api.register_blueprint(review_api)
    if app.extensions.get("mgi.store") is None:
        return
    from .pages import init_pages

    init_pages(app)
