"""Gunicorn settings for the MGI service: `gunicorn -c gunicorn.conf.py service.wsgi:app`.

Environment: MGI_BIND (default 0.0.0.0:8000), MGI_WORKERS (default 2*cores+1, at most 8),
MGI_WORKER_CLASS (default sync), MGI_THREADS (gthread only, default 4), MGI_TIMEOUT (default 15),
MGI_GUNICORN_LOG_LEVEL (default info), PROMETHEUS_MULTIPROC_DIR (metrics across workers),
MGI_MALLOC_TUNING (default 1; 0 keeps glibc's allocator defaults, see post_fork), MGI_BATCH_CONCURRENCY
(default min(cores, workers-1)), MGI_BATCH_CONCURRENCY_PER_KEY (default half of it, rounded up),
MGI_BATCH_TIME_BUDGET (default timeout/3 s), MGI_RUNTIME_DIR (default a new directory in /dev/shm).
"""

import glob
import os

# --- where and how many ----------------------------------------------------------------------

# Inside the container the port is published by Docker; outside, MGI_BIND=127.0.0.1:8000 keeps a
# development run off the network.
bind = os.environ.get("MGI_BIND", "0.0.0.0:8000")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # honours the container's cpuset, unlike cpu_count
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# Interpretation is CPU-bound pure Python, so processes, not threads, give parallelism.
# 2*cores+1 keeps every core busy while some workers are reading requests or writing responses;
# the cap bounds memory (each worker imports Flask, pydantic and the FHIR/HL7 models).
workers = int(os.environ.get("MGI_WORKERS") or min(2 * _cores() + 1, 8))

# sync, not gthread: one request per process gives the simplest failure model for a CPU-bound
# service of millisecond requests. `timeout` below is a hard per-request limit only for sync
# workers (a gthread worker's main thread keeps heart-beating while a request thread is stuck, so
# a runaway request would never be killed); a killed or crashed worker loses at most one
# in-flight request; no GIL contention between requests. The cost - no keep-alive, and a slow
# client holds a worker - is acceptable for LIS clients on the hospital LAN; put a buffering
# reverse proxy in front if the service is ever exposed more widely.
worker_class = os.environ.get("MGI_WORKER_CLASS", "sync")
threads = int(os.environ.get("MGI_THREADS", "4")) if worker_class == "gthread" else 1

# --- time limits -----------------------------------------------------------------------------

# A request takes milliseconds; a worker silent for 15 s is stuck (pathological input, deadlock)
# and is killed and replaced. 15 s still lets a slow LAN client send a body at the size limit.
timeout = int(os.environ.get("MGI_TIMEOUT", "15"))

# --- admission control (service/api/admission.py) -------------------------------------------

