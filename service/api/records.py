"""The shell's side of the records store (service/store): storing answers, reading them back, the
audit trail, serial memory. The views in views.py call these; with the store off (MGI_STORE=off)
none of this runs and the service answers exactly as a stateless one (200, no id).

Serial memory: a request with ``patient_ref`` gets the patient's stored panels of the last
``WINDOW_MONTHS`` (the longest window of the serial rules, clinical-reference §3.5) as history. A
request's own history wins on the same date; ``history_used`` lists what the rules saw and where it
came from, and a note says when the two were merged.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from time import perf_counter
from typing import Any, Generic, NamedTuple, TypeVar

from flask import Flask, Response, current_app, g, request
from marshmallow import ValidationError

from service.domain import plausibility
from service.domain import ruleset as R
from service.domain.panel import Clinical, HistoryEntry, Panel, Scleromyxedema
from service.domain.quantity import Analyte
from service.domain.serial import add_months, within
from service.store import (
    IdempotencyConflict,
    NewRecord,
    Record,
    RecordStore,
    SchemaNotCurrent,
    StoreUnavailable,
    canonical_hash,
    migrate,
    patient_key_secret,
    read_settings,
)
from service.store.repository import PanelRow, Pending

from .errors import error_response
from .history_merge import combine, results_of
from .observability import count_interpretations
from .parsing import parse_body
from .schemas import MAX_HISTORY, HistoryEntrySchema, without_unused_ranges

log = logging.getLogger("mgi.records")
EXTENSION = "mgi.store"

# ref: §3.5 — the longest window of the serial rules (12 months): stored panels older than this
# before the current one cannot change a serial finding, so they are not fetched.
WINDOW_MONTHS = max(
    R.EVOLVING_EARLY_MONTHS, R.EVOLVING_MONTHS, R.EVOLVING_HB_MONTHS, R.SUCCESSIVE_RISE_MONTHS
)
RETRY_AFTER_SECONDS = 5
MAX_IDEMPOTENCY_KEY = 255
RELEASE_STATUSES = ("auto", "review_required", "reviewed", "amended")
HISTORY_SCHEMA = HistoryEntrySchema()

# app.config keys that override the MGI_* environment variables of the same meaning (tests use them).
CONFIG_TO_ENV = {
    "STORE": "MGI_STORE",
    "DATABASE_URL": "MGI_DATABASE_URL",
    "DATA_DIR": "MGI_DATA_DIR",
    "PATIENT_KEY_SECRET": "MGI_PATIENT_KEY_SECRET",
    "RETENTION_DAYS": "MGI_RETENTION_DAYS",
    "STORE_FAIL_OPEN": "MGI_STORE_FAIL_OPEN",
}


@dataclass
class StoreState:
    store: RecordStore
    fail_open: bool


def _env(app: Flask) -> dict[str, str]:
    env = dict(os.environ)
    for key, name in CONFIG_TO_ENV.items():
        if key in app.config:
            value = app.config[key]
            env[name] = {True: "1", False: "0"}.get(value, str(value)) if value is not None else ""
    return env


def init_store(app: Flask) -> StoreState | None:
    """Open the store (unless MGI_STORE=off) and refuse to start on a schema that is not current.

    ``app.config["STORE_AUTO_MIGRATE"]`` migrates instead (``python -m service`` in development mode
    does this for its embedded SQLite file before starting the workers)."""
    env = _env(app)
    settings = read_settings(env)
    if not settings.enabled:
        app.extensions[EXTENSION] = None
        return None
    dev_mode = bool(getattr(app.extensions.get("mgi_security"), "dev_mode", False))
    secret = patient_key_secret(settings.data_dir, dev_mode=dev_mode, env=env)
    store = RecordStore.from_url(settings.url, secret)
    try:
        if app.config.get("STORE_AUTO_MIGRATE"):
            migrate.upgrade(store.engine)
        migrate.check_current(store.engine)
    except SchemaNotCurrent:
        store.dispose()
        raise
    except Exception as e:
        store.dispose()
        raise StoreUnavailable(
            f"the records database cannot be reached at start-up ({type(e).__name__})"
        ) from e
    state = StoreState(store, settings.fail_open)
    app.extensions[EXTENSION] = state
    previous = app.config.get("READINESS_CHECK")

    def readiness() -> tuple[bool, str]:
        if previous is not None:
            ok = previous()
            ok, reason = ok if isinstance(ok, tuple) else (ok, "")
            if not ok:
                return False, reason or "readiness check reported not ready"
        return state.store.ping()

    app.config["READINESS_CHECK"] = readiness
    app.register_error_handler(StoreUnavailable, _unavailable)
    return state


def state() -> StoreState | None:
    """The store of the current app, or None when it is off."""
    return current_app.extensions.get(EXTENSION)


def _unavailable(e: StoreUnavailable) -> Response:
    log.error("records database unavailable: %s", e)
    return error_response(
        503,
        "The records database is unavailable: the request was not processed. Retry later.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def not_kept() -> Response:
    return error_response(404, "This service keeps no records (the store is off: MGI_STORE=off).")


# --------------------------------------------------------------------------- serial memory
@dataclass
class Serial:
    panel: Panel
    used: list[dict[str, Any]]
    from_store: list[dict[str, Any]]  # {"record_id", "entry"} as stored with the record
    notes: list[str]


Loaded = tuple[HistoryEntry, dict[str, Any]]
V = TypeVar("V")


class LoadedPanels(Generic[V]):
    """Stored panels loaded as history entries, by the record ids they come from. A stored request
    never changes, so each is validated once per worker process, not at every request of its
    patient; bounded, the least recently used dropped first."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, ...], V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...], load: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        loaded = load()
        with self._lock:
            self._items[key] = loaded
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        return loaded


