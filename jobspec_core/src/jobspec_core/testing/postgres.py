"""A real, private PostgreSQL server for tests of the run store and the service.

Contract:

* ``LocalPostgres(state_dir)`` keeps its cluster (``initdb``), socket and log inside
  ``state_dir``; ``start()`` listens on 127.0.0.1 on a free port and returns once it
  accepts connections; :attr:`url` is a ``postgresql://`` URL of a fresh database;
  ``stop()`` stops only this server (``pg_ctl stop`` on its data directory).
* Uses Debian's ``postgresql`` package (``/usr/lib/postgresql/<version>/bin``). The server
  refuses to run as root: as root, the cluster is created and run as the ``postgres``
  user (``runuser``), and ``state_dir`` is given to that user: it must be a directory that
  user can reach (``tempfile.mkdtemp()`` under ``/tmp``; not below a 0700 directory).
* :func:`unavailable` says why it cannot run here, or ``None``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from .daemons import free_ports

__all__ = ["LocalPostgres", "unavailable"]


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def unavailable() -> str | None:
    if _bin_dir() is None:
        return "PostgreSQL is not installed (Debian's postgresql package)"
    if os.getuid() == 0 and shutil.which("runuser") is None:
        return "runuser is missing (needed to run PostgreSQL as the postgres user)"
    try:
        import psycopg  # noqa: F401
    except ModuleNotFoundError:
        return "psycopg is not installed (the postgresql extra)"
    return None


class LocalPostgres:
    """One private PostgreSQL server (see the module's contract)."""

    user = "postgres"

    def __init__(self, state_dir: Path):
        self.dir = Path(state_dir)
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = 0
        self.bin = _bin_dir()

    def _as_owner(self, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", self.user, "--"] if os.getuid() == 0 else []
        return subprocess.run(prefix + argv, capture_output=True, text=True, check=False, **kwargs)

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/jobspec"

    def start(self, timeout: float = 60.0) -> LocalPostgres:
        if self.bin is None:
            raise RuntimeError(unavailable())
        self.dir.mkdir(parents=True, exist_ok=True)
        if os.getuid() == 0:
            shutil.chown(self.dir, self.user, self.user)
        else:
            self.user = os.environ.get("USER") or "postgres"
        if not self.data.exists():
            done = self._as_owner(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-A",
                    "trust",
                    "-U",
                    self.user,
                    "--no-sync",
                ],
                timeout=120,
            )
            if done.returncode != 0:
                raise RuntimeError(f"initdb failed: {done.stderr[-2000:]}")
        self.port = free_ports(1, "127.0.0.1")[0]
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off"
        done = self._as_owner(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                options,
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ],
            timeout=timeout + 10,
        )
        if done.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {done.stderr} {self._tail()}")
        created = self._as_owner(
            [
                str(self.bin / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "jobspec",
            ],
            timeout=60,
        )
        if created.returncode != 0 and "already exists" not in created.stderr:
            raise RuntimeError(f"createdb failed: {created.stderr}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL is not listening on {self.port}: {self._tail()}")

    def fresh_database(self, name: str) -> str:
        """A new empty database ``name``; its URL."""
        if self.bin is None:
            raise RuntimeError(unavailable())
        done = self._as_owner(
            [
                str(self.bin / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                name,
            ],
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"createdb {name} failed: {done.stderr}")
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.bin is not None and self.data.exists():
            self._as_owner(
                [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
                timeout=60,
            )

    def _tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"
