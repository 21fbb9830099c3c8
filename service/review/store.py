"""Reviews and the review queue over the records store's engine (no web framework here).

A review is one sign-off: ``approve`` (the answer is released as it is: status ``reviewed``) or
``amend`` (released with the reviewer's comment or classification: status ``amended``, with the
reason). The stored answer itself is never changed (it is what the service said); what is released
is the answer with the latest review laid over it (:func:`released`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from service.adapters.release import AMENDED, REVIEWED
from service.domain.classify import LABELS
from service.domain.results import Code
from service.store import IdempotencyConflict, Record, RecordStore
from service.store.models import Interpretation
from service.store.repository import aware, is_record_id

from .models import Review

T = cast(Table, Interpretation.__table__)
RV = cast(Table, Review.__table__)

DECISION_STATUS = {"approve": REVIEWED, "amend": AMENDED}
QUEUE_LIMIT = 200


@dataclass(frozen=True)
class ReviewEntry:
    seq: int
    interpretation_id: str
    decision: str
    reviewer: str
    reviewed_at: datetime
    comment: str | None
    classification_code: str | None
    reason: str | None
    status_before: str
    via: str
    api_key_name: str | None = None

    @property
    def by(self) -> str:
        """How the sign-off was made, for the pages: in the console, or through the API with a key
        (the reviewer's name is then the one the key's system sent)."""
        if self.via == "console":
            return "in the console"
        return f"through the API, key {self.api_key_name}" if self.api_key_name else "through the API"

    @classmethod
    def of(cls, row: Any) -> ReviewEntry:
        r = row._mapping
        return cls(
            r["seq"],
            r["interpretation_id"],
            r["decision"],
            r["reviewer"],
            aware(r["reviewed_at"]),
            r["comment"],
            r["classification_code"],
            r["reason"],
            r["status_before"],
            r["via"],
            r.get("api_key_name"),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "reviewer": self.reviewer,
            "reviewed_at": self.reviewed_at.isoformat(),
            "comment": self.comment,
            "classification_code": self.classification_code,
            "reason": self.reason,
            "status_before": self.status_before,
            "via": self.via,
        }


class ReviewKeyConflict(IdempotencyConflict):
    """An Idempotency-Key already used for another sign-off: another body (``other_record`` False) or
    a sign-off of another interpretation (True)."""

    def __init__(self, other_record: bool) -> None:
        super().__init__("Idempotency-Key already used")
        self.other_record = other_record


class NothingAmended(ValueError):
    """An amendment that changes nothing in the answer as it stands (its comment and category, after
    the amendments before it): it is refused, never recorded as a correction. ``errors`` names the
    fields, as a 422 does."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(" ".join(m for msgs in errors.values() for m in msgs))
        self.errors = errors


NOTHING_CHANGED = (
    "Nothing was changed: this is the comment and classification of the answer as it stands; an "
    "amendment changes the comment or the classification_code."
)


def _text(value: str) -> str:
    return value.replace("\r\n", "\n").strip()


def _unamended(
    c: Connection, record_id: str, comment: str | None, classification_code: str | None
) -> dict[str, list[str]] | None:
    """What is wrong with an amendment of a record that changes nothing in the answer as released now
    (``released``: the latest amendment's comment and category over the stored answer), or None."""
    response = c.execute(select(T.c.response).where(T.c.id == record_id)).scalar()
    amends = c.execute(
        select(RV.c.comment, RV.c.classification_code)
        .where(RV.c.interpretation_id == record_id, RV.c.decision == "amend")
        .order_by(RV.c.seq)
    ).all()
    answer = response if isinstance(response, dict) else {}
    current_comment = next(
        (a.comment for a in reversed(amends) if a.comment is not None), str(answer.get("comment") or "")
    )
    current_code = next(
        (a.classification_code for a in reversed(amends) if a.classification_code),
        str((answer.get("classification") or {}).get("code") or ""),
    )
    changed_comment = comment is not None and _text(comment) != _text(current_comment)
    changed_code = classification_code is not None and classification_code != current_code
    if not changed_comment and not changed_code:
        return {
            name: [NOTHING_CHANGED]
            for name, sent in (("comment", True), ("classification_code", classification_code is not None))
            if sent
        }
    return None


class Signed(NamedTuple):
    review: ReviewEntry
    status: str  # the release status this review set
    replayed: bool = False  # a retry with the Idempotency-Key of this (earlier) review


def status_after(decision: str, before: str) -> str:
    """The release status a review sets: approving an amended answer countersigns the amendment, so
    it stays amended."""
    if decision == "approve" and before == AMENDED:
        return AMENDED
    return DECISION_STATUS[decision]