def _validated(entry: dict[str, Any] | None) -> Loaded | None:
    if entry is None:
        return None
    try:
        return HISTORY_SCHEMA.load(entry), entry
    except ValidationError:
        return None


# One stored record (with the results of it today's rules refuse), by its id; one day of several
# records combined, by the ids it takes results from.
LOADED_RECORDS: LoadedPanels[tuple[Loaded | None, tuple[str, ...]]] = LoadedPanels()
LOADED_DAYS: LoadedPanels[Loaded | None] = LoadedPanels()


def _entry_json(r: PanelRow) -> dict[str, Any] | None:
    """The results of one stored request a history entry takes (None when it has none)."""
    sections = results_of(without_unused_ranges(r.request))
    return {"collected_on": r.collected_on.isoformat(), **sections} if sections else None


def _load_record(r: PanelRow) -> tuple[Loaded | None, tuple[str, ...]]:
    """One stored record as a history entry, and the results of it today's rules refuse (a
    plausibility window added since it was stored), left out one by one: the SPEP, the FLC pair, the
    urine study, each lab value. None: no result left."""
    entry = _entry_json(r)
    if entry is None:
        return None, ()
    whole = _validated(entry)
    if whole is not None:
        return whole, ()
    on = entry["collected_on"]
    parts = [(k, {k: v}) for k, v in entry.items() if k not in ("collected_on", "labs")]
    parts += [(f"labs.{a}", {"labs": {a: q}}) for a, q in (entry.get("labs") or {}).items()]
    kept: dict[str, Any] = {"collected_on": on}
    refused: list[str] = []
    for name, part in parts:
        if _validated({"collected_on": on, **part}) is None:
            refused.append(name)
        elif "labs" in part:
            kept["labs"] = {**kept.get("labs", {}), **part["labs"]}
        else:
            kept.update(part)
    return (_validated(kept) if len(kept) > 1 else None), tuple(refused)


class Day(NamedTuple):
    """One day's stored records as one history entry."""

    loaded: Loaded | None  # None: every result of the day is refused
    ids: list[str]  # the records it takes results from, oldest first
    refused: list[str]  # results today's rules refuse, left out ("labs.hemoglobin of <record id>")


def day_entry(rows: list[PanelRow]) -> Day | None:
    """One day's stored records of a patient (in the order they were stored) as one history entry:
    each result from the latest record that has it (a corrected result resent supersedes; a later
    record with other results, an immunofixation sent on its own, adds to the day). A result today's
    rules refuse is left out, and said."""
    loaded: list[tuple[PanelRow, Loaded]] = []
    refused: list[str] = []
    for r in rows:
        got, dropped = LOADED_RECORDS.get((r.id,), partial(_load_record, r))
        refused += [f"{name} of record {r.id}" for name in dropped]
        if got is not None:
            loaded.append((r, got))
    if not loaded:
        return Day(None, [], refused) if refused else None
    merged, used = combine([entry for _, (_, entry) in loaded])
    ids = [loaded[i][0].id for i in used]
    if len(used) == 1 and loaded[used[0]][1][1] == merged:
        return Day(loaded[used[0]][1], ids, refused)
    got = LOADED_DAYS.get(tuple(ids), lambda: _validated(merged))
    return Day(got, ids, refused)


