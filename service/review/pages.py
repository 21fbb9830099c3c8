"""The review console's pages (Flask blueprint ``review`` under /review/, Jinja templates, local
static assets only).

Sign-in is by a local account (argon2 password hash, lockout) or, behind a proxy, by a trusted
header naming an existing account (MGI_REVIEW_TRUSTED_HEADER, honoured only from the addresses in
MGI_REVIEW_TRUSTED_PROXIES). The session is a signed cookie (HttpOnly, SameSite=Strict, Secure unless
MGI_REVIEW_COOKIE_SECURE=0); every form is CSRF-protected (Flask-WTF). API keys open no page: an
Authorization header is never read here, and the /v1 API never reads the session cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.wrappers import Response

from service.adapters.release import STATUSES
from service.api import records
from service.api.schemas import FLAG_CODES, text_control_problem
from service.domain.classify import LABELS
from service.domain.results import Code
from service.store import Record, RecordStore

from . import accounts, charts
from . import store as reviews

log = logging.getLogger("mgi.review")
bp = Blueprint(
    "review",
    __name__,
    url_prefix="/review",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
csrf = CSRFProtect()
SEVERITY_ORDER = {"urgent": 0, "refer": 1, "info": 2}
ENV_TRUSTED_HEADER = "MGI_REVIEW_TRUSTED_HEADER"
ENV_TRUSTED_PROXIES = "MGI_REVIEW_TRUSTED_PROXIES"
OPEN_ENDPOINTS = {"review.sign_in", "review.static"}


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def init_pages(app: Flask) -> None:
    """Register the console (the records store is on)."""
    st = app.extensions.get(records.EXTENSION)
    assert st is not None
    dev_mode = bool(getattr(app.extensions.get("mgi_security"), "dev_mode", False))
    secret = app.config.get("REVIEW_SECRET_KEY") or os.environ.get("MGI_REVIEW_SECRET_KEY")
    if not secret:
        # Derived from the site's patient-key secret: stable across workers and restarts, never stored.
        secret = hmac.new(
            st.store.patient_key("mgi-review-session").encode(), b"session", hashlib.sha256
        ).hexdigest()
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret
    secure = app.config.get("REVIEW_COOKIE_SECURE")
    if secure is None:
        secure = _flag(os.environ.get("MGI_REVIEW_COOKIE_SECURE"), not dev_mode)
    app.config.update(
        SESSION_COOKIE_NAME="mgi_review",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=bool(secure),
        SESSION_COOKIE_PATH="/review",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=int(os.environ.get("MGI_REVIEW_SESSION_HOURS", "8"))),
        # CSRF is checked on the console's forms only (the /v1 API takes API keys, never cookies).
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,
    )
    header = app.config.get("REVIEW_TRUSTED_HEADER", os.environ.get(ENV_TRUSTED_HEADER, "")) or ""
    proxies = app.config.get("REVIEW_TRUSTED_PROXIES", os.environ.get(ENV_TRUSTED_PROXIES, "")) or ""
    nets = [ipaddress.ip_network(p.strip(), strict=False) for p in str(proxies).split(",") if p.strip()]
    if header and not nets:
        raise RuntimeError(
            f"{ENV_TRUSTED_HEADER} is set but {ENV_TRUSTED_PROXIES} is empty: name the proxy addresses "
            "the header is trusted from"
        )
    app.extensions["mgi.review"] = {"trusted_header": header, "trusted_proxies": nets}
    csrf.init_app(app)
    app.register_blueprint(bp)


def _store() -> RecordStore:
    st = records.state()
    if st is None:
        abort(404)
    return st.store


def _trusted_user() -> str | None:
    conf = current_app.extensions["mgi.review"]
    header = conf["trusted_header"]
    if not header:
        return None
    value = request.headers.get(header)
    if not value:
        return None
    try:
        addr = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return None
    if not any(addr in net for net in conf["trusted_proxies"]):
        log.warning("review console: %s header from %s ignored (not a trusted proxy)", header, addr)
        return None
    return value.strip()


@bp.before_request
def _authenticate() -> Response | None:
    g.account = None
    name = _trusted_user()
    via = "header"
    if name is None:
        name = session.get("user")
        via = "session"
    if name:
        account = accounts.find(_store(), name)
        if account is not None and (via == "header" or session.get("epoch") == account.session_epoch):
            g.account = account
        elif via == "session":
            session.clear()
    if request.method == "POST":
        csrf.protect()
    if g.account is None and request.endpoint not in OPEN_ENDPOINTS:
        return redirect(
            url_for("review.sign_in", next=request.full_path if request.method == "GET" else None)
        )
    return None


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers.setdefault("Cache-Control", "no-store")
    resp.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "frame-ancestors 'none'; form-action 'self'",
    )
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    return resp


@bp.errorhandler(CSRFError)
def _csrf_error(e: CSRFError) -> tuple[str, int]:
    return render_template("review/error.html", title="Form expired", message=e.description), 400


@bp.errorhandler(403)
def _forbidden(e: Any) -> tuple[str, int]:
    return render_template("review/error.html", title="Not allowed", message=e.description), 403


@bp.errorhandler(404)
def _not_found(e: Any) -> tuple[str, int]:
    return render_template("review/error.html", title="Not found", message="No stored case has this id."), 404


def _require_reviewer() -> None:
    if g.account is None or not g.account.may_review:
        abort(403, description="Only a reviewer may sign off (your account is a viewer).")


@bp.app_template_filter("label")
def _label(code: str) -> str:
    try:
        return LABELS[Code(code)]
    except ValueError:
        return code


# --------------------------------------------------------------------------- sign-in
def _safe_next(target: str | None) -> str:
    if target and target.startswith("/review") and not target.startswith("//"):
        return target
    return url_for("review.queue")


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    if g.account is not None and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    error = None
    status = 200
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        password = request.form.get("password", "")
        account, reason = accounts.sign_in(_store(), name, password)
        if account is not None:
            session.clear()
            session.permanent = True
            session["user"] = account.name
            session["epoch"] = account.session_epoch
            log.info("review console: %s signed in", account.name)
            return redirect(_safe_next(request.form.get("next")))
        status = 401
        # A locked account gets the same answer as a wrong name or password: the page never tells
        # which names are accounts (the log and the administrator know it is locked).
        error = (
            "Name or password not recognised. After repeated failed sign-ins an account is locked for "
            f"{accounts.lockout_minutes()} minutes: try again later or ask an administrator."
        )
        log.info("review console: sign-in refused for %r (%s)", name[:64], reason)
    return (
        render_template(
            "review/sign_in.html", title="Sign in", error=error, next=request.args.get("next", "")
        ),
        status,
    )


@bp.route("/sign-out", methods=["POST"])
def sign_out() -> Response:
    # Signing out ends the account's sessions on the server too: a copy of the cookie taken before it
    # (a shared workstation, a stolen cookie) is refused afterwards.
    account = g.get("account")
    if account is not None and session.get("user") == account.name:
        accounts.end_sessions(_store(), account.name)
    session.clear()
    return redirect(url_for("review.sign_in"))


# --------------------------------------------------------------------------- queue
def _age(r: Record, now: datetime) -> str:
    delta = now - r.received_at
    if delta < timedelta(hours=1):
        return f"{int(delta.total_seconds() // 60)} min"
    if delta < timedelta(days=1):
        return f"{int(delta.total_seconds() // 3600)} h"
    return f"{delta.days} d"


@bp.route("/")
def queue() -> str:
    status = request.args.get("status", "review_required")
    category = request.args.get("category", "")
    flag = request.args.get("flag", "")
    age = request.args.get("age", "")
    problems = []
    if status and status not in STATUSES:
        problems.append(f"status: {status!r} is not a release status")
    if category and category not in LABELS:
        problems.append(f"category: {category!r} is not a classification code")
    if flag and flag not in FLAG_CODES:
        problems.append(f"flag: {flag!r} is not a flag code")
    if age not in reviews.AGES:
        problems.append(f"age: {age!r} is not one of the age filters")
    rows = []
    if not problems:
        now = datetime.now(UTC)
        for r in reviews.queue(
            _store(), status=status or None, category=category or None, flag=flag or None, age=age
        ):
            c = r.response.get("classification") or {}
            rows.append(
                {
                    "id": r.id,
                    "received_at": r.received_at,
                    "collected_on": r.collected_on,
                    "specimen_id": r.specimen_id,
                    "code": c.get("code"),
                    "label": c.get("label"),
                    "provisional": c.get("provisional"),
                    "flags": sorted(
                        r.response.get("flags") or [], key=lambda f: SEVERITY_ORDER.get(f.get("severity"), 9)
                    ),
                    "status": r.status,
                    "age": _age(r, now),
                }
            )
        # Every row shown is a record read, as each row of GET /v1/interpretations is.
        _store().record_reads(
            [str(row["id"]) for row in rows],
            reader=f"console:{g.account.name}",
            request_id=g.get("request_id"),
            via="list",
        )
        in_force = reviews.amended_codes(
            _store(), [str(row["id"]) for row in rows if row["status"] == "amended"]
        )
        for row in rows:
            code = in_force.get(str(row["id"]))
            if code is not None and code != row["code"]:  # the category as released, not as computed
                row["code"] = code
                row["label"] = LABELS[Code(code)]
                # The reviewer's category: neither provisional nor with the flags of the one computed
                # (as the released answer, reviews.released).
                row["provisional"] = False
                shown: list[dict[str, Any]] = row["flags"]  # type: ignore[assignment]
                row["flags"] = [f for f in shown if f.get("code") not in reviews.OF_THE_CATEGORY_FLAGS]
    return render_template(
        "review/queue.html",
        title="Review queue",
        rows=rows,
        problems=problems,
        filters={"status": status, "category": category, "flag": flag, "age": age},
        statuses=STATUSES,
        categories=sorted(LABELS.items(), key=lambda kv: kv[0]),
        flags=FLAG_CODES,
        ages=[
            ("", "any age"),
            ("today", "received today"),
            ("1-7d", "1 to 7 days"),
            ("over-7d", "over 7 days"),
        ],
    )


# --------------------------------------------------------------------------- a case
def _case(record_id: str) -> tuple[Record, dict[str, Any], list[reviews.ReviewEntry]]:
    store = _store()
    r = store.get(record_id, reader=f"console:{g.account.name}", request_id=g.get("request_id"))
    if r is None:
        abort(404)
    rv = reviews.reviews_of(store, r.id)
    return r, reviews.released(r.response, r.status, rv), rv


def _context(record_id: str) -> dict[str, Any]:
    r, answer, rv = _case(record_id)
    history = reviews.patient_records(_store(), r)
    # The trend charts show the patient's other panels' results: each of those records is read too.
    _store().record_reads(
        [h.id for h in history if h.id != r.id],
        reader=f"console:{g.account.name}",
        request_id=g.get("request_id"),
        via="trend",
    )
    flags = sorted(answer.get("flags") or [], key=lambda f: SEVERITY_ORDER.get(f.get("severity"), 9))
    return {
        "record": r,
        "answer": answer,
        "reviews": rv,
        "flags": flags,
        "charts": charts.charts(history, r),
        "panels": len(history),
        "codes": sorted(LABELS.items(), key=lambda kv: kv[0]),
    }


@bp.route("/cases/<record_id>")
def case(record_id: str) -> str:
    ctx = _context(record_id)
    return render_template("review/case.html", title=f"Case {record_id[:8]}", **ctx)


@bp.route("/cases/<record_id>/print")
def print_case(record_id: str) -> str:
    ctx = _context(record_id)
    return render_template("review/print.html", title=f"Report {record_id[:8]}", **ctx)


@bp.route("/cases/<record_id>/sign-off", methods=["POST"])
def sign_off(record_id: str) -> Any:
    _require_reviewer()
    r, answer, signed = _case(record_id)
    decision = request.form.get("decision", "")
    comment = request.form.get("comment", "").replace("\r\n", "\n").strip()
    reason = request.form.get("reason", "").strip()
    code = request.form.get("classification_code", "").strip()
    errors: list[str] = []
    current_comment = str(answer.get("comment") or "").strip()
    current_code = str((answer.get("classification") or {}).get("code") or "")
    if decision not in ("approve", "amend"):
        errors.append("decision: approve or amend")
    if code and code not in LABELS:
        errors.append(f"classification: {code!r} is not a classification code")
    changed_comment = bool(comment) and comment != current_comment
    changed_code = bool(code) and code != current_code
    if decision == "approve" and (changed_comment or changed_code):
        errors.append("The comment or classification was changed: use Amend, with the reason.")
    if decision == "amend":
        if not reason:
            errors.append("reason: an amendment needs its reason.")
        if not (changed_comment or changed_code):
            errors.append("Nothing was changed: edit the comment or the classification to amend.")
        elif changed_code and not changed_comment:
            # The released comment would still describe the former category beside the new one.
            errors.append(
                "A new classification needs the comment rewritten to match it: the released comment "
                "would otherwise still describe the former category."
            )
    seen = request.form.get("sign_offs_seen")  # sent by the case page's form, always
    if seen is None:
        # A form that does not say what it was opened with could be any age: refused as a stale one.
        errors = [
            "The form did not say which sign-offs it was opened with: read the case again (reloaded "
            "below) and sign off anew."
        ]
    elif seen != str(len(signed)):
        # Someone signed the case off since this form was shown: applying it would undo what they set.
        errors = [
            "The case was signed off by someone else since you opened it: read it again (reloaded below) "
            "and sign off anew."
        ]
    if len(comment) > 10_000 or len(reason) > 10_000:
        errors.append("comment and reason: at most 10,000 characters each")
    for name, text in (("comment", comment), ("reason", reason)):
        problem = text_control_problem(text)
        if problem:
            errors.append(f"{name}: {problem}")
    if errors:
        for e in errors:
            flash(e, "error")
        return redirect(url_for("review.case", record_id=r.id) + "#sign-off")
    try:
        reviews.add_review(
            _store(),
            r.id,
            decision=decision,
            reviewer=g.account.name,
            comment=comment if decision == "amend" and changed_comment else None,
            classification_code=code if decision == "amend" and changed_code else None,
            reason=reason or None,
            via="console",
        )
    except reviews.NothingAmended:
        # An amendment the same as one recorded since this form was read (checked under the lock).
        flash("Nothing was changed: edit the comment or the classification to amend.", "error")
        return redirect(url_for("review.case", record_id=r.id) + "#sign-off")
    flash("Amended and signed off." if decision == "amend" else "Approved and signed off.", "info")
    return redirect(url_for("review.case", record_id=r.id))


# --------------------------------------------------------------------------- agreement report
@bp.route("/agreement")
def agreement() -> str:
    since_text = request.args.get("since", "")
    since = None
    problem = None
    if since_text:
        try:
            parsed = datetime.fromisoformat(since_text)
            # A time with a UTC offset is that instant (as the API reads it); without one, UTC.
            since = parsed.astimezone(UTC) if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
        except (ValueError, OverflowError):
            problem = "since: use a date, YYYY-MM-DD"
    report = reviews.agreement(_store(), since) if problem is None else None
    return render_template(
        "review/agreement.html", title="Agreement report", report=report, since=since_text, problem=problem
    )


@bp.app_template_global()
def queue_url(**kw: str) -> str:
    return url_for("review.queue") + ("?" + urlencode({k: v for k, v in kw.items() if v}) if kw else "")
