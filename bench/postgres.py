"""A private PostgreSQL for `make chaos`, which restarts it: never the shared embedded one.

The binaries are the ones the `pgserver` package bundles (the embedded default's), the data
directory is `.data/chaos/pg` (initialized afresh by `init()`), the server listens on a unix
socket in that directory only (no TCP), with trust authentication. As root, the server runs
as the `pgserver` user, as the embedded one does (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

PORT = 5432  # only names the socket file: the socket lives in the data directory
SERVICE_USER = "pgserver"


def _bin(name: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pgserver  # the embedded default's package; imported late: it is heavy

    return str(Path(pgserver.__file__).parent / "pginstall" / "bin" / name)


@dataclass
class PrivatePostgres:
    """`init()` a data directory, `start()`, `stop()`, `restart()`; `url()` is a superuser URL."""

    directory: Path

    def url(self, database: str = "postgres") -> str:
        """The superuser URL of `database` on this server (over its unix socket)."""
        return f"postgresql://postgres@/{database}?host={self.directory}"

    @property
    def log_path(self) -> Path:
        """The server's log."""
        return self.directory / "server.log"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        user = SERVICE_USER if os.geteuid() == 0 else None
        return subprocess.run(  # noqa: S603 - the bundled binaries, fixed arguments
            list(args),
            cwd=self.directory if self.directory.exists() else None,
            user=user,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def init(self) -> None:
        """Create a fresh data directory (stopping a server left running on the old one)."""
        if (self.directory / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True)
        self.directory.chmod(0o700)
        if os.geteuid() == 0:
            shutil.chown(self.directory, SERVICE_USER, SERVICE_USER)
        done = self._run(
            _bin("initdb"),
            "-D", str(self.directory),
            "--auth=trust",
            "--encoding=UTF8",
            "-U", "postgres",
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr[-2000:]}")

    def _pg_ctl(self, action: str, *options: str, timeout: float) -> None:
        done = self._run(
            _bin("pg_ctl"), "-D", str(self.directory), *options, "-w", "-t", str(int(timeout)),
            action, timeout=timeout + 10,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(
                f"pg_ctl {action} failed: {done.stderr[-2000:]}; see {self.log_path}"
            )

    def start(self, timeout: float = 60) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-h '' -k {self.directory} -p {PORT}"
        self._pg_ctl("start", "-l", str(self.log_path), "-o", options, timeout=timeout)

    def stop(self, mode: str = "fast", timeout: float = 60) -> None:
        """Stop the server (`fast`: roll back open transactions, disconnect everyone)."""
        if self.running():
            self._pg_ctl("stop", "-m", mode, timeout=timeout)

    def running(self) -> bool:
        """Whether a server runs on this data directory."""
        if not (self.directory / "postmaster.pid").exists():
            return False
        return self._run(_bin("pg_ctl"), "-D", str(self.directory), "status").returncode == 0

    def remove(self) -> None:
        """Stop the server and delete its data directory."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