def history_window(panel: Panel) -> tuple[date, date]:
    """[from, before): the dates of stored panels that can be the history of ``panel``."""
    current = panel.collected_on or datetime.now(UTC).date()
    if current.year <= 1:  # a panel dated in year 1: no earlier calendar year to look back into
        return date.min, current
    return add_months(current, -WINDOW_MONTHS), current


def for_sex(day: Day, sex: str | None) -> Day:
    """``day`` as history of a request giving ``sex``: a stored haemoglobin whose lower reference
    limit is implausible for that sex (§1.1) is left out, as the request's own history entry with it
    would be refused; the rest of the day still serves."""
    if day.loaded is None or sex not in ("female", "male"):
        return day
    entry, raw = day.loaded
    q = entry.labs.hemoglobin if entry.labs is not None else None
    if q is None:
        return day
    try:
        # ref: §1.1 — haemoglobin's lower reference limit against the window for the patient's sex
        plausibility.check_lower_limit_for_sex(Analyte.HEMOGLOBIN, q, sex)
        return day
    except plausibility.Implausible:
        pass
    labs = {k: v for k, v in raw["labs"].items() if k != "hemoglobin"}
    kept = {k: v for k, v in raw.items() if k != "labs"} | ({"labs": labs} if labs else {})
    where = f"record {day.ids[0]}" if len(day.ids) == 1 else f"records {', '.join(day.ids)}"
    return day._replace(
        loaded=_validated(kept) if len(kept) > 1 else None,
        refused=[
            *day.refused,
            f"labs.hemoglobin of {where} (its lower reference limit is implausible for a {sex} patient)",
        ],
    )


def _refused_note(refused: dict[str, list[str]]) -> list[str]:
    if not refused:
        return []
    days = "; ".join(f"{on}: {', '.join(names)}" for on, names in sorted(refused.items()))
    return [
        "Stored results that today's rules refuse (a plausibility window added since they were "
        "stored, or a reference limit implausible for the patient's sex as this request gives it, "
        f"clinical-reference §1.1) were left out of the history: {days}."
    ]


# The Rongioletti findings (§5) a stored statement of scleromyxoedema carries with it.
_RONGIOLETTI_FIELDS = (
    "papular_eruption",
    "sclerodermoid_induration",
    "histology_mucin_fibrosis",
    "thyroid_disease",
)


def carried_scleromyxoedema(panel: Panel, rows: list[PanelRow]) -> tuple[Panel, list[str]]:
    """§5: scleromyxoedema stated (confirmed or suspected) with the patient's latest stored panel that
    states it at all, carried to a request that states nothing about it (an LIS sends the follow-up
    protein studies without the clinical findings): the MGCS flag and referral are not lost between
    visits. A stored statement of absence, or the request's own statement of the diagnosis, ends the
    carry; a Rongioletti finding the request states is its own (an eruption now absent does not
    undo a confirmed diagnosis)."""
    # ref: §5 — in MGCS the skin disease, not the size of the clone, drives the referral.
    c = panel.clinical
    if c is not None and c.scleromyxedema is not None:
        return panel, []  # the request states the diagnosis itself
    for r in sorted(rows, key=lambda r: (r.collected_on, r.seq), reverse=True):
        if '"scleromyxedema"' not in r.body:
            continue
        stored = r.request.get("clinical") or {}
        status = stored.get("scleromyxedema")
        if status not in ("confirmed", "suspected"):
            return panel, []  # stated absent (or not stated) on the latest record that speaks of it
        found = {k: stored.get(k) for k in _RONGIOLETTI_FIELDS if isinstance(stored.get(k), bool)}
        for k in _RONGIOLETTI_FIELDS:
            if c is not None and getattr(c, k) is not None:
                found.pop(k, None)  # the request's own finding stands (the diagnosis is carried)
        clinical = (c or Clinical())._replace(scleromyxedema=Scleromyxedema(status), **found)
        note = (
            f"Scleromyxoedema ({status}) is recorded with this patient's panel of "
            f"{r.collected_on.isoformat()} (record {r.id}) and was carried to this answer, whose request "
            "states nothing about it (clinical-reference §5: the skin disease, not the size of the clone, "
            "drives the referral). Send clinical.scleromyxedema to state otherwise."
        )
        return panel._replace(clinical=clinical), [note]
    return panel, []


