"""``python -m service mllp``: HL7 v2 ORU^R01 over MLLP, interpretations sent on over MLLP.

Each inbound ORU^R01 is read by the same path as ``POST /v1/hl7v2`` (``interop.process_hl7``) and
answered with an original-mode ACK: AA once its interpretation is safely queued, AE for a content
error, AR for a rejected message, each with ERR naming the problem. The interpretation (an ORU^R01)
is written to the outbox (``service.adapters.outbound``) *before* the AA is sent, then delivered to
the outbound destination until it answers AA or CA.

Settings are environment variables (docs/mllp.md has the table); ``python -m service mllp status``
prints the outbox counts as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from flask import Flask, g

from service.adapters import hl7v2
from service.adapters.mllp import ListenerSettings, MllpListener, parse_allow_list
from service.adapters.outbound import (
    OutboundSender,
    Outbox,
    SenderSettings,
    SqliteOutbox,
    control_id_of,
)
from service.store import SchemaNotCurrent, StoreConfigError, StoreUnavailable

from . import MAX_BODY_BYTES, create_app
from .interop import EXTENSION, process_hl7

log = logging.getLogger("mgi.mllp")

OUTBOX_FILE = "mllp-outbox.sqlite3"
# The caller named in the records of messages received over MLLP (a space: never a configured key name).
MLLP_CALLER = "mllp listener"
LOCK_FILE = "mllp.lock"


class SettingsError(ValueError):
    """An MGI_MLLP_* (or MGI_DATA_DIR) value that cannot be used; the message names the variable."""


@dataclass(frozen=True, slots=True)
class MllpSettings:
    listener: ListenerSettings
    sender: SenderSettings
    data_dir: Path

    @property
    def outbox_path(self) -> Path:
        return self.data_dir / OUTBOX_FILE


def _number(
    env: Mapping[str, str], name: str, default: float, *, minimum: float, integer: bool = False
) -> Any:
    text = env.get(name, "").strip()
    if not text:
        return int(default) if integer else float(default)
    try:
        value: float = int(text) if integer else float(text)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise SettingsError(f"{name}={text!r}: expected {kind}") from None
    if not value >= minimum or value != value or value == float("inf"):
        raise SettingsError(f"{name}={text!r}: expected at least {minimum:g}")
    return value


def _host_port(name: str, text: str) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"{name}={text!r}: expected host:port, e.g. mirth.example.org:6661")
    return host, int(port)


def load_settings(env: Mapping[str, str] | None = None) -> MllpSettings:
    """Read the MGI_MLLP_* variables (see docs/mllp.md); every bad value is a SettingsError."""
    env = os.environ if env is None else env
    outbound = env.get("MGI_MLLP_OUTBOUND", "").strip()
    if not outbound:
        raise SettingsError(
            "MGI_MLLP_OUTBOUND is not set: the host:port of the MLLP destination for interpretations "
            "(e.g. your interface engine's inbound channel)"
        )
    out_host, out_port = _host_port("MGI_MLLP_OUTBOUND", outbound)
    try:
        allow = parse_allow_list(env.get("MGI_MLLP_ALLOW", ""))
    except ValueError as e:
        raise SettingsError(f"MGI_MLLP_ALLOW: {e}") from None
    # The HTTP endpoint's body limit, so that both interfaces accept the same messages.
    max_bytes = _number(env, "MGI_MAX_BODY_BYTES", MAX_BODY_BYTES, minimum=1024, integer=True)
    listener = ListenerSettings(
        host=env.get("MGI_MLLP_HOST", "").strip() or "127.0.0.1",
        port=_number(env, "MGI_MLLP_PORT", 2575, minimum=0, integer=True),
        max_bytes=max_bytes,
        max_connections=_number(env, "MGI_MLLP_MAX_CONNECTIONS", 32, minimum=1, integer=True),
        idle_timeout=_number(env, "MGI_MLLP_IDLE_TIMEOUT", 300, minimum=0.1),
        read_timeout=_number(env, "MGI_MLLP_READ_TIMEOUT", 30, minimum=0.1),
        workers=_number(env, "MGI_MLLP_WORKERS", 2, minimum=1, integer=True),
        stop_grace=_number(env, "MGI_MLLP_STOP_GRACE", 10, minimum=0),
        allow=allow,
    )
    if listener.port > 65535:
        raise SettingsError(f"MGI_MLLP_PORT={listener.port}: expected 0-65535")
    retry_base = _number(env, "MGI_MLLP_RETRY_BASE", 1, minimum=0.01)
    sender = SenderSettings(
        host=out_host,
        port=out_port,
        connect_timeout=_number(env, "MGI_MLLP_CONNECT_TIMEOUT", 10, minimum=0.1),
        ack_timeout=_number(env, "MGI_MLLP_ACK_TIMEOUT", 30, minimum=0.1),
        retry_base=retry_base,
        retry_max=_number(env, "MGI_MLLP_RETRY_MAX", 300, minimum=retry_base),
        keep_delivered_s=86400.0 * _number(env, "MGI_MLLP_KEEP_DAYS", 7, minimum=0),
    )
    data_dir = Path(env.get("MGI_DATA_DIR", "").strip() or "./var")
    return MllpSettings(listener, sender, data_dir)


class Hl7MllpHandler:
    """The listener's reading of one message: the /v1/hl7v2 rules, the outbox, the ACK."""

    def __init__(self, app: Flask, outbox: Outbox, notify: Callable[[], None] = lambda: None) -> None:
        self.app = app
        self.outbox = outbox
        self.notify = notify

    def handle(self, raw: bytes) -> bytes:
        try:
            return self._handle(raw)
        except StoreUnavailable as e:
            # As HTTP's 503: nothing was kept, and the same message will be answered once the
            # database is back, so the sender is told to send it again (never a final AR).
            log.error("records database unavailable, MLLP message not processed: %s", e)
            return _reject(raw, STORE_DOWN)
        except Exception:  # noqa: BLE001 - the sender gets an ACK it can file, never a dropped connection
            log.exception("MLLP message could not be processed")
            return _reject(raw, "internal error while reading the message")

    def _handle(self, raw: bytes) -> bytes:
        if hl7v2.is_batch(raw):
            # Over MLLP each frame is one message, acknowledged on its own (table 0357: 100, segment
            # sequence error: FHS/BHS where MSH must come first).
            return _reject(raw, BATCH_OVER_MLLP, 100)
        with self.app.app_context():
            # MLLP carries no API key: its records are stored as this caller, never as no one (a
            # retry is matched per caller, and no caller would match no one in a unique constraint).
            g.api_key_name = MLLP_CALLER
            try:
                outcome = process_hl7(raw, self.app.extensions[EXTENSION])
            except hl7v2.MessageTooLarge as e:
                return _reject(raw, str(e))
            if outcome.ack_code != "AA" or outcome.context is None:
                return outcome.reply.encode("utf-8")
            ctx = outcome.context
            # One sender's control id names one message: the same message sent again (its ACK was
            # lost) is answered AA again but not interpreted a second time downstream.
            key = "|".join(
                (
                    ctx.sending_application,
                    ctx.sending_facility,
                    ctx.control_id,
                    hashlib.sha256(raw).hexdigest(),
                )
            )
            try:
                fresh = self.outbox.enqueue(
                    key, control_id_of(outcome.reply), ctx.control_id, outcome.reply.encode("utf-8")
                )
            except Exception:
                log.exception("interpretation of %s could not be queued", ctx.control_id)
                error = hl7v2.Hl7Error(
                    "the interpretation could not be queued for delivery; send the message again",
                    hl7_code=207,
                    ack_code="AR",
                )
                return hl7v2.build_ack(ctx, error=error).encode("utf-8")
            if fresh:
                self.notify()
            else:
                log.info(
                    "message %s from %s received again: already queued",
                    ctx.control_id,
                    ctx.sending_application,
                )
            return hl7v2.build_ack(ctx, "AA").encode("utf-8")

    def too_large(self, head: bytes, limit: int) -> bytes:
        with self.app.app_context():
            return _reject(head.split(b"\r", 1)[0], f"HL7 message of more than {limit} bytes")