def _keyed(
    c: Connection, record_id: str, api_key_name: str | None, key: str, request_hash: str
) -> Signed | None:
    """The review an earlier sign-off with this Idempotency-Key made (None: the key is new);
    ReviewKeyConflict when it was for another record or another body."""
    row = c.execute(select(RV).where(RV.c.api_key_name == api_key_name, RV.c.idempotency_key == key)).first()
    if row is None:
        return None
    earlier = ReviewEntry.of(row)
    if earlier.interpretation_id != record_id:
        raise ReviewKeyConflict(other_record=True)
    if row._mapping["request_hash"] != request_hash:
        raise ReviewKeyConflict(other_record=False)
    return Signed(earlier, status_after(earlier.decision, earlier.status_before), replayed=True)


def add_review(
    store: RecordStore,
    record_id: str,
    *,
    decision: str,
    reviewer: str,
    comment: str | None,
    classification_code: str | None,
    reason: str | None,
    via: str,
    api_key_name: str | None = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
) -> Signed | None:
    """Record a sign-off and set the record's release status, in one transaction; None when no record
    has this id. An amendment that changes neither the comment nor the category of the answer as it
    stands (read under the record's lock) raises NothingAmended.

    With ``idempotency_key`` (and the ``request_hash`` of the body it came with): a sign-off already
    recorded with this key of this API key is answered instead of recorded again (``replayed``), or
    refused (ReviewKeyConflict) when that one was for another record or body. The unique constraint
    on (api_key_name, idempotency_key) decides between concurrent retries: the one refused by it
    reads the winner's review."""

    if not is_record_id(record_id):
        return None

    def work(c: Connection) -> Signed | None:
        before = c.execute(select(T.c.status).where(T.c.id == record_id).with_for_update()).scalar()
        if before is None:
            return None
        if idempotency_key is not None:
            earlier = _keyed(c, record_id, api_key_name, idempotency_key, request_hash or "")
            if earlier is not None:
                return earlier
        if decision == "amend":
            unchanged = _unamended(c, record_id, comment, classification_code)
            if unchanged is not None:
                raise NothingAmended(unchanged)
        status = status_after(decision, before)
        row = c.execute(
            insert(RV)
            .values(
                interpretation_id=record_id,
                decision=decision,
                reviewer=reviewer,
                reviewed_at=datetime.now(UTC),
                comment=comment,
                classification_code=classification_code,
                reason=reason,
                status_before=before,
                via=via,
                api_key_name=api_key_name,
                idempotency_key=idempotency_key,
                request_hash=request_hash if idempotency_key is not None else None,
            )
            .returning(*RV.c)
        ).one()
        c.execute(update(T).where(T.c.id == record_id).values(status=status))
        return Signed(ReviewEntry.of(row), status)

    try:
        return cast(Signed | None, store._run(work))
    except IntegrityError as refused:
        if idempotency_key is None:
            raise

        # A concurrent sign-off with the same key committed first: answer with its review.
        def again(c: Connection) -> Signed | None:
            return _keyed(c, record_id, api_key_name, idempotency_key, request_hash or "")

        found = cast(Signed | None, store._run(again))
        if found is None:
            raise RuntimeError(
                "a unique constraint refused the review but no earlier review has its key"
            ) from refused
        return found


def reviews_of(store: RecordStore, record_id: str) -> list[ReviewEntry]:
    """A record's reviews, oldest first (of a record already read: its id is one)."""

    def work(c: Connection) -> list[ReviewEntry]:
        q = select(RV).where(RV.c.interpretation_id == record_id).order_by(RV.c.seq)
        return [ReviewEntry.of(r) for r in c.execute(q)]

    return store._run(work)


# The category a record's amendments set, in SQL: the latest amendment naming one (null when none
# did). ``released`` applies the same rule to one record's reviews.
AMENDED_CODE = (
    select(RV.c.classification_code)
    .where(
        RV.c.interpretation_id == T.c.id,
        RV.c.decision == "amend",
        RV.c.classification_code.is_not(None),
    )
    .order_by(RV.c.seq.desc())
    .limit(1)
    .scalar_subquery()
)
IN_FORCE_CODE = func.coalesce(AMENDED_CODE, T.c.classification_code)


def amended_codes(store: RecordStore, record_ids: list[str]) -> dict[str, str]:
    """The category in force of each record among ``record_ids`` whose amendments changed it."""
    if not record_ids:
        return {}

    def work(c: Connection) -> dict[str, str]:
        q = select(T.c.id, AMENDED_CODE).where(T.c.id.in_(record_ids), AMENDED_CODE.is_not(None))
        return {rid: code for rid, code in c.execute(q)}

    return cast(dict[str, str], store._run(work))