# Batches running at once over all workers: at most one per core (batch work is CPU-bound), and always
# fewer than the workers, so single interpretations find a free worker however many batches are sent.
# Per API key: half of that (rounded up), so one key cannot take every batch slot. A batch stops
# starting new items after a third of the worker timeout and answers what it finished (items not
# started get status 503): it never runs into the timeout's SIGKILL.
_batch_total = os.environ.get("MGI_BATCH_CONCURRENCY") or str(max(1, min(_cores(), workers - 1)))
_batch_per_key = os.environ.get("MGI_BATCH_CONCURRENCY_PER_KEY") or str(max(1, -(-int(_batch_total) // 2)))
_batch_budget = os.environ.get("MGI_BATCH_TIME_BUDGET") or str(max(1, timeout // 3))
# gunicorn sets these in the workers' environment (and resets them on a reload, from this file).
raw_env = [
    f"MGI_BATCH_CONCURRENCY={_batch_total}",
    f"MGI_BATCH_CONCURRENCY_PER_KEY={_batch_per_key}",
    f"MGI_BATCH_TIME_BUDGET={_batch_budget}",
]

# On HUP (reload) or TERM, workers get this long to finish in-flight requests before SIGKILL.
# Requests are milliseconds, so 10 s is ample; keep it below docker-compose's stop_grace_period
# (20 s) so the container's own shutdown is never cut short by Docker's SIGKILL.
graceful_timeout = 10

# Seconds an idle keep-alive connection is held. Sync workers close after each response and
# ignore it; it applies if MGI_WORKER_CLASS=gthread. Short, so idle LIS connections don't pin
# threads; a little above 1 s so a client's back-to-back requests reuse the connection.
keepalive = 5

# --- worker recycling ------------------------------------------------------------------------

# Replace each worker after this many requests: bounds any slow memory growth (fragmentation, a
# leak in a dependency) in a process that runs for months. Not too low: each recycled worker
# leaves its metric files in PROMETHEUS_MULTIPROC_DIR until the next start, and a scrape reads
# them all.
max_requests = 20000
# Random 0..2000 added per worker so the workers do not all restart at the same moment.
max_requests_jitter = 2000

# Load the app in each worker, not in the master: a HUP then starts workers that re-read the API
# keys (key rotation without downtime) and the ruleset; the master stays small and app-free.
preload_app = False

# --- request limits (gunicorn refuses with 400/431 before the app sees the request) -----------

# Our URLs are short (/v1/interpretations, /v1/ruleset); 2 KiB leaves room for a query string and
# shrinks what a hostile client can make the parser hold.
limit_request_line = 2048
# A LIS sends about ten headers; 50 allows for proxies adding their own.
limit_request_fields = 50
# Largest single header: an Authorization bearer key is ~50 bytes; 4 KiB for proxy headers.
limit_request_field_size = 4096
# (Request *body* size is limited in the app: MAX_CONTENT_LENGTH gives the 413 with our body.)

# --- logging ---------------------------------------------------------------------------------

# Off: the app writes one structured JSON line per request on "mgi.access" (request id, key name,
# route pattern, status, latency) - gunicorn's access log would duplicate it with the raw path
# and query string.
accesslog = None
# Gunicorn's own messages (boot, worker timeouts, kills) to stderr, next to the app's JSON lines.
errorlog = "-"
loglevel = os.environ.get("MGI_GUNICORN_LOG_LEVEL", "info")
# gunicorn's messages without request content: no request line, target, query string, header value or
# exception message (service/gunicorn_logging.py). The service's logs hold no patient data.
logger_class = "service.gunicorn_logging.RedactingLogger"
proc_name = "mgi"

# --- process hygiene -------------------------------------------------------------------------

# Worker heartbeat files on a RAM disk: the container's root fs is read-only, and a heartbeat on a
# disk-backed /tmp can stall under I/O load and get healthy workers killed.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# No control socket (gunicorn >= 25): it would be one more way to change the server at run time,
# and it wants a writable $HOME. The server is managed with signals (HUP reload, TERM stop).
control_socket_disable = True

# --- memory allocator (glibc) ---------------------------------------------------------------

# glibc serves an allocation above its mmap threshold (128 KiB at start, adapting upwards to at most
# 32 MiB) with a fresh mmap, and gives freed memory at the top of the heap back to the kernel once
# 128 KiB are free. A batch request allocates and frees megabytes (the 1.3 MB body, its parsed items,
# an 8.8 MB answer): with the defaults every such request faults its pages in again, which measured
# 8 page faults and ~25 us of kernel time per panel of a 1,000-panel batch. With these settings the
# worker keeps and reuses that memory (0 faults, ~4 us). The price: a worker holds on to up to
# 64 MiB of freed heap after its largest request, well inside a worker's budget; single requests
# are unaffected. Set per worker (post_fork); MGI_MALLOC_TUNING=0 keeps glibc's defaults.
# Sync workers only: glibc keeps a separate heap (arena) per thread and the trim threshold applies to
# each, so a threaded worker would keep up to 64 MiB per thread (measured: 4 threads, ~200 MiB idle).
_MALLOC_MMAP_THRESHOLD = 32 * 1024 * 1024  # below this, allocations come from the reusable heap
_MALLOC_TRIM_THRESHOLD = 64 * 1024 * 1024  # free heap kept before any is returned to the kernel
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
_OFF = {"0", "false", "no", "off"}


def _tune_malloc(log, worker_class: str = "sync") -> None:
    if os.environ.get("MGI_MALLOC_TUNING", "1").strip().lower() in _OFF:
        return
    if worker_class != "sync":
        log.info("mgi: %s workers: glibc allocator defaults kept", worker_class)
        return
    try:
        import ctypes
        import ctypes.util

        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (ImportError, OSError, AttributeError, TypeError):  # no ctypes, or not glibc (musl, macOS)
        log.info("mgi: no glibc mallopt here; allocator defaults kept")
        return
    ok = (
        mallopt(_M_MMAP_THRESHOLD, _MALLOC_MMAP_THRESHOLD) == 1
        and mallopt(_M_TRIM_THRESHOLD, _MALLOC_TRIM_THRESHOLD) == 1
    )
    if not ok:
        log.warning("mgi: mallopt refused the allocator settings; defaults kept")


def post_fork(server, worker):
    # worker_class_str is the class in force ("gthread" when threads > 1 was asked with sync).
    _tune_malloc(server.log, server.cfg.worker_class_str)


_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
_ON = {"1", "true", "yes", "on"}


def _loopback(address: str) -> bool:
    """Whether a gunicorn bind address is reachable from this machine only."""
    if address.startswith("unix:"):
        return True
    if address.startswith("["):  # [::1]:8000
        host = address[1 : address.find("]")]
    else:
        host = address.rpartition(":")[0] if ":" in address else address
    return host == "localhost" or host == "::1" or host.startswith("127.")


def on_starting(server):
    # Development mode switches authentication off: never on an address the network can reach
    # (MGI_DEV_MODE=1 with MGI_BIND=0.0.0.0:... or --bind would serve every /v1 request unauthenticated).
    if os.environ.get("MGI_DEV_MODE", "").strip().lower() in _ON:
        exposed = [b for b in server.cfg.bind if not _loopback(b)]
        if exposed:
            server.log.error(
                "mgi: MGI_DEV_MODE=1 (authentication off) is refused on %s: bind to 127.0.0.1 or "
                "configure API keys (MGI_API_KEYS / MGI_API_KEYS_FILE) and unset MGI_DEV_MODE",
                ", ".join(exposed),
            )
            raise SystemExit(2)
    # Metric files from a previous run would be added to this run's counters: start clean. A directory
    # that cannot be created or emptied costs the metrics, never the service (the workers then run
    # with metrics off and say so).
    if _MULTIPROC_DIR:
        try:
            os.makedirs(_MULTIPROC_DIR, exist_ok=True)
            for path in glob.glob(os.path.join(_MULTIPROC_DIR, "*.db")):
                os.remove(path)
        except OSError as exc:
            server.log.error(
                "mgi: PROMETHEUS_MULTIPROC_DIR=%s cannot be prepared (%s): metrics will be off",
                _MULTIPROC_DIR,
                exc.strerror or type(exc).__name__,
            )
    _make_runtime_dir(server)
    if not _publish_config(server):
        server.log.error("mgi: the configuration above is invalid: the service does not start")
        raise SystemExit(2)
    server.log.info(
        "mgi: starting gunicorn: bind=%s workers=%s worker_class=%s timeout=%ss "
        "max_requests=%s+%s prometheus_multiproc=%s batches=%s (per key %s, budget %ss) runtime_dir=%s",
        bind,
        workers,
        worker_class,
        timeout,
        max_requests,
        max_requests_jitter,
        _MULTIPROC_DIR or "off",
        _batch_total,
        _batch_per_key,
        _batch_budget,
        os.environ.get("MGI_RUNTIME_DIR"),
    )
    try:
        over = float(_batch_budget) >= timeout / 2
    except ValueError:
        over = False  # the workers refuse the value at start, naming it
    if over:
        server.log.warning(
            "mgi: MGI_BATCH_TIME_BUDGET=%s is not well under the worker timeout (%ss): under load a batch "
            "may be killed mid-way instead of answering what it finished",
            _batch_budget,
            timeout,
        )


# The runtime directory holds the batch slots (lock files) and the configuration in force. On a RAM
# disk: the container's root file system is read-only, and nothing here must outlive the service.
_RUNTIME_OWNED = "MGI_RUNTIME_DIR_OWNED"


def _make_runtime_dir(server) -> None:
    try:
        if os.environ.get("MGI_RUNTIME_DIR"):
            os.makedirs(os.environ["MGI_RUNTIME_DIR"], mode=0o700, exist_ok=True)
            return
        import tempfile

        os.environ["MGI_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="mgi-", dir=worker_tmp_dir)
    except OSError as exc:
        server.log.error(
            "mgi: no runtime directory (%s): set MGI_RUNTIME_DIR to a writable local directory",
            exc.strerror or type(exc).__name__,
        )
        raise SystemExit(2) from None
    # Removed at exit by this master only (a master started by USR2 inherits the variable, not the dir).
    os.environ[_RUNTIME_OWNED] = f"{os.getpid()}:{os.environ['MGI_RUNTIME_DIR']}"


def _publish_config(server) -> bool:
    """Validate the key file and code map and publish the valid copies for the workers
    (service/api/config_state.py). In a child process: the master itself stays app-free, so that new
    workers import the code as it is on disk."""
    import subprocess
    import sys

    if not (os.environ.get("MGI_API_KEYS_FILE") or os.environ.get("MGI_CODEMAP_FILE")):
        return True  # nothing a reload re-reads: keys from MGI_API_KEYS only, the built-in code map
    env = {k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR", "MGI_ACTIVE_CONFIG")}
    command = [sys.executable, "-m", "service", "check-config", "--publish", os.environ["MGI_RUNTIME_DIR"]]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        verdict = (done.stdout.strip().splitlines() or ["mgi-config: REFUSED: no verdict"])[-1]
        ok = done.returncode == 0
    except (OSError, subprocess.TimeoutExpired) as exc:
        verdict, ok = f"mgi-config: REFUSED: the check did not run ({type(exc).__name__})", False
    if ok:
        os.environ["MGI_ACTIVE_CONFIG"] = os.path.join(os.environ["MGI_RUNTIME_DIR"], "config", "active.json")
        server.log.info("mgi: configuration published: %s", verdict)
    else:
        server.log.error("mgi: configuration refused: %s", verdict)
    return ok


def on_reload(server):
    # SIGHUP: new workers will read the configuration published here. A refused one leaves the previous
    # configuration in force (the workers read its published copies): a bad edit never stops the service.
    if not _publish_config(server):
        server.log.error(
            "mgi: reload refused: the previous configuration stays in force; fix the file and send SIGHUP "
            "again (the refusal shows in /readyz and in mgi_config_reload_failed)"
        )


def on_exit(server):
    if os.environ.get(_RUNTIME_OWNED) == f"{os.getpid()}:{os.environ.get('MGI_RUNTIME_DIR')}":
        import shutil

        shutil.rmtree(os.environ["MGI_RUNTIME_DIR"], ignore_errors=True)


def when_ready(server):
    server.log.info("mgi: gunicorn ready, listening on %s", bind)


def child_exit(server, worker):
    # prometheus_client multiprocess mode: drop the dead worker's live-gauge files (its counters
    # and histograms stay, so totals survive worker recycling).
    if _MULTIPROC_DIR:
        from prometheus_client import multiprocess

        try:
            multiprocess.mark_process_dead(worker.pid)
        except OSError as exc:  # a read-only or vanished directory: nothing to tidy, nothing to stop
            server.log.warning(
                "mgi: metric files of worker %s not tidied (%s)", worker.pid, type(exc).__name__
            )