STORE_DOWN = (
    "the records database is unavailable: the message was not processed; send the message again later"
)
BATCH_OVER_MLLP = (
    "HL7 batch file (FHS/BHS) in one MLLP frame: send each message in its own frame, or POST the file "
    "to /v1/hl7v2"
)


def _reject(raw: bytes, text: str, hl7_code: int = 207) -> bytes:
    # Table 0357 has no code for "too large" or an internal failure: 207 with a text that says so.
    error = hl7v2.Hl7Error(text, hl7_code=hl7_code, ack_code="AR")
    return hl7v2.build_ack(raw, error=error).encode("utf-8")


def build_app() -> Flask:
    """The application whose request schema, code map and encoding the listener reads with.

    Its HTTP routes are never served here, so the API-key check has nothing to protect: a random key
    known to nobody satisfies its start-up rule without switching on development mode.
    """
    internal = hashlib.sha256(secrets.token_bytes(32)).hexdigest()
    return create_app({"API_KEYS": {"mllp-listener-internal": internal}})


@contextlib.contextmanager
def _exclusive(data_dir: Path):
    """One listener per data directory: two would deliver the same outbox twice."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / LOCK_FILE, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SettingsError(
                f"another MLLP listener is running on data directory {data_dir} (MGI_DATA_DIR)"
            ) from None
        yield


async def serve(
    settings: MllpSettings, stop: asyncio.Event, *, on_ready: Callable[[int], None] | None = None
) -> None:
    """Run the listener and the sender until ``stop`` is set, then stop both gracefully."""
    app = build_app()
    outbox = SqliteOutbox(settings.outbox_path)
    sender = OutboundSender(outbox, settings.sender)
    listener = MllpListener(Hl7MllpHandler(app, outbox, sender.notify), settings.listener)
    delivery = asyncio.create_task(sender.run())
    try:
        await listener.start()
        counts = outbox.counts()
        log.info(
            "MLLP listener ready on %s:%d; interpretations to %s:%d; outbox %s (%d pending)",
            settings.listener.host,
            listener.port,
            settings.sender.host,
            settings.sender.port,
            settings.outbox_path,
            counts["pending"],
        )
        if on_ready is not None:
            on_ready(listener.port)
        await stop.wait()
    finally:
        await listener.stop()
        sender.stop()
        await delivery
        outbox.close()


def _status(settings_env: Mapping[str, str], out: IO[str]) -> int:
    data_dir = Path(settings_env.get("MGI_DATA_DIR", "").strip() or "./var")
    path = data_dir / OUTBOX_FILE
    if not path.exists():
        print(json.dumps({"outbox": str(path), "pending": 0, "delivered": 0}), file=out)
        return 0
    outbox = SqliteOutbox(path)
    try:
        print(json.dumps({"outbox": str(path), **outbox.counts()}), file=out)
    finally:
        outbox.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m service mllp",
        description="HL7 v2 ORU^R01 over MLLP; settings from MGI_MLLP_* variables (docs/mllp.md).",
    )
    parser.add_argument("action", nargs="?", choices=["run", "status"], default="run")
    args = parser.parse_args(argv)
    if args.action == "status":
        return _status(os.environ, sys.stdout)
    try:
        settings = load_settings()
        with _exclusive(settings.data_dir):
            asyncio.run(_run(settings))
    except SettingsError as e:
        print(f"mllp: {e}", file=sys.stderr)
        return 2
    except (StoreConfigError, SchemaNotCurrent) as e:  # the records store is on by default
        print(f"mllp: the records store cannot start: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the port is taken, the data directory cannot be written…
        print(f"mllp: {e}", file=sys.stderr)
        return 1
    return 0


async def _run(settings: MllpSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(
        settings,
        stop,
        on_ready=lambda port: print(f"MLLP listening on port {port}", file=sys.stderr, flush=True),
    )