def released(response: dict[str, Any], status: str, reviews: list[ReviewEntry]) -> dict[str, Any]:
    """The answer as released: the stored one with the latest review's comment and classification
    laid over it, and ``release`` saying who signed it off and when."""
    out = copy.deepcopy(response)
    release = dict(out.get("release") or {"status": status, "reasons": []})
    release["status"] = status
    if reviews:
        last = reviews[-1]
        release["reviewer"] = last.reviewer
        release["reviewed_at"] = last.reviewed_at.isoformat()
        if last.decision == "amend":
            release["amendment_reason"] = last.reason
        # What an amendment sets stays in force until a later amendment sets it again (an approval
        # after it approves it; an amendment of the comment alone keeps the category).
        amended = [r for r in reviews if r.decision == "amend"]
        comment = next((a.comment for a in reversed(amended) if a.comment is not None), None)
        code = next((a.classification_code for a in reversed(amended) if a.classification_code), None)
        if comment is not None:
            out["comment"] = comment
        if code is not None:
            c = dict(out.get("classification") or {})
            original = c.get("code")
            c["code"] = code
            c["label"] = LABELS[Code(code)]
            out["classification"] = c
            if code != original:
                _superseded(out, str(original), code)
    out["release"] = release
    return out


def _superseded(out: dict[str, Any], original: str, code: str) -> None:
    """An amendment to another category: what the service derived from its own category (the risk
    groups, the follow-up interval, the referral and marrow it called for, whether the category waited
    on data) is not the amended category's, and is never released beside it as if it were: each risk
    model says so with no group, the follow-up is the reviewer's, and the category is the reviewer's
    decision."""
    why = (
        f"The reviewing pathologist amended the category from {original} to {code}: the service's "
        "assessment of the original category does not apply; see the reviewer's comment."
    )
    c = out["classification"]
    c["provisional"] = False
    c["reasons"] = [why]
    for name, model in (out.get("risk") or {}).items():
        if isinstance(model, dict):
            kept = {k: v for k, v in model.items() if not k.startswith(("progression_", "median_"))}
            out["risk"][name] = kept | {
                "applies": False,
                "group": None,
                "possible_groups": [],
                "score": None,
                "score_max": None,
                "score_is_lower_bound": False,
                "needed": [],
                "reason": why,
            }
    out["recommendations"] = [
        r
        for r in out.get("recommendations") or []
        if isinstance(r, dict) and r.get("code") not in _OF_THE_CATEGORY_RECOMMENDATIONS
    ] + [{"code": "FOLLOW_UP", "text": f"Follow-up as the reviewing pathologist states. {why}"}]
    # The referral and the marrow the original category called for (HEMATOLOGY_REFERRAL for smouldering
    # myeloma, MARROW_EXAMINATION_RECOMMENDED for an intermediate-risk MGUS) are the reviewer's to set;
    # flags of the results themselves (a myeloma-defining event, MGCS, an evolving pattern) stay.
    out["flags"] = [
        f
        for f in out.get("flags") or []
        if isinstance(f, dict) and f.get("code") not in OF_THE_CATEGORY_FLAGS
    ]


# What an answer derives from its category, withdrawn beside an amendment to another category.
OF_THE_CATEGORY_FLAGS = frozenset({"HEMATOLOGY_REFERRAL", "MARROW_EXAMINATION_RECOMMENDED"})
_OF_THE_CATEGORY_RECOMMENDATIONS = frozenset({"FOLLOW_UP", "REFER_HEMATOLOGY", "MARROW_EXAMINATION"})


def decorate(store: RecordStore, body: dict[str, Any]) -> dict[str, Any]:
    """GET /v1/interpretations/{id}: the record body with its reviews and the answer as released."""
    reviews = reviews_of(store, body["id"])
    body["reviews"] = [r.as_json() for r in reviews]
    body["interpretation"] = released(body["interpretation"], body["status"], reviews)
    return body


# --------------------------------------------------------------------------- the queue
AGES = {
    "": None,
    "today": (None, 1),
    "1-7d": (1, 7),
    "over-7d": (7, None),
}