def with_stored_history(
    panel: Panel, rows: list[PanelRow], sent_history: list[dict[str, Any]] | None = None
) -> Serial:
    """The panel with the patient's stored earlier panels (``rows``, oldest first) merged into its
    history. ``sent_history``: the request's own history entries as sent (JSON); on a date both have,
    the request's results stand and the stored ones only fill what the request's entry lacks."""
    panel, carried = carried_scleromyxoedema(panel, rows)
    used = [
        {"collected_on": on.isoformat(), "source": "request"}
        for on in sorted(h.collected_on for h in panel.history)  # by date, as without the store
    ]
    _, current = history_window(panel)
    days: dict[date, list[PanelRow]] = {}
    baseline: date | None = None
    for r in rows:  # oldest first, in the order each day's records were stored
        if within(r.collected_on, current, WINDOW_MONTHS):
            days.setdefault(r.collected_on, []).append(r)
        elif r.collected_on < current and baseline in (None, r.collected_on):
            # ref: §3.5 — the patient's first stored day with a serum M-protein, before the window: the
            # baseline from which "the first 6 months" of follow-up count (the first panel of the window
            # is not it).
            baseline = r.collected_on
            days.setdefault(r.collected_on, []).append(r)
    sent = {h.collected_on for h in panel.history}
    sent_json = {str(e.get("collected_on")): e for e in sent_history or () if isinstance(e, dict)}
    same_day: list[str] = []
    combined: list[str] = []
    completed: dict[date, tuple[HistoryEntry, dict[str, Any]]] = {}
    refused: dict[str, list[str]] = {}
    added: list[tuple[HistoryEntry, dict[str, Any]]] = []
    sex = panel.patient.sex if panel.patient is not None else None
    for on, day in sorted(days.items()):
        got = day_entry(day)
        if got is not None:
            got = for_sex(got, sex)
        if got is not None and got.refused:
            refused[on.isoformat()] = got.refused
        if on in sent:
            same_day.append(on.isoformat())
            own = sent_json.get(on.isoformat())
            if got is None or got.loaded is None or own is None:
                continue
            (_, stored_entry), ids = got.loaded, got.ids
            merged, used_from = combine([stored_entry, own])
            if 0 not in used_from:
                continue  # the request's entry has every result the stored day has
            completion = _validated(merged)
            if completion is not None:
                completed[on] = (
                    completion[0],
                    {"record_id": ids[-1], "entry": stored_entry, "completes_request": True}
                    | ({"record_ids": ids} if len(ids) > 1 else {}),
                )
            continue
        if got is None or got.loaded is None:
            continue
        (loaded, entry), ids = got.loaded, got.ids
        stored: dict[str, Any] = {"record_id": ids[-1], "entry": entry}
        if len(ids) > 1:
            stored["record_ids"] = ids
            combined.append(on.isoformat())
        added.append((loaded._replace(from_store=True), stored))
    if not added and not same_day:
        return Serial(panel, used, [], carried + _refused_note(refused))
    own_history = [completed[h.collected_on][0] if h.collected_on in completed else h for h in panel.history]
    history = own_history + [h for h, _ in added]
    notes: list[str] = []
    if len(history) > MAX_HISTORY:
        history.sort(key=lambda h: h.collected_on)
        history = history[-MAX_HISTORY:]
        notes.append(f"Only the {MAX_HISTORY} most recent earlier panels were used as history.")
    kept = {h.collected_on for h in history}
    from_store = [s for on, (_, s) in sorted(completed.items()) if on in kept]
    from_store += [s for h, s in added if h.collected_on in kept]
    for u in used:  # the request's entries completed from the store name the records
        on = date.fromisoformat(u["collected_on"])
        if on in completed:
            s = completed[on][1]
            u["store_ids"] = s.get("record_ids", [s["record_id"]])
    used += [
        {
            "collected_on": s["entry"]["collected_on"],
            "source": "store",
            "id": s["record_id"],
            **({"record_ids": s["record_ids"]} if "record_ids" in s else {}),
        }
        for s in from_store
        if not s.get("completes_request")
    ]
    used = [u for u in used if date.fromisoformat(u["collected_on"]) in kept]
    used.sort(key=lambda u: u["collected_on"])
    if from_store and panel.history:
        notes.append(
            f"History merged: {len(panel.history)} earlier panel(s) sent with the request and "
            f"{len(from_store)} from this service's records of the patient"
            + (f"; on {', '.join(same_day)} both had a panel and the request's was used" if same_day else "")
            + "."
        )
    elif from_store:
        in_window = [s for s in from_store if s["entry"]["collected_on"] != str(baseline)]
        if in_window:
            notes.append(
                f"{len(in_window)} earlier panel(s) of the patient from this service's records were used as "
                f"history (panels of the {WINDOW_MONTHS} months before this one, clinical-reference §3.5)."
            )
    elif same_day:
        notes.append(
            f"This service's records of the patient have panels on {', '.join(same_day)}; the request's "
            "history entries of those dates were used."
        )
    filled = [on.isoformat() for on in sorted(completed) if on in kept]
    if filled:
        notes.append(
            f"On {', '.join(filled)} the request's own history entry lacked results this service's "
            "records of the patient have for that day: those were added to it (the request's results "
            "were kept where both had one; store_ids in history_used)."
        )
    combined = [on for on in combined if date.fromisoformat(on) in kept]
    if combined:
        notes.append(
            f"On {', '.join(combined)} the patient has more than one stored record: their results were "
            "combined into that day's history entry, the latest record's where two had the same result "
            "(record_ids in history_used)."
        )
    if baseline is not None and baseline in kept and baseline not in sent:
        notes.append(
            f"The patient's first stored M-protein, of {baseline.isoformat()}, before those {WINDOW_MONTHS} "
            "months, was used too: it is the baseline from which the serial rules count the first 6 months "
            "of follow-up (clinical-reference §3.5)."
        )
    notes += carried + _refused_note(refused)
    new = panel._replace(history=tuple(history))
    if panel.collected_on is None:
        new = new._replace(collected_on=current, collected_on_assumed=True)
    return Serial(new, used, from_store, notes)


