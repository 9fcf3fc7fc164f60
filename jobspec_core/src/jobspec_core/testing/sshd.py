"""A real OpenSSH server on 127.0.0.1 for tests of remote submission.

Contract:

* ``LoopbackSshd(state_dir)`` keeps everything it writes inside ``state_dir``: a host key,
  a client key pair, ``authorized_keys``, ``sshd_config``, the server's log and pid, and a
  client configuration (:attr:`client_config`) that names the alias :attr:`alias` with the
  port, the user, the key and a known-hosts file holding the server's real host key (host
  keys are checked as in production: nothing turns the check off).
* ``start()`` picks a free port, starts Debian's ``sshd`` in the foreground as a child and
  returns once it accepts connections (or raises :class:`SshdError` with the log's tail).
* ``stop()`` ends only the server it started (by its pid).
* ``logins()`` counts the successful authentications in the server's log (each new
  connection authenticates once; a shared connection does not authenticate again).
* ``replace_host_key()`` gives the server a new host key (restarting it on the same port),
  for the "changed host key" refusal.
* ``commands()`` counts the remote commands the server started (``Starting session:
  command`` lines: one per command, shared connection or not).
* ``env``: variables every session gets (``SetEnv``; ``HOME`` too), e.g. the client
  variables of a test scheduler, which a real cluster's login node sets in its own way.

Needs ``/usr/sbin/sshd`` (Debian's openssh-server) and ``ssh-keygen``; :func:`unavailable`
says why not when they are missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["LoopbackSshd", "SshdError", "unavailable"]

SSHD = "/usr/sbin/sshd"


class SshdError(RuntimeError):
    """The server could not be started."""


def unavailable() -> str | None:
    """Why a loopback sshd cannot run here, or ``None``."""
    if not Path(SSHD).is_file():
        return f"{SSHD} is missing (Debian's openssh-server)"
    for tool in ("ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH (openssh-client)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=60,
    )


class LoopbackSshd:
    """One private sshd on 127.0.0.1 (see the module's contract)."""

    alias = "jobspec-test-host"

    def __init__(self, state_dir: Path, user: str | None = None, env: dict[str, str] | None = None):
        self.env = dict(env or {})
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        self.user = user or os.environ.get("USER") or _whoami()
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "sshd.log"
        self.client_config = self.dir / "ssh_config"
        self.client_key = self.dir / "client_key"
        self.known_hosts = self.dir / "known_hosts"
        self.host_key = self.dir / "host_key"

    # -- set-up ------------------------------------------------------------------
    def _write_config(self) -> None:
        if not self.host_key.exists():
            _keygen(self.host_key)
        if not self.client_key.exists():
            _keygen(self.client_key)
        authorized = self.dir / "authorized_keys"
        authorized.write_text(Path(f"{self.client_key}.pub").read_text())
        authorized.chmod(0o600)
        (self.dir / "sshd_config").write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key}",
                    f"AuthorizedKeysFile {authorized}",
                    f"PidFile {self.dir / 'sshd.pid'}",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "PermitRootLogin prohibit-password",
                    "UsePAM no",
                    # The key files live in a test directory, not in a home directory.
                    "StrictModes no",
                    "LogLevel VERBOSE",
                    "MaxStartups 100:30:200",
                    "MaxSessions 100",
                    *self._setenv(),
                    "",
                ]
            )
        )
        host_pub = Path(f"{self.host_key}.pub").read_text().split()
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n")
        self.client_config.write_text(
            "\n".join(
                [
                    f"Host {self.alias}",
                    "    HostName 127.0.0.1",
                    f"    Port {self.port}",
                    f"    User {self.user}",
                    f"    IdentityFile {self.client_key}",
                    "    IdentitiesOnly yes",
                    f"    UserKnownHostsFile {self.known_hosts}",
                    "    StrictHostKeyChecking yes",
                    "    BatchMode yes",
                    "",
                ]
            )
        )

    def _setenv(self) -> list[str]:
        for key, value in self.env.items():
            if not key.isidentifier() or any(c in value for c in '"\n\\'):
                raise SshdError(f"cannot pass {key}={value!r} through sshd_config SetEnv")
        if not self.env:
            return []
        return ["SetEnv " + " ".join(f'"{k}={v}"' for k, v in self.env.items())]

    def start(self, timeout: float = 20.0) -> LoopbackSshd:
        if self.port == 0:
            self.port = _free_port()
        self._write_config()
        # sshd needs its privilege-separation directory.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.dir / "sshd_config")],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("ab"),
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SshdError(f"sshd exited with {self.process.returncode}: {self._tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise SshdError(f"sshd did not listen on 127.0.0.1:{self.port}: {self._tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def replace_host_key(self) -> None:
        """A new host key for the same port (the client's known-hosts keeps the old one)."""
        known = self.known_hosts.read_text()
        self.stop()
        for path in (self.host_key, Path(f"{self.host_key}.pub")):
            path.unlink()
        self.start()
        self.known_hosts.write_text(known)

    # -- observing -----------------------------------------------------------------
    def logins(self) -> int:
        """Successful authentications so far (``Accepted publickey`` lines of the log)."""
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return 0
        return text.count("Accepted publickey")

    def commands(self) -> int:
        """Remote commands started so far (``Starting session: command`` lines)."""
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return 0
        return text.count("Starting session: command")

    def _tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except FileNotFoundError:
            return "(no log)"


def _whoami() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name
