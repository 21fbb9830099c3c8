"""gunicorn's own log lines without request content (``logger_class`` in gunicorn.conf.py).

gunicorn logs what it could not parse and what failed while handling a request: an invalid request line
with its query string (``Invalid HTTP Version: 'Jane&dob=19471231 HTTP/1.1'``), a header it refused, the
request target of a failed request, and a traceback whose exception messages (and those of the
exceptions it chains) may quote the body (``{'DoeJane': ['Unknown field.']}``). None of that may reach a
log: the service's logs must hold no patient data. This logger, used by the master and every worker:

* keeps a message's text as gunicorn wrote it (a fixed template) but replaces each text argument by
  ``[redacted]`` unless the template is one of gunicorn's start-up and process messages known to carry
  no request content (the bind address, the worker class, a signal name) or one of this service's
  own (``mgi: ...``, written by gunicorn.conf.py); numbers (pids, counts, exit codes) stay;
* cuts the detail off gunicorn's pre-formatted "Invalid request from ip=...: <error>" lines (the error
  quotes the request), keeping the client address;
* renders an exception as its type and frames (file, line, function) only: never its message, nor the
  messages of the exceptions it chains;
* redacts the request target, query string and referer in the access log, if one is configured (the
  service writes its own access line without them, so gunicorn's is off by default).

Only the standard library and gunicorn are imported here: the master loads this module and must stay
free of the application (see ``preload_app`` in gunicorn.conf.py).
"""

from __future__ import annotations

import re
import sys
import traceback
from typing import Any

from gunicorn.glogging import Logger

REDACTED = "[redacted]"

# gunicorn's messages whose text arguments are safe (configuration, process management), checked on
# gunicorn 22-27. Anything not listed keeps its template with its text arguments redacted.
SAFE_TEMPLATES = frozenset(
    {
        "Starting gunicorn %s",
        "Listening at: %s (%s)",
        "Listening at: %s",
        "Using worker: %s",
        "Handling signal: %s",
        "Unhandled signal: %s",
        "Ignoring unknown signal: %s",
        "Hang up: %s",
        "Booting worker with pid: %s",
        "Worker exiting (pid: %s)",
        "WORKER TIMEOUT (pid:%s)",
        "Worker (pid:%s) exited with code %s.",
        "Worker (pid:%s) exited with code %s",
        "Worker (pid:%s) was sent %s!",
        "Worker (pid:%s) was sent code %s!",
        "Shutting down: %s",
        "Reason: %s",
        "Connection in use: %s",
        "Retrying in 1 second.",
        "Control socket listening at %s",
    }
)
_OWN_PREFIX = "mgi: "
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_INVALID_REQUEST = re.compile(r"^(Invalid request from ip=[^:\s]*): .*", re.DOTALL)
_RAW_ENV = re.compile(r"^(\s*raw_env:).*$", re.MULTILINE)


def _short(path: str) -> str:
    parts = path.replace("\\", "/").rsplit("/", 3)
    return "/".join(parts[-3:])


def frames_only(exc: BaseException | None) -> str:
    """A traceback as exception types and frames, for the exception and those it chains."""
    out: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen and len(seen) < 5:
        seen.add(id(exc))
        frames = traceback.extract_tb(exc.__traceback__, limit=30)
        out.append(f"{type(exc).__name__} (message withheld)")
        out.extend(f"  {_short(f.filename)}:{f.lineno} in {f.name}" for f in frames)
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        if exc is not None:
            out.append("while handling or caused by:")
    return "\n".join(out)


def redact_message(msg: Any, args: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """The template and arguments that may be logged."""
    if isinstance(msg, BaseException):  # gunicorn sometimes logs an exception object as the message
        return f"{type(msg).__name__} (message withheld)", ()
    if not isinstance(msg, str):
        return f"{type(msg).__name__} (withheld)", ()
    if not args:
        match = _INVALID_REQUEST.match(msg)
        if match:
            return f"{match.group(1)}: request line or header refused ({REDACTED})", ()
        if msg.startswith("Current configuration:"):  # debug level: raw_env may hold a key or token
            return _RAW_ENV.sub(f"\\1 {REDACTED}", msg), ()
        return msg, ()
    if msg in SAFE_TEMPLATES or msg.startswith(_OWN_PREFIX):
        return msg, args
    if msg == "%s %s" and len(args) == 2 and args[0] in _METHODS:  # the worker's debug "METHOD path"
        return msg, (args[0], REDACTED)
    if len(args) == 1 and isinstance(args[0], dict):  # "%(name)s" style
        return msg, ({k: (v if isinstance(v, int | float) else REDACTED) for k, v in args[0].items()},)
    return msg, tuple(a if isinstance(a, int | float) and not isinstance(a, bool) else REDACTED for a in args)


class RedactingLogger(Logger):
    """gunicorn.glogging.Logger minus request content (see the module docstring)."""

    def _emit(self, level: int, msg: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        exc_info = kwargs.pop("exc_info", None)
        kwargs.pop("stack_info", None)
        template, safe_args = redact_message(msg, args)
        try:
            text = template % safe_args if safe_args else template
        except (TypeError, ValueError, KeyError):
            text = template
        if exc_info:
            if isinstance(exc_info, BaseException):
                exc: BaseException | None = exc_info
            elif isinstance(exc_info, tuple):
                exc = exc_info[1]
            else:
                exc = sys.exc_info()[1]
            if exc is not None:
                text = f"{text}\nTraceback (frames only):\n{frames_only(exc)}"
        self.error_log.log(level, "%s", text, **kwargs)

    def critical(self, msg, *args, **kwargs):
        self._emit(50, msg, args, kwargs)

    def error(self, msg, *args, **kwargs):
        self._emit(40, msg, args, kwargs)

    def warning(self, msg, *args, **kwargs):
        self._emit(30, msg, args, kwargs)

    def info(self, msg, *args, **kwargs):
        self._emit(20, msg, args, kwargs)

    def debug(self, msg, *args, **kwargs):
        self._emit(10, msg, args, kwargs)

    def exception(self, msg, *args, **kwargs):
        kwargs.setdefault("exc_info", True)
        self._emit(40, msg, args, kwargs)

    def log(self, lvl, msg, *args, **kwargs):
        if isinstance(lvl, str):
            lvl = self.LOG_LEVELS.get(lvl.lower(), 20)
        self._emit(lvl, msg, args, kwargs)

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        method = atoms.get("m", "-")
        protocol = atoms.get("H", "-")
        atoms["r"] = f"{method} {REDACTED} {protocol}"
        atoms["U"] = REDACTED
        atoms["q"] = ""
        atoms["f"] = "-"
        for name in list(atoms):
            # Request headers ({name}i) and the WSGI environment ({name}e) may carry anything.
            if name.startswith("{") and name.endswith(("}i", "}e")):
                atoms[name] = "-"
        return atoms