# --------------------------------------------------------------------------- storing an answer
# Printable ASCII but the comma: a header sent twice reaches the application as one value, the two
# joined by a comma (gunicorn, Werkzeug and proxies alike; RFC 9110 §5.3), so a comma is what tells a
# repeated key apart. Read as one key, "A,B" would bind neither A nor B.
IDEMPOTENCY_KEY_PATTERN = r"^[ -+\--~]{1,255}$"
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
KEY_REPEATED = (
    "Sent more than once (repeated headers arrive joined by a comma, and a key holds no comma): send one "
    "Idempotency-Key."
)


def idempotency_key() -> str | None | Response:
    """The Idempotency-Key header: None, the key, or a 422 naming it (checked with the store off too:
    a malformed header, or one sent more than once, is never silently ignored)."""
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        return None
    if "," in raw:
        return error_response(
            422, "Idempotency-Key sent more than once", {"header.Idempotency-Key": [KEY_REPEATED]}
        )
    if _IDEMPOTENCY_KEY.match(raw) is None:
        return error_response(
            422,
            "Idempotency-Key must be 1-255 printable ASCII characters other than a comma",
            {
                "header.Idempotency-Key": [
                    f"Must be 1-{MAX_IDEMPOTENCY_KEY} printable ASCII characters other than a comma."
                ]
            },
        )
    return raw


def idempotency_parameter(description: str) -> dict[str, Any]:
    """The Idempotency-Key header as the OpenAPI document declares it on an endpoint that takes it."""
    return {
        "in": "header",
        "name": "Idempotency-Key",
        "required": False,
        "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
        "description": description,
    }


BATCH_KEY_MESSAGE = (
    "Idempotency-Key is not taken with a batch: a batch is not retried as a whole, each of its items "
    "is recognised as a retry on its own (the same patient_ref, specimen_id and body; an HL7 message by "
    "its sender, control ID and bytes). Send the batch again without the header."
)


def no_key_on_batch() -> Response | None:
    """A 422 naming the Idempotency-Key header on a batch request (never silently ignored), else None."""
    if "Idempotency-Key" not in request.headers:
        return None
    return error_response(
        422, BATCH_KEY_MESSAGE, {"header.Idempotency-Key": ["Not taken with a batch; send it without."]}
    )


def created(record: Record, replayed: bool) -> Response:
    from .views import json_response

    resp = json_response({"id": record.id, **record.response}, status=201)
    resp.headers["Location"] = f"/v1/interpretations/{record.id}"
    if replayed:
        resp.headers["Idempotent-Replayed"] = "true"
    g.ruleset_version = record.ruleset_version
    g.classification_code = record.classification_code
    return resp