def queue(
    store: RecordStore,
    *,
    status: str | None,
    category: str | None,
    flag: str | None,
    age: str | None,
    now: datetime | None = None,
    limit: int = QUEUE_LIMIT,
) -> list[Record]:
    """Records for the review queue, oldest waiting first: filtered by release status, category,
    flag and age of the case (days since it was received)."""
    now = now or datetime.now(UTC)
    bounds = AGES.get(age or "")

    def work(c: Connection) -> list[Record]:
        # No request or history bodies: a queue row shows the answer's category and flags only.
        q = select(*[col for col in T.c if col.name not in ("request", "store_history")])
        if status:
            q = q.where(T.c.status == status)
        if category:
            q = q.where(IN_FORCE_CODE == category)  # an amendment's category, else the computed one
        if bounds is not None:
            from datetime import timedelta

            newer_than, older_than = bounds
            if newer_than is not None:
                q = q.where(T.c.received_at <= now - timedelta(days=newer_than))
            if older_than is not None:
                q = q.where(T.c.received_at > now - timedelta(days=older_than))
        q = q.order_by(T.c.seq)
        out: list[Record] = []
        # Flags live in the findings JSON: filtered here, in bounded chunks.
        offset = 0
        while len(out) < limit:
            rows = list(c.execute(q.offset(offset).limit(500)))
            if not rows:
                break
            offset += len(rows)
            for r in rows:
                if flag and flag not in (r._mapping["findings"] or {}).get("flags", []):
                    continue
                out.append(Record.of(r))
                if len(out) >= limit:
                    break
            if offset >= 20_000:
                break
        return out

    return store._run(work)


def get_record(store: RecordStore, record_id: str) -> Record | None:
    """One record without an audit row (callers record the read themselves via store.get)."""
    if not is_record_id(record_id):
        return None

    def work(c: Connection) -> Record | None:
        row = c.execute(select(T).where(T.c.id == record_id)).first()
        return Record.of(row) if row is not None else None

    return store._run(work)


def patient_records(store: RecordStore, record: Record) -> list[Record]:
    """The patient's stored panels up to this record's date, oldest first (just this record when the
    request carried no patient_ref)."""
    if record.patient_key is None:
        return [record]
    key, on = record.patient_key, record.collected_on

    def work(c: Connection) -> list[Record]:
        q = (
            select(T)
            .where(T.c.patient_key == key, T.c.collected_on <= on)
            .order_by(T.c.collected_on, T.c.seq)
            .limit(500)
        )
        return [Record.of(r) for r in c.execute(q)]

    return store._run(work)


def erase_orphans(store: RecordStore) -> int:
    """Delete reviews whose record is gone (after an erasure or a purge)."""

    def work(c: Connection) -> int:
        res = c.execute(delete(RV).where(RV.c.interpretation_id.not_in(select(T.c.id))))
        return int(getattr(res, "rowcount", 0) or 0)

    return store._run(work)


# --------------------------------------------------------------------------- agreement report
def agreement(store: RecordStore, since: datetime | None) -> dict[str, Any]:
    """How often reviewers changed the answer, by category, flag and rule (criteria met).

    A case counts once, by its latest review: ``amended`` when that review amended it (or approved an
    earlier amendment)."""

    def work(c: Connection) -> list[Any]:
        q = select(RV.c.decision, T.c.id, T.c.classification_code, T.c.findings, T.c.response).join(
            T, T.c.id == RV.c.interpretation_id
        )
        if since is not None:
            q = q.where(RV.c.reviewed_at >= since)
        return list(c.execute(q.order_by(RV.c.seq)))

    latest: dict[str, tuple[str, Any, bool]] = {}
    for row in store._run(work):
        decision, rid = row.decision, row.id
        amended = decision == "amend" or (rid in latest and latest[rid][2] and decision == "approve")
        latest[rid] = (decision, row, amended)
    groups: dict[str, dict[str, dict[str, Any]]] = {"category": {}, "flag": {}, "rule": {}}

    def count(kind: str, key: str, rid: str, amended: bool) -> None:
        g = groups[kind].setdefault(key, {"reviewed": 0, "amended": 0, "cases": [], "amended_cases": []})
        g["reviewed"] += 1
        g["cases"].append(rid)
        if amended:
            g["amended"] += 1
            g["amended_cases"].append(rid)

    for rid, (_review, rec, amended) in latest.items():
        count("category", rec.classification_code, rid, amended)
        for f in (rec.findings or {}).get("flags", []):
            count("flag", f, rid, amended)
        for c in rec.response.get("criteria") or []:
            if c.get("status") == "met":
                count("rule", str(c.get("id")), rid, amended)

    def rows(kind: str) -> list[dict[str, Any]]:
        out = []
        for key, g in sorted(groups[kind].items(), key=lambda kv: (-kv[1]["amended"], kv[0])):
            out.append(
                {
                    kind: key,
                    "reviewed": g["reviewed"],
                    "amended": g["amended"],
                    "amended_rate": round(g["amended"] / g["reviewed"], 4),
                    "amended_cases": [f"/v1/interpretations/{i}" for i in g["amended_cases"]],
                }
            )
        return out

    total = len(latest)
    amended_total = sum(1 for _, _, a in latest.values() if a)
    return {
        "since": since.isoformat() if since else None,
        "reviewed": total,
        "amended": amended_total,
        "amended_rate": round(amended_total / total, 4) if total else None,
        "by_category": rows("category"),
        "by_flag": rows("flag"),
        "by_rule": rows("rule"),
    }
