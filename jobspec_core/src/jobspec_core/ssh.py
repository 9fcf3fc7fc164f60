"""Scheduler commands and files on another host, through the system OpenSSH client.

:class:`SshRunner` is a :class:`~jobspec_core.batch.commands.CommandRunner`: a backend that
sends its scheduler commands through a runner submits remotely when it is given this one.

Contract:

* The user's own OpenSSH set-up is used as it is: ``~/.ssh/config``, agents, ProxyJump,
  Kerberos, keys. jobspec adds only connection sharing (``ControlMaster`` with
  ``ControlPersist``) so one login, and at most one second-factor prompt, serves every
  command of a run and of the commands that follow it; the control sockets live in a
  directory private to the user (mode 0700). Host keys are always checked: jobspec never
  passes ``StrictHostKeyChecking=no`` or an empty known-hosts file.
* Every remote command is built from an argv list, each word quoted with
  :func:`shlex.quote`, so nothing from a document reaches the remote shell unquoted. The
  remote side needs a POSIX shell and ``tar`` (for :meth:`SshRunner.put_tree`), nothing of
  jobspec's.
* Failures of ssh itself (exit 255) become :class:`SshError` (a
  :class:`~jobspec_core.errors.BackendError`) with a clear message and a ``kind``:
  ``host-key`` (unknown or changed host key), ``auth`` (login refused), ``unreachable``
  (no connection), ``lost`` (the connection broke; transient: a wait loop retries).
  After a lost connection the next command logs in again (one new shared connection),
  never one login per command.
* A run's files: :meth:`SshRunner.stage` names a local directory to copy into the remote
  run directory before the next command (so a transformer may still add to it during
  ``submit``); :meth:`SshRunner.run_collecting` runs a command and brings a remote
  directory's files back into their local mirror in the same round trip (a status poll is
  one remote command).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shlex
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .errors import BackendError, UsageError

if TYPE_CHECKING:
    from .batch.commands import CommandResult

#: seconds a remote command may take (the batch layer's ``DEFAULT_TIMEOUT``: not imported,
#: so that ``jobspec run --remote`` can begin its login before the batch layer is loaded)
DEFAULT_TIMEOUT = 120.0

__all__ = ["RemoteTarget", "SshError", "SshRunner", "control_directory"]

_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252})|\[[0-9A-Fa-f:.]+\]")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}")
#: ssh's own exit code for its failures (the remote command's code passes through otherwise).
SSH_FAILED = 255
#: Seconds a shared connection stays open after its last command.
CONTROL_PERSIST = 600
#: what the login runs: the remote home, asked in the same round trip
_HOME_LINE = 'printf "%s" "$HOME"'


@dataclass(frozen=True)
class RemoteTarget:
    """``[USER@]HOST[:PORT]``: where remote commands run. ``HOST`` may be an alias of the
    user's ``~/.ssh/config``; ``user`` and ``port`` of ``None`` leave them to that file."""

    host: str
    user: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> RemoteTarget:
        """Read ``[USER@]HOST[:PORT]``; :class:`UsageError` naming what is wrong otherwise.

        Refused: empty parts, a host or user starting with ``-`` (it would be read as an
        option of ssh), characters outside letters, digits, ``._-`` (IPv6 in brackets).
        """
        rest = text.strip()
        user = None
        if "@" in rest:
            user, rest = rest.rsplit("@", 1)
            if not _USER.fullmatch(user):
                raise UsageError(
                    f"--remote {text!r}: the user {user!r} is not a user name "
                    "(letters, digits, '.', '_', '-'; not starting with '-')"
                )
        port = None
        match = re.fullmatch(r"(.*?)(?::(\d{1,5}))?", rest)
        host, port_text = (match.group(1), match.group(2)) if match else (rest, None)
        if port_text is not None:
            port = int(port_text)
            if not 0 < port < 65536:
                raise UsageError(f"--remote {text!r}: port {port} is not between 1 and 65535")
        if not _HOST.fullmatch(host):
            raise UsageError(
                f"--remote {text!r}: expected [USER@]HOST[:PORT] with a host name of letters, "
                "digits, '.', '_' and '-' (not starting with '-')"
            )
        return cls(host=host, user=user, port=port)

    def __str__(self) -> str:
        text = f"{self.user}@{self.host}" if self.user else self.host
        return f"{text}:{self.port}" if self.port else text