def pending(
    panel: Panel,
    body: dict[str, Any],
    source: str,
    idem: str | None,
    own_key: str | None = None,
    input_notes: list[str] | None = None,
) -> Pending:
    """What storing ``panel`` needs: its retry identity, its history window, and how to interpret it
    (with the patient's stored panels) into its record. ``own_key``: beside an Idempotency-Key, the
    message's own retry key (HL7 v2, FHIR)."""
    from .views import interpretation_payload

    st = state()
    assert st is not None
    canonical = {k: v for k, v in body.items() if k != "patient_ref"}
    rhash = canonical_hash(canonical)
    api_key_name = g.get("api_key_name")
    request_id = g.get("request_id")
    keys = st.store.patient_keys(panel.patient_ref) if panel.patient_ref is not None else []
    pkey = keys[0] if keys else None
    start, before = history_window(panel)

    def make(rows: list[PanelRow]) -> NewRecord:
        history_sent = body.get("history")
        serial = with_stored_history(panel, rows, history_sent if isinstance(history_sent, list) else None)
        payload = interpretation_payload(serial.panel)
        payload["history_used"] = serial.used
        if input_notes:
            payload["input_notes"] = list(input_notes)
        if serial.notes:
            payload["notes"] = [*payload.get("notes", []), *serial.notes]
        release = payload.get("release")
        status = release.get("status", "auto") if isinstance(release, dict) else "auto"
        return NewRecord(
            request=canonical,
            response=payload,
            collected_on=serial.panel.collected_on or datetime.now(UTC).date(),
            patient_key=pkey,
            specimen_id=panel.specimen_id,
            source=source,
            api_key_name=api_key_name,
            request_id=request_id,
            idempotency_key=idem,
            ruleset_version=payload["ruleset_version"],
            classification_code=payload["classification"]["code"],
            status=status,
            store_history=serial.from_store or None,
            request_hash=rhash,
        )

    return Pending(
        api_key_name,
        idem,
        pkey,
        panel.specimen_id,
        rhash,
        start,
        before,
        make,
        own_key,
        written_key=keys[1] if len(keys) > 1 else None,
    )


def store_panel(
    store: RecordStore,
    panel: Panel,
    body: dict[str, Any],
    source: str,
    idem: str | None,
    own_key: str | None = None,
    input_notes: list[str] | None = None,
) -> tuple[Record, bool]:
    """Interpret ``panel`` (with the patient's stored history) and store it: (record, True), or
    (the earlier record, False) for a retry. Raises IdempotencyConflict, StoreUnavailable."""
    return store.record(pending(panel, body, source, idem, own_key, input_notes))


FAIL_OPEN_NOTE = (
    "Not stored: the records database was unavailable (this service is configured to answer anyway). "
    "The patient's stored history, if any, was not used."
)


def unstored_payload(panel: Panel, e: StoreUnavailable) -> dict[str, Any]:
    """Fail-open: the answer without a record (MGI_STORE_FAIL_OPEN=1)."""
    from .views import interpretation_payload

    log.error("records database unavailable, answering without a record (fail-open): %s", e)
    payload = interpretation_payload(panel)
    payload["notes"] = [*payload.get("notes", []), FAIL_OPEN_NOTE]
    return payload


def idempotency_conflict() -> Response:
    return error_response(
        422,
        "this Idempotency-Key was used for another request body",
        {"header.Idempotency-Key": ["Already used for a different request body."]},
    )


def interpret_and_store(panel: Panel, source: str = "json") -> Response:
    """POST /v1/interpretations with the store on: 201 with the record's id and Location."""
    from .views import json_response

    st = state()
    assert st is not None
    key_or_error = idempotency_key()
    if isinstance(key_or_error, Response):
        return key_or_error
    body = parse_body(request.get_data(cache=True))  # the body as sent (the schema accepted it)
    try:
        record, new = store_panel(st.store, panel, body, source, key_or_error)
    except IdempotencyConflict:
        return idempotency_conflict()
    except StoreUnavailable as e:
        if not st.fail_open:
            raise
        return json_response(unstored_payload(panel, e))
    return created(record, replayed=not new)


def store_translated(
    panel: Panel,
    body: dict[str, Any],
    source: str,
    idem: str | None = None,
    *,
    from_header: bool = False,
    own_key: str | None = None,
    input_notes: list[str] | None = None,
) -> dict[str, Any]:
    """An HL7 v2 or FHIR request, translated to the JSON contract, interpreted and stored in that
    canonical form (the raw message is not kept): the answer with its record's id. The interface's
    own reply (ORU^R01, DiagnosticReport) is built from it as without the store. ``idem``: the
    message's retry key (the same message again is the same record); ``from_header``: it is the
    client's Idempotency-Key header instead, and IdempotencyConflict is raised when that key was used
    for another body; ``own_key``: then the message's own retry key, whose record (the message sent
    without the header) is the same record when it was made from the same body."""
    st = state()
    assert st is not None
    try:
        try:
            record, new = store_panel(
                st.store, panel, body, source, idem, own_key if from_header else None, input_notes
            )
        except IdempotencyConflict:
            if from_header:
                raise
            # The same message read into another request (its age counted on another day): a new record.
            record, new = store_panel(st.store, panel, body, source, None, None, input_notes)
        g.record_replayed = not new  # the HTTP reply says so (Idempotent-Replayed), as for JSON
    except StoreUnavailable as e:
        if not st.fail_open:
            raise
        return unstored_payload(panel, e)
    return {"id": record.id, **record.response}


