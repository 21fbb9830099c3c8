"""Ruleset impact: every stored panel re-interpreted under the ruleset in force, compared with the
answer it was given (category, flags, risk groups). ``POST /v1/ruleset-impact`` streams the report
as it goes (chunked JSON), holding a batch slot and stopping at the batch time budget
(admission.py); ``python -m service ruleset-impact`` prints the same report and can share the work
among processes (``--processes``).

Each stored panel is rebuilt exactly as the engine saw it: the canonical request, plus the earlier
panels the store supplied as history, dated as it was dated then. A stored request today's rules
refuse (a plausibility window added since, say) is counted as ``not_reinterpretable``, never
guessed at.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from time import perf_counter
from typing import Any

import orjson
from marshmallow import ValidationError

from service.domain import RULESET_VERSION, interpret
from service.store import RecordStore, encode_cursor
from service.store.repository import ScanRow

from .history_merge import combine
from .schemas import MAX_HISTORY, InterpretationRequestSchema, without_unused_ranges

SCHEMA = InterpretationRequestSchema()
DEFAULT_LIST_LIMIT = 1000
# Records re-interpreted per HTTP call at most; next_cursor continues. A call also stops at the batch
# time budget (MGI_BATCH_TIME_BUDGET, a third of the worker timeout by default), whatever max_records
# says: at 2,000 records a second on a free core, 20,000 records would outlive the worker timeout on a
# busy one. The command line has no such bound.
DEFAULT_MAX_RECORDS = 10_000
MAX_RECORDS = 20_000


def rebuilt_request(row: ScanRow) -> dict[str, Any]:
    """The request as the engine saw it when the record was made."""
    req = without_unused_ranges(dict(row.request))
    if row.store_history:
        history = list(req.get("history") or ())
        for h in row.store_history:
            if h.get("completes_request"):
                # the request's own entry of that date, completed with the stored day's results
                on = h["entry"]["collected_on"]
                at = next((i for i, e in enumerate(history) if e.get("collected_on") == on), None)
                if at is not None:
                    history[at] = combine([h["entry"], history[at]])[0]
                    continue
            history.append(h["entry"])
        if len(history) > MAX_HISTORY:  # cut as serial memory cut it: the most recent entries
            history = sorted(history, key=lambda e: str(e.get("collected_on")))[-MAX_HISTORY:]
        req["history"] = history
    if req.get("history") and req.get("collected_on") is None:
        req["collected_on"] = row.collected_on.isoformat()  # the date assumed then, not today's
    return req


@dataclass
class Tally:
    examined: int = 0
    changed: int = 0
    category_changed: int = 0
    flags_changed: int = 0
    risk_changed: int = 0
    not_reinterpretable: int = 0
    transitions: dict[str, int] = field(default_factory=dict)  # "OLD -> NEW": count

    def add(self, other: Tally) -> None:
        for name in ("examined", "changed", "category_changed", "flags_changed", "risk_changed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.not_reinterpretable += other.not_reinterpretable
        for k, v in other.transitions.items():
            self.transitions[k] = self.transitions.get(k, 0) + v

    def summary(self) -> dict[str, Any]:
        return {
            "examined": self.examined,
            "changed": self.changed,
            "category_changed": self.category_changed,
            "flags_changed": self.flags_changed,
            "risk_changed": self.risk_changed,
            "not_reinterpretable": self.not_reinterpretable,
            "category_transitions": dict(sorted(self.transitions.items(), key=lambda kv: (-kv[1], kv[0]))),
        }


def compare(row: ScanRow, tally: Tally) -> dict[str, Any] | None:
    """Re-interpret one stored panel; the change (or None), counted in ``tally``."""
    tally.examined += 1
    try:
        panel = SCHEMA.load(rebuilt_request(row))
    except ValidationError as e:
        tally.not_reinterpretable += 1
        return {"id": row.id, "not_reinterpretable": sorted(_paths(e.messages))}
    new = interpret(panel)
    change: dict[str, Any] = {}
    code = new.classification.code.value
    if code != row.classification_code:
        change["category"] = {"from": row.classification_code, "to": code}
        tally.category_changed += 1
        key = f"{row.classification_code} -> {code}"
        tally.transitions[key] = tally.transitions.get(key, 0) + 1
    old_flags = set(row.findings.get("flags") or ())
    new_flags = {f.code for f in new.flags}
    if old_flags != new_flags:
        change["flags"] = {"added": sorted(new_flags - old_flags), "removed": sorted(old_flags - new_flags)}
        tally.flags_changed += 1
    old_risk = row.findings.get("risk") or {}
    risk = {
        m: {"from": old_risk.get(m), "to": r.group} for m, r in new.risk.items() if old_risk.get(m) != r.group
    }
    if risk:
        change["risk"] = risk
        tally.risk_changed += 1
    if not change:
        return None
    tally.changed += 1
    return {"id": row.id, "collected_on": row.collected_on.isoformat(), **change}


def _paths(messages: Any, prefix: str = "") -> Iterable[str]:
    if isinstance(messages, dict):
        for k, v in messages.items():
            yield from _paths(v, f"{prefix}.{k}" if prefix else str(k))
    else:
        yield prefix or "_schema"


def run(
    chunks: Iterable[list[ScanRow]], tally: Tally, list_limit: int = DEFAULT_LIST_LIMIT
) -> Iterator[dict[str, Any]]:
    """The listed changes, as they are found (the first ``list_limit``); ``tally`` counts them all."""
    listed = 0
    for chunk in chunks:
        for row in chunk:
            change = compare(row, tally)
            if change is not None and listed < list_limit:
                listed += 1
                yield change


def stream(
    store: RecordStore,
    *,
    since: datetime | None,
    list_limit: int,
    after: int = 0,
    max_records: int = DEFAULT_MAX_RECORDS,
    deadline: float | None = None,
) -> Iterator[bytes]:
    """The report as JSON text in pieces: the changes as they are found, the counts at the end, and
    ``next_cursor`` when the call stopped before the last record (continue from there): after
    ``max_records`` records, or once ``deadline`` (a ``perf_counter`` value: the time budget, well
    inside the worker timeout) has passed, so that the body always ends whole, never cut off by a
    killed worker. ``stopped`` says which, or is null when every record was examined."""
    tally = Tally()
    yield b'{"ruleset_version":' + orjson.dumps(RULESET_VERSION) + b',"changes":['
    listed = 0
    last = after
    stopped: str | None = None
    # One row more than max_records in the first chunk: whether another record follows is then known
    # without another query.
    for chunk in store.scan(since=since, after=after, chunk=min(2000, max_records + 1)):
        for row in chunk:
            if tally.examined >= max_records:
                stopped = "max_records"
            elif deadline is not None and perf_counter() > deadline:
                stopped = "time_budget"
            if stopped is not None:
                break
            change = compare(row, tally)
            last = row.seq
            if change is not None and listed < list_limit:
                yield (b"," if listed else b"") + orjson.dumps(change)
                listed += 1
        if stopped is not None:
            break
    summary = tally.summary()
    summary["listed"] = listed
    cursor = encode_cursor(last) if stopped is not None else None
    yield (
        b'],"summary":'
        + orjson.dumps(summary)
        + b',"next_cursor":'
        + orjson.dumps(cursor)
        + b',"stopped":'
        + orjson.dumps(stopped)
        + b"}"
    )


# --------------------------------------------------------------------------- command line
def _shard(args: tuple[str, str | None, int, int, int]) -> tuple[Tally, list[dict[str, Any]]]:
    url, since_iso, k, n, list_limit = args
    store = RecordStore.from_url(url)
    since = datetime.fromisoformat(since_iso) if since_iso else None
    tally = Tally()
    try:
        listed = list(run(store.scan(since=since, shard=(k, n)), tally, list_limit))
    finally:
        store.dispose()
    return tally, listed


def _since(text: str) -> str:
    """--since as the HTTP endpoint takes it: a date, or a date-time with its zone (as UTC ISO text)."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            when = datetime.fromisoformat(text).replace(tzinfo=UTC)
        else:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if when.tzinfo is None:
                raise argparse.ArgumentTypeError(f"{text!r} has no zone: add Z or +hh:mm")
            when = when.astimezone(UTC)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date (2026-01-31) or date-time with its zone (2026-01-31T08:00:00Z)"
        ) from None
    return when.isoformat()