class SshError(BackendError):
    """ssh itself failed; :attr:`kind` says how (see the module's contract)."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind

    @property
    def transient(self) -> bool:
        return self.kind in ("lost", "unreachable")


def control_directory() -> Path:
    """The private directory (0700) of the shared connections' sockets.

    ``JOBSPEC_SSH_CONTROL_DIR``, else ``$XDG_RUNTIME_DIR/jobspec-ssh``, else
    ``/tmp/jobspec-ssh-UID``. Socket paths must stay short (about 100 bytes), hence not
    under the state directory.
    """
    configured = os.environ.get("JOBSPEC_SSH_CONTROL_DIR")
    if configured:
        path = Path(configured)
    elif os.environ.get("XDG_RUNTIME_DIR"):
        path = Path(os.environ["XDG_RUNTIME_DIR"]) / "jobspec-ssh"
    else:
        path = Path(tempfile.gettempdir()) / f"jobspec-ssh-{os.getuid()}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if not path.is_dir() or path.is_symlink() or info.st_uid != os.getuid():
        raise BackendError(f"{path}: not a directory of this user: cannot keep ssh sockets there")
    if info.st_mode & 0o077:
        path.chmod(0o700)
    return path


def _classify(target: RemoteTarget, stderr: str) -> SshError:
    said = stderr.strip().splitlines()
    last = said[-1] if said else "ssh failed with no message"
    text = stderr.lower()
    if "host key verification failed" in text or "remote host identification has changed" in text:
        return SshError(
            f"{target}: the host key is unknown or has changed; jobspec never skips the check: "
            f"verify it and add it to your known_hosts (ssh {target.host}) ({last})",
            "host-key",
        )
    if "permission denied" in text or "too many authentication failures" in text:
        return SshError(f"{target}: the login was refused ({last})", "auth")
    if any(
        word in text
        for word in ("could not resolve", "connection refused", "no route", "timed out")
    ):
        return SshError(f"{target}: cannot connect ({last})", "unreachable")
    return SshError(f"{target}: the ssh connection failed ({last})", "lost")


class SshRunner:
    """Runs commands on ``target`` through one shared OpenSSH connection.

    :param config_file: an ssh configuration file used instead of ``~/.ssh/config``
        (``ssh -F``); ``JOBSPEC_SSH_CONFIG`` when not given.
    :param connect_timeout: seconds ssh may take to connect.
    """

    def __init__(
        self,
        target: RemoteTarget,
        *,
        config_file: str | os.PathLike[str] | None = None,
        connect_timeout: int = 30,
    ):
        self.target = target
        self.config_file = config_file or os.environ.get("JOBSPEC_SSH_CONFIG") or None
        self.connect_timeout = connect_timeout
        self._home: str | None = None
        self._connected = False
        self._staged: list[tuple[Path, str]] = []
        self._login: tuple[subprocess.Popen[bytes], Any] | None = None
        #: remote commands run through the shared connection (benchmarks and tests read it)
        self.commands_run = 0

    def control_path(self) -> Path:
        """The socket of this target's shared connection: a short name derived from the
        target and the configuration file (so jobspec can see whether it exists)."""
        key = f"{self.config_file or ''}\0{self.target.user or ''}\0{self.target.host}\0"
        key += str(self.target.port or "")
        return control_directory() / hashlib.sha256(key.encode()).hexdigest()[:24]

    # -- the ssh command line ------------------------------------------------------
    def ssh_argv(self, *options: str) -> list[str]:
        """``ssh``, its options (``options`` added), ``--`` and the host: nothing after it.

        Commands go through the shared connection only (``ControlMaster=no``): the master
        itself is started once by :meth:`connect`, in the background, so no command's
        output pipes are held open by it.
        """
        argv = ["ssh"]
        if self.config_file:
            argv += ["-F", str(self.config_file)]
        argv += [
            "-o",
            f"ControlPath={self.control_path()}",
            "-o",
            f"ConnectTimeout={self.connect_timeout}",
            *options,
        ]
        if self.target.port:
            argv += ["-p", str(self.target.port)]
        if self.target.user:
            argv += ["-l", self.target.user]
        return argv + ["--", self.target.host]

    def start_connecting(self, ask_home: bool = False) -> None:
        """Begin the login in the background (when no shared connection exists yet), so
        it overlaps with local work; :meth:`connect` waits for it. With ``ask_home`` the
        login also asks the remote home, in the same round trip (a remote command of its
        own otherwise: a login for a status poll runs none)."""
        if self._connected or self._login is not None:
            return
        if self.control_path().exists() and self._master_alive():
            self._connected = True
            return
        self.control_path().unlink(missing_ok=True)  # a killed master's socket: remove it
        errors = tempfile.TemporaryFile()
        master = ["-o", "ControlMaster=yes", "-o", f"ControlPersist={CONTROL_PERSIST}"]
        if ask_home and self._home is None:
            argv = self.ssh_argv(*master) + [_HOME_LINE]
        else:
            argv = self.ssh_argv(*master, "-N", "-f")
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,
            )  # fmt: skip
        except FileNotFoundError as exc:
            errors.close()
            raise BackendError("cannot run ssh: the OpenSSH client is not installed") from exc
        self._login = (process, errors)

    def _master_alive(self) -> bool:
        check = subprocess.run(
            self.ssh_argv("-O", "check"), capture_output=True, timeout=30, check=False
        )
        return check.returncode == 0

    def connect(self) -> None:
        """Make sure the shared connection is up: reuse a live one (another jobspec
        process may have opened it), else log in once (prompts, if any, are asked on the
        terminal) and keep it for :data:`CONTROL_PERSIST` seconds after its last use.

        The login is one ssh process that becomes the shared connection (backgrounded by
        ``ControlPersist``, its output sent to ``/dev/null``) after answering the remote
        home, so no command's output pipe is held open by it."""
        if self._connected and self.control_path().exists():
            return
        self._connected = False
        self.start_connecting()
        if self._login is None:
            return  # a live shared connection was found
        process, errors = self._login
        self._login = None
        with errors:
            try:
                out, _ = process.communicate(timeout=self.connect_timeout + 60)
            except subprocess.TimeoutExpired as exc:
                process.kill()
                process.communicate()
                raise SshError(f"{self.target}: the login did not finish", "unreachable") from exc
            if process.returncode != 0:
                errors.seek(0)
                raise _classify(self.target, errors.read().decode("utf-8", errors="replace"))
        home = out.decode("utf-8", errors="replace")
        if home.startswith("/"):
            self._home = home
        self._connected = True

    @staticmethod
    def remote_command(
        argv: Sequence[str],
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        *,
        exec_: bool = True,
    ) -> str:
        """The one line the remote shell runs for ``argv``: every word quoted; ``cd`` into
        ``cwd`` first; ``env`` set through ``env NAME=VALUE`` words (names validated).
        ``exec_=False`` leaves the shell running after the command (for what follows)."""
        words = [str(word) for word in argv]
        if not words:
            raise BackendError("an empty remote command")
        if env:
            bad = [name for name in env if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)]
            if bad:
                raise BackendError(f"not environment variable names: {', '.join(bad)}")
            words = ["env", *(f"{name}={value}" for name, value in env.items()), *words]
        line = ("exec " if exec_ else "") + shlex.join(words)
        if cwd is not None:
            line = f"cd -- {shlex.quote(str(cwd))} && {line}"
        return line

    # -- running -------------------------------------------------------------------
    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        stdin: bytes | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        """Run ``argv`` on the remote host (see :class:`CommandRunner`); ``cwd`` is a remote
        path. :class:`SshError` when ssh itself fails."""
        line = self.remote_command(argv, cwd, env)
        if len(self._staged) == 1 and stdin is None:
            # the staged files and the command in one round trip: tar reads the archive
            # from standard input, the command then finds it empty (as it would be)
            local_dir, remote_dir = self._staged[0]
            unpack, archive = self._unpack_line(local_dir, remote_dir, timeout)
            code, out, err = self._ssh(
                [f"{unpack} || {{ echo {shlex.quote(_UNPACK_FAILED)} >&2; exit 1; }}; {line}"],
                archive,
                timeout,
            )
            if code == 1 and err.startswith(_UNPACK_FAILED):
                raise BackendError(f"{self.target}: cannot unpack into {remote_dir}: {err}")
            self._staged.pop(0)
            return _result(argv, code, out, err)
        self._upload_staged(timeout)
        done = self._ssh([line], stdin, timeout)
        return _result(argv, done[0], done[1], done[2])

    def run_collecting(
        self,
        argv: Sequence[str],
        directory: str,
        local_dir: Path,
        *,
        cwd: Path | None = None,
        stdin: bytes | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> CommandResult:
        """Run ``argv`` and copy the regular files directly in the remote ``directory``
        into ``local_dir`` (replacing their local copies), in ONE remote command: the
        command's output, a line with a random token and its exit code, then a tar stream
        of the directory (nothing when it does not exist yet)."""
        self._upload_staged(timeout)
        import secrets

        token = secrets.token_hex(16)
        line = (
            self.remote_command(argv, cwd, exec_=False)
            + f"; printf '\\n{token} %d\\n' \"$?\"; "
            + f"cd -- {shlex.quote(directory)} 2>/dev/null && tar -cf - . 2>/dev/null; exit 0"
        )
        code, out, err = self._ssh_bytes([line], stdin, timeout)
        marker = f"\n{token} ".encode()
        head, found, tail = out.partition(marker)
        if not found:
            raise SshError(f"{self.target}: the answer to {shlex.join(argv)} was cut short", "lost")
        number, _, archive = tail.partition(b"\n")
        _extract_flat(archive, Path(local_dir))
        return _result(
            argv,
            int(number),
            head.decode("utf-8", errors="replace"),
            err.decode("utf-8", errors="replace"),
        )

    def stage(self, local_dir: Path, remote_dir: str) -> None:
        """Copy ``local_dir`` into ``remote_dir`` (:meth:`put_tree`) right before the next
        remote command, with whatever it holds by then."""
        self._staged.append((Path(local_dir), remote_dir))

    def _upload_staged(self, timeout: float) -> None:
        while self._staged:
            local_dir, remote_dir = self._staged[0]
            self.put_tree(local_dir, remote_dir, timeout)
            self._staged.pop(0)

    def _ssh(self, remote: list[str], stdin: bytes | None, timeout: float) -> tuple[int, str, str]:
        code, out, err = self._ssh_bytes(remote, stdin, timeout)
        return code, out.decode("utf-8", errors="replace"), err.decode("utf-8", errors="replace")

    def _ssh_bytes(
        self, remote: list[str], stdin: bytes | None, timeout: float
    ) -> tuple[int, bytes, bytes]:
        self.connect()
        # Only through the shared connection: were it gone, ssh would otherwise log in on
        # its own for this one command (a login per command); ProxyCommand=false makes that
        # fail at once instead (it is never used through a shared connection), and the
        # next command logs in again once, through connect().
        argv = self.ssh_argv("-o", "ControlMaster=no", "-o", "ProxyCommand=false") + remote
        self.commands_run += 1
        try:
            done = subprocess.run(
                argv,
                input=stdin if stdin is not None else b"",
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise BackendError("cannot run ssh: the OpenSSH client is not installed") from exc
        except subprocess.TimeoutExpired as exc:
            self._connected = False
            raise SshError(f"{self.target}: no answer within {timeout:g}s", "lost") from exc
        if done.returncode == SSH_FAILED:
            self._connected = False  # the next command checks, and logs in again if need be
            raise _classify(self.target, done.stderr.decode("utf-8", errors="replace"))
        return done.returncode, done.stdout, done.stderr

    def home(self) -> str:
        """The remote user's home directory (asked once per runner)."""
        if self._home is None:
            self.start_connecting(ask_home=True)  # a new login answers it
            self.connect()
        if self._home is None:
            code, out, err = self._ssh([_HOME_LINE], None, DEFAULT_TIMEOUT)
            if code != 0 or not out.startswith("/"):
                raise BackendError(f"{self.target}: cannot read the remote home: {err.strip()}")
            self._home = out
        return self._home

    def put_tree(self, local_dir: Path, remote_dir: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Copy the contents of ``local_dir`` into ``remote_dir`` (created; everything in
        it private to the user, owned by the remote user) in one remote command: a tar
        stream on standard input."""
        line, archive = self._unpack_line(local_dir, remote_dir, timeout)
        code, _, err = self._ssh([line], archive, timeout)
        if code != 0:
            raise BackendError(f"{self.target}: cannot unpack into {remote_dir}: {err.strip()}")

    def _unpack_line(self, local_dir: Path, remote_dir: str, timeout: float) -> tuple[str, bytes]:
        remote = PurePosixPath(remote_dir)
        if not remote.is_absolute():
            raise BackendError(f"remote directory {remote_dir!r} is not absolute")
        import tarfile

        buffer = io.BytesIO()
        try:
            with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
                tar.add(str(local_dir), arcname=".", filter=_anonymous)
        except OSError as exc:
            raise BackendError(f"cannot pack {local_dir} for {self.target}: {exc}") from exc
        quoted = shlex.quote(str(remote))
        # private to the user whatever modes the local files had; `o`: owned by the user
        line = (
            f"umask 077 && mkdir -p -- {quoted} && tar -C {quoted} -xof - "
            f"&& chmod -R go-rwx -- {quoted}"
        )
        return line, buffer.getvalue()

    def read_file(self, remote_path: str, offset: int = 0, limit: int | None = None) -> bytes:
        """The bytes of ``remote_path`` from ``offset`` (at most ``limit`` of them: for
        logs read in bounded chunks); empty when absent."""
        start = shlex.quote(f"+{int(offset) + 1}")
        quoted = shlex.quote(remote_path)
        line = f"[ -f {quoted} ] && tail -c {start} -- {quoted}"
        if limit is not None:
            line += f" | head -c {int(limit)}"
        code, out, _ = self._ssh_bytes([line], None, DEFAULT_TIMEOUT)
        return out if code == 0 else b""

    def close(self) -> None:
        """End the shared connection (``ssh -O exit``); harmless when none is open."""
        subprocess.run(self.ssh_argv("-O", "exit"), capture_output=True, timeout=30, check=False)
        self._connected = False


_UNPACK_FAILED = "jobspec: unpacking the run directory failed"


def _result(argv: Sequence[str], code: int, out: str, err: str) -> CommandResult:
    from .batch.commands import CommandResult

    return CommandResult(tuple(str(w) for w in argv), code, out, err)


def _anonymous(info: Any) -> Any:
    """A tar member owned by nobody in particular (extracted as the remote user's)."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _extract_flat(archive: bytes, local_dir: Path) -> None:
    """Write the regular files at the top of the tar stream ``archive`` into
    ``local_dir``, each whole (a temporary name, then a rename). Anything else (folders,
    links, nested names) is ignored, and so are files still being written: records are
    written under a name holding ``.tmp.`` and renamed when whole."""
    if not archive:
        return
    import tarfile

    local_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
            for member in tar:
                name = member.name[2:] if member.name.startswith("./") else member.name
                if not member.isreg() or not name or "/" in name or ".tmp." in name:
                    continue
                data = tar.extractfile(member)
                if data is None:
                    continue
                tmp = local_dir / f".{name}.mirror.{os.getpid()}"
                tmp.write_bytes(data.read())
                os.replace(tmp, local_dir / name)
    except tarfile.TarError as exc:
        raise SshError(f"the files brought back are not a tar stream: {exc}", "lost") from exc