# Items stored per transaction in a batch: small enough that the time budget is checked often,
# large enough that a commit's wait is shared by many items.
STORE_BATCH_CHUNK = 32


def batch_items(items: list[Any]) -> Response:
    """POST /v1/interpretations/batch with the store on: each valid item is interpreted and stored in
    order (a later item of a patient sees an earlier one as history), answered 201 with its id."""
    from service.domain import RULESET_VERSION

    from .admission import batch_deadline, budget_error
    from .admission import retry_after as admission_retry_after
    from .errors import error_body, flatten
    from .schemas import InterpretationRequestSchema
    from .views import REQUEST_SCHEMA, json_bytes

    st = state()
    assert st is not None
    assert isinstance(REQUEST_SCHEMA, InterpretationRequestSchema)
    # The batch's time budget (admission.py) holds here too: items go through in chunks, each loaded,
    # interpreted and stored in one transaction, and no chunk starts after the deadline; the items not
    # started are answered 503 with the standard error body, to be sent again.
    deadline = batch_deadline()
    stopped: int | None = None
    loaded: list[tuple[int, Panel | ValidationError]] = []
    stored: dict[int, Record] = {}
    unstored: dict[int, dict[str, Any]] = {}
    failure: StoreUnavailable | None = None
    for start in range(0, len(items), STORE_BATCH_CHUNK):
        if perf_counter() > deadline:
            stopped = start
            break
        chunk: list[tuple[int, Panel | ValidationError]] = []
        for i in range(start, min(start + STORE_BATCH_CHUNK, len(items))):
            try:
                chunk.append((i, REQUEST_SCHEMA.load(items[i])))
            except ValidationError as e:
                chunk.append((i, e))
        loaded.extend(chunk)
        valid = [(i, p) for i, p in chunk if isinstance(p, Panel)]
        if not valid:
            continue
        if failure is not None:  # the database failed on an earlier chunk (fail-open): answer unstored
            unstored.update({i: unstored_payload(p, failure) for i, p in valid})
            continue
        try:
            done = st.store.record_batch([pending(p, items[i], "batch", None) for i, p in valid])
            stored.update({i: r for (i, _), (r, _) in zip(valid, done, strict=True)})
        except StoreUnavailable as e:
            if not st.fail_open:
                raise
            failure = e
            unstored.update({i: unstored_payload(p, e) for i, p in valid})
    parts: list[bytes] = []
    ok = 0
    codes: dict[str, int] = {}
    for i, p in loaded:
        if isinstance(p, ValidationError):
            parts.append(
                json_bytes({"index": i, "status": 422, "error": error_body(422, None, flatten(p.messages))})
            )
        elif i in unstored:
            parts.append(json_bytes({"index": i, "status": 200, "interpretation": unstored[i]}))
            ok += 1
        else:
            record = stored[i]
            parts.append(
                json_bytes(
                    {"index": i, "status": 201, "interpretation": {"id": record.id, **record.response}}
                )
            )
            codes[record.classification_code] = codes.get(record.classification_code, 0) + 1
            ok += 1
    if stopped is not None:
        error = json_bytes(budget_error(stopped))
        parts.extend(b'{"index":%d,"status":503,"error":%s}' % (i, error) for i in range(stopped, len(items)))
    count_interpretations(codes)
    g.ruleset_version = RULESET_VERSION
    head = json_bytes(
        {"ruleset_version": RULESET_VERSION, "count": len(parts), "succeeded": ok, "failed": len(parts) - ok}
    )
    response = Response(
        b"".join((head[:-1], b',"results":[', b",".join(parts), b"]}")), mimetype="application/json"
    )
    if stopped is not None:
        response.headers["Retry-After"] = str(admission_retry_after())
    return response


