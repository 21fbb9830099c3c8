"""Admission control for batch work: bounded concurrent batches per API key and in total, and a time
budget per batch (a self-contained Flask extension). A ruleset-impact run (``POST /v1/ruleset-impact``)
is batch work too: it takes the same slots and keeps the same time budget.

A batch of 1,000 panels holds a worker for one to a few seconds of CPU; a key holder sending many at
once would otherwise occupy every worker, starve single interpretations and run batches into the
worker timeout. So:

* **Slots.** At most ``MGI_BATCH_CONCURRENCY`` batches run at once over all workers, and at most
  ``MGI_BATCH_CONCURRENCY_PER_KEY`` for one API key. A batch beyond either limit is refused at once
  with 429, a ``Retry-After`` header and the standard error body; the client sends it again later.
  Single interpretations (JSON, HL7 v2, FHIR) never wait for a slot, and since the total stays below
  the worker count, some workers are always free for them.
* **Time budget.** A batch stops starting new items once ``MGI_BATCH_TIME_BUDGET`` seconds have passed
  since its request began (well under the worker timeout). It answers 200 with the usual body: the
  items it finished, then one result per item it did not start, ``status`` 503 with the standard
  error body saying the budget ran out and from which index to send again. ``failed`` counts them;
  the response also carries ``Retry-After``.

Slots work across gunicorn's worker processes: each slot is a file in the runtime directory
(``MGI_RUNTIME_DIR``, made by gunicorn.conf.py at start, on a RAM disk when there is one), held with
an exclusive ``flock`` for as long as the batch runs. The kernel drops the lock when the holding
process exits in any way, SIGKILL included, so a dead worker never keeps a slot. Without a runtime
directory (tests, a single process) the app makes a private one.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus

from flask import Flask, Response, current_app, g, stream_with_context
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .errors import error_response

log = logging.getLogger("mgi.admission")

EXTENSION = "mgi_admission"
ENV_RUNTIME_DIR = "MGI_RUNTIME_DIR"
ENV_TOTAL = "MGI_BATCH_CONCURRENCY"
ENV_PER_KEY = "MGI_BATCH_CONCURRENCY_PER_KEY"
ENV_BUDGET = "MGI_BATCH_TIME_BUDGET"
#: Seconds. gunicorn.conf.py passes a third of the worker timeout (5 s with the default 15 s).
DEFAULT_BUDGET = 5.0


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _setting(app: Flask, name: str, env: str, default: float, kind: type = int) -> float:
    raw = app.config.get(name)
    if raw is None:
        raw = os.environ.get(env, "").strip() or None
    if raw is None:
        return default
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise RuntimeError(f"{env}={raw!r}: expected a {'whole ' if kind is int else ''}number") from None
    if not value > 0 or not math.isfinite(value):
        raise RuntimeError(f"{env}={raw!r}: expected a number above 0")
    return value


class Slots:
    """A counting semaphore over processes: ``size`` lock files, one ``flock`` per holder."""

    def __init__(self, directory: str, name: str, size: int) -> None:
        self.paths = [os.path.join(directory, f"{name}.{i}.slot") for i in range(size)]

    def try_acquire(self) -> int | None:
        """A held slot's file descriptor, or None when every slot is held (never waits)."""
        for path in self.paths:
            # A fresh descriptor per attempt: flock locks belong to an open file description, so two
            # threads of one process sharing a descriptor would both "hold" the slot.
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            except BaseException:
                os.close(fd)
                raise
            return fd
        return None

    def held(self) -> int | None:
        """How many slots are held now (by any process), for the gauge: read from /proc/locks, so that
        looking never takes a lock a batch could then miss. None where /proc/locks is not readable."""
        wanted = set()
        for path in self.paths:
            try:
                st = os.stat(path)
            except OSError:
                continue
            wanted.add((os.major(st.st_dev), os.minor(st.st_dev), st.st_ino))
        try:
            with open("/proc/locks") as f:
                lines = f.readlines()
        except OSError:
            return None
        count = 0
        for line in lines:
            fields = line.split()
            if len(fields) > 5 and fields[1] == "FLOCK" and fields[3] == "WRITE":
                major, minor, inode = fields[5].split(":")
                if (int(major, 16), int(minor, 16), int(inode)) in wanted:
                    count += 1
        return count

    @staticmethod
    def release(fd: int) -> None:
        os.close(fd)  # closing the last descriptor of the open file description drops the lock


@dataclass
class Admission:
    directory: str
    total: int
    per_key: int
    budget: float
    refused_total: int = 0
    refused_key: int = 0

    @property
    def retry_after(self) -> int:
        # A running batch ends within its budget, so a slot is free again by then.
        return max(1, math.ceil(self.budget))

    def all_slots(self) -> Slots:
        return Slots(self.directory, "batch", self.total)

    def key_slots(self, key_name: str) -> Slots:
        return Slots(self.directory, f"batch-key-{key_name}", self.per_key)


_private_dir: str | None = None


