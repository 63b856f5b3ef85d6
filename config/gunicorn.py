"""gunicorn settings: the Prometheus multiprocess directory of this server run.

Loaded with `gunicorn --config python:config.gunicorn` (Procfile, Dockerfile, docker
compose, `make bench`); the command line sets everything else.

The worker is `productgraph.server.Worker` (gevent, a request read whole before Django sees
it; see that module): `threads` is its number of executors, the requests each worker
process runs at once; `worker_connections` the connections it holds open, idle or slow
ones included; a client must send its whole header within `keepalive` seconds. The access
log (`--access-logfile`) goes through `productgraph.log_redaction.AccessLogger`, which redacts keys.

`prometheus_client` picks its storage when it is first imported, so the directory must be
in the environment before any worker imports it: it is set here, in the master, when the
config is read. Unset, a fresh temporary directory is created for this run and removed on
exit, so no run ever adds a previous run's counters. Set (e.g. by `make run`, to share it
with the Celery worker), it is used as given: whoever sets it empties it before the run.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
from pathlib import Path

_PREFIX = "productgraph-metrics-"

worker_class = "productgraph.server.Worker"
# No key in the access log: not `?api_key=`, not the Basic user (productgraph.log_redaction).
logger_class = "productgraph.log_redaction.AccessLogger"
threads = 4
worker_connections = 1000
keepalive = 5
timeout = 30  # above productgraph.server.RESPONSE_TIMEOUT_SECONDS

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=_PREFIX)
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)


def _created_here(directory: Path) -> bool:
    # By name, not by a flag: gunicorn re-reads this file on SIGHUP, after the variable is set.
    return directory.parent == Path(tempfile.gettempdir()) and directory.name.startswith(_PREFIX)


def post_worker_init(worker) -> None:
    """Freeze what the worker loaded (Django, the apps, the URLconf) out of the garbage
    collector's reach: a batch's decoded JSON allocates thousands of containers, and each
    full collection walked every module object too. Measured in one process with the apps
    loaded, timing `events_validate` and the Segment decode on bench.doors' 1,000-event
    bodies: validation 7.5 -> 4.3 ms, the decode 4.0 -> 1.4 ms."""
    gc.freeze()


def child_exit(server, worker) -> None:
    """Drop the live-gauge files of a worker that exited (its counters stay counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    """Remove the run's directory if this file created it."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    if _created_here(directory):
        shutil.rmtree(directory, ignore_errors=True)