# --------------------------------------------------------------------------- reading
def record_body(r: Record) -> dict[str, Any]:
    """GET /v1/interpretations/{id}: the stored request and answer with their provenance."""
    return {
        "id": r.id,
        "received_at": r.received_at.isoformat(),
        "collected_on": r.collected_on.isoformat(),
        "specimen_id": r.specimen_id,
        "source": r.source,
        "api_key_name": r.api_key_name,
        "request_id": r.request_id,
        "ruleset_version": r.ruleset_version,
        "status": r.status,
        "request": r.request,
        "interpretation": r.response,
        "reviews": [],
    }


def summary(r: Record) -> dict[str, Any]:
    """One row of the list (read without the request and answer bodies: GET the record for them)."""
    return {
        "id": r.id,
        "received_at": r.received_at.isoformat(),
        "collected_on": r.collected_on.isoformat(),
        "specimen_id": r.specimen_id,
        "source": r.source,
        "ruleset_version": r.ruleset_version,
        "status": r.status,
        "classification_code": r.classification_code,
        "flags": list(r.findings.get("flags") or ()),
        "location": f"/v1/interpretations/{r.id}",
    }


def _page_args(query: dict[str, Any]) -> tuple[int | None, Response | None]:
    cursor = query.get("cursor")
    if cursor is None:
        return None, None
    from service.store import decode_cursor

    try:
        return decode_cursor(str(cursor)), None
    except ValueError:
        return None, error_response(
            422, "not a cursor", {"query.cursor": ["Not a cursor this service returned."]}
        )


def list_view(query: dict[str, Any]) -> Response:
    from .views import json_response

    st = state()
    if st is None:
        # Stateless, the resource only interprets: the answer it gave before there was a list.
        return error_response(405, headers={"Allow": "POST"})
    before, err = _page_args(query)
    if err is not None:
        return err
    ref = query.get("patient_ref")
    page = st.store.list_records(
        patient_key=st.store.patient_keys(str(ref)) if ref is not None else None,
        status=query.get("status"),
        since=query.get("since"),
        before_seq=before,
        limit=int(query.get("limit") or 50),
        reader=g.get("api_key_name"),
        request_id=g.get("request_id"),
    )
    items = [summary(r) for r in page.records]
    amended = [i["id"] for i in items if i["status"] == "amended"]
    if amended:
        from service.review.store import amended_codes

        codes = amended_codes(st.store, amended)
        for item in items:
            if item["id"] in codes:
                # The category as released: an amendment's, not the one first computed.
                item["classification_code"] = codes[item["id"]]
    return json_response({"items": items, "next_cursor": page.next_cursor})


def get_view(record_id: str) -> Response:
    from .views import json_response

    st = state()
    if st is None:
        return not_kept()
    r = st.store.get(record_id, reader=g.get("api_key_name"), request_id=g.get("request_id"))
    if r is None:
        return error_response(404, "No stored interpretation has this id.")
    from service.review.store import decorate

    return json_response(decorate(st.store, record_body(r)))


def audit_view(query: dict[str, Any]) -> Response:
    from .views import json_response

    st = state()
    if st is None:
        return not_kept()
    before, err = _page_args(query)
    if err is not None:
        return err
    entries, cursor = st.store.reads(
        interpretation_id=query.get("interpretation_id"),
        since=query.get("since"),
        before_seq=before,
        limit=int(query.get("limit") or 100),
    )
    items = [
        {
            "interpretation_id": e.interpretation_id,
            "read_at": e.read_at.isoformat(),
            "api_key_name": e.api_key_name,
            "request_id": e.request_id,
            "via": e.via,
        }
        for e in entries
    ]
    return json_response({"items": items, "next_cursor": cursor})


def impact_view(body: dict[str, Any]) -> Response:
    """POST /v1/ruleset-impact: the report streamed (chunked) as the records are re-interpreted."""
    from . import impact
    from .admission import batch_deadline, streamed_holding_slots

    st = state()
    if st is None:
        return not_kept()
    after, err = _page_args(body)
    if err is not None:
        err_body = err.get_json()
        return error_response(422, "not a cursor", {"cursor": err_body["errors"]["query.cursor"]})
    ok, reason = st.store.ping()
    if not ok:  # once streaming has begun the status cannot change: check first
        raise StoreUnavailable(reason)
    chunks = impact.stream(
        st.store,
        since=body.get("since"),
        list_limit=body["list_limit"],
        after=after or 0,
        max_records=body["max_records"],
        deadline=batch_deadline(),
    )
    # The slots taken for the run are held until its last byte is sent (or the client leaves).
    return streamed_holding_slots(chunks, "application/json")