def _private_runtime_dir() -> str:
    """One directory per process when no runtime directory is configured (tests, a single process)."""
    global _private_dir
    if _private_dir is None:
        _private_dir = tempfile.mkdtemp(prefix="mgi-runtime-")
        atexit.register(shutil.rmtree, _private_dir, True)
    return _private_dir


def init_admission(app: Flask) -> Admission:
    directory = app.config.get("RUNTIME_DIR") or os.environ.get(ENV_RUNTIME_DIR) or _private_runtime_dir()
    os.makedirs(directory, exist_ok=True)
    total = int(_setting(app, "BATCH_CONCURRENCY", ENV_TOTAL, max(1, _cores())))
    per_key = int(_setting(app, "BATCH_CONCURRENCY_PER_KEY", ENV_PER_KEY, max(1, math.ceil(total / 2))))
    budget = _setting(app, "BATCH_TIME_BUDGET", ENV_BUDGET, DEFAULT_BUDGET, float)
    state = Admission(directory, total, min(per_key, total), budget)
    app.extensions[EXTENSION] = state

    def refuse_counts() -> Iterator[object]:
        refused = CounterMetricFamily(
            "mgi_batch_refused",
            "Batches and ruleset-impact runs refused with 429 by the answering process, by the limit that "
            "refused them.",
            labels=("limit",),
        )
        refused.add_metric(("per_key",), float(state.refused_key))
        refused.add_metric(("total",), float(state.refused_total))
        yield refused
        running = state.all_slots().held()
        if running is not None:
            yield GaugeMetricFamily(
                "mgi_batches_running",
                "Batches and ruleset-impact runs holding a slot now (all workers).",
                value=running,
            )
        yield GaugeMetricFamily("mgi_batch_concurrency_limit", "MGI_BATCH_CONCURRENCY.", value=state.total)

    observability = app.extensions.get("mgi_observability")
    if observability is not None:
        observability.status_metrics.append(refuse_counts)

    @app.teardown_request
    def _release_batch_slots(_exc: BaseException | None) -> None:
        for fd in g.pop("mgi_batch_slots", ()):
            Slots.release(fd)

    return state


def admit_batch(key_name: str | None, work: str = "batch") -> Response | None:
    """Take a per-key and a total batch slot for this request, or answer 429 (call before parsing).
    ``work`` names what was not started in the 429's message ("batch", "ruleset impact")."""
    state: Admission = current_app.extensions[EXTENSION]
    key_fd = state.key_slots(key_name or "anonymous").try_acquire()
    if key_fd is None:
        state.refused_key += 1
        return _too_many(
            state,
            work,
            f"{state.per_key} batch(es) or ruleset-impact run(s) of this API key are already running "
            "(MGI_BATCH_CONCURRENCY_PER_KEY)",
        )
    total_fd = state.all_slots().try_acquire()
    if total_fd is None:
        Slots.release(key_fd)
        state.refused_total += 1
        return _too_many(
            state,
            work,
            f"{state.total} batch(es) or ruleset-impact run(s) are already running (MGI_BATCH_CONCURRENCY)",
        )
    g.mgi_batch_slots = (total_fd, key_fd)
    return None


def streamed_holding_slots(chunks: Iterator[bytes], mimetype: str) -> Response:
    """A streamed response that keeps this request's batch slots until its body is sent whole or the
    response is closed (the client gone), not only until the view returns: Flask tears the request
    down before a streamed body is produced. Released once, whichever comes first (every WSGI server
    closes the responses it was given; a test client may not)."""
    fds = list(g.pop("mgi_batch_slots", ()))

    def release() -> None:
        while fds:
            Slots.release(fds.pop())

    def body() -> Iterator[bytes]:
        try:
            yield from chunks
        finally:
            release()

    response = Response(stream_with_context(body()), mimetype=mimetype)
    response.call_on_close(release)
    return response


def _too_many(state: Admission, work: str, why: str) -> Response:
    return error_response(
        HTTPStatus.TOO_MANY_REQUESTS.value,
        f"{work} not started: {why}; send it again in {state.retry_after} s. Single interpretations are "
        "not limited",
        {},
        {"Retry-After": str(state.retry_after)},
    )


def batch_deadline() -> float:
    """``time.perf_counter()`` value after which a batch starts no new item."""
    state: Admission = current_app.extensions[EXTENSION]
    start = g.get("mgi_t0")
    return (start if start is not None else time.perf_counter()) + state.budget


def budget_error(first_index: int) -> dict[str, object]:
    """The standard error body for an item a batch did not start because its budget ran out."""
    from .errors import error_body

    state: Admission = current_app.extensions[EXTENSION]
    return error_body(
        HTTPStatus.SERVICE_UNAVAILABLE.value,
        f"not interpreted: the batch used its {state.budget:g} s time budget (MGI_BATCH_TIME_BUDGET) "
        f"before this item; send the items from index {first_index} on again",
    )


def retry_after() -> int:
    return current_app.extensions[EXTENSION].retry_after