def _count(text: str, least: int = 1) -> int:
    if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) < least:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least {least}")
    return int(text)


def _listed(text: str) -> int:
    return _count(text, 0)


def main(argv: list[str] | None = None) -> int:
    """``python -m service ruleset-impact``: the report as JSON on stdout."""
    from sqlalchemy.exc import DBAPIError

    from service.store import SchemaNotCurrent, StoreConfigError, read_settings
    from service.store.migrate import check_current

    p = argparse.ArgumentParser(prog="python -m service ruleset-impact", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--since",
        type=_since,
        help="only records received at or after this ISO date (UTC midnight) or date-time with its zone",
    )
    p.add_argument(
        "--list", type=_listed, default=DEFAULT_LIST_LIMIT, help="changes listed (all are counted)"
    )
    p.add_argument("--processes", type=_count, default=1, help="processes sharing the work (one per core)")
    args = p.parse_args(argv)
    try:
        settings = read_settings()
        store = RecordStore.from_url(settings.url)
        try:
            check_current(store.engine)
        finally:
            store.dispose()
    except (StoreConfigError, SchemaNotCurrent) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except DBAPIError as e:
        print(
            f"error: the records database cannot be reached ({type(e.orig or e).__name__})", file=sys.stderr
        )
        return 1
    n = max(1, args.processes)
    jobs = [(settings.url, args.since, k, n, args.list) for k in range(n)]
    if n == 1:
        results = [_shard(jobs[0])]
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(n) as pool:
            results = list(pool.map(_shard, jobs))
    total = Tally()
    changes: list[dict[str, Any]] = []
    for tally, listed in results:
        total.add(tally)
        changes.extend(listed)
    changes = changes[: args.list]
    summary = total.summary()
    summary["listed"] = len(changes)
    out = {"ruleset_version": RULESET_VERSION, "changes": changes, "summary": summary}
    sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0
