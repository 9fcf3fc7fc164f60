"""What every private test cluster does with its daemons: one place for Slurm's and Grid Engine's.

A test cluster (``jobspec_slurm.testing.cluster``, ``jobspec_sge.testing.cluster``, a site's
own) starts a scheduler's daemons as root in a private directory and must stop exactly what
it started, nothing else. This module holds the machinery that does not depend on the
scheduler:

* processes: :func:`pid_alive`, :func:`proc_file`, :func:`process_is` (is this pid still the
  daemon we started: its program name, and a marker in its command line or environment, so
  a recycled pid is never killed), :func:`terminate` (SIGTERM, then SIGKILL) and
  :func:`kill_trees` (SIGKILL processes a predicate picks, with all their descendants);
* :func:`free_ports` (distinct TCP ports free on every interface), :func:`tail` (the end of
  a log for an error message), :func:`exports` (``export K=V`` lines for a shell);
* :class:`LocalCluster`: the base class (a context manager; waiting for readiness while
  checking the daemons still run; errors carrying the daemons' log tails; ``stop`` as
  "delete every job, end the daemons in reverse order, clean up") and its command line,
  :meth:`LocalCluster.main` (``start|stop|status|env [--dir DIR]``).

A subclass says which daemons it runs, how to find their pids, logs and standard output,
how to start it, how to ask the controller whether it answers and how to delete every job.
Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from ..liveness import process_alive

__all__ = [
    "ClusterError",
    "LocalCluster",
    "exports",
    "free_ports",
    "kill_trees",
    "pid_alive",
    "proc_file",
    "process_is",
    "tail",
    "terminate",
]


class ClusterError(RuntimeError):
    """A test cluster could not be started, or one of its daemons died."""


def free_ports(count: int, host: str = "") -> list[int]:
    """``count`` distinct TCP ports free right now on ``host`` (default: every interface, as
    daemons binding 0.0.0.0 need; ``127.0.0.1`` for a loopback server): the sockets are held
    open together while the ports are picked."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for s in socks:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]
    except OSError as exc:
        raise ClusterError(f"could not find {count} free TCP port(s): {exc}") from exc
    finally:
        for s in socks:
            s.close()


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of ``path``, indented, or a note that it is missing or empty."""
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"  ({path}: missing)"
    return "\n".join(f"  {line}" for line in text) or f"  ({path}: empty)"


def exports(env: Mapping[str, str]) -> str:
    """``export KEY=VALUE`` lines (values shell-quoted) for ``eval`` in a shell."""
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items())


def pid_alive(pid: int | None) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    return process_alive(pid, None)


def proc_file(pid: int, name: str) -> bytes:
    """``/proc/PID/NAME`` (``cmdline``, ``environ``, ``stat``), or ``b""`` when unreadable."""
    try:
        return (Path("/proc") / str(pid) / name).read_bytes()
    except OSError:
        return b""


def process_is(
    pid: int | None,
    program: str,
    *,
    argv_has: str | None = None,
    environ_has: str | None = None,
) -> bool:
    """Whether ``pid`` runs ``program`` (the file name of its ``argv[0]``) with ``argv_has``
    among its arguments and ``environ_has`` (``KEY=VALUE``) in its environment, each when
    given. A daemon's command line reads empty for a moment while it sets its process title:
    that is read again a few times."""
    if pid is None or not pid_alive(pid):
        return False
    argv: list[bytes] = []
    for _ in range(10):
        argv = [a for a in proc_file(pid, "cmdline").split(b"\0") if a]
        if argv:
            break
        time.sleep(0.02)
    if not argv or Path(argv[0].decode(errors="replace")).name != program:
        return False
    if argv_has is not None and argv_has.encode() not in argv:
        return False
    if environ_has is not None and environ_has.encode() not in proc_file(pid, "environ").split(
        b"\0"
    ):
        return False
    return True


def terminate(pid: int | None, grace: float, child: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM ``pid``, then SIGKILL it if it still runs after ``grace`` seconds (waiting up to
    5 s more). ``child``: our own :class:`subprocess.Popen` of it, reaped so that it does not
    linger as a zombie."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if pid is None or not pid_alive(pid):
            break
        os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and pid_alive(pid):
            if child is not None and child.pid == pid:
                child.poll()
            time.sleep(0.05)
    if child is not None and child.poll() is None and not pid_alive(child.pid):
        child.wait(timeout=1)


def kill_trees(is_root: Callable[[int], bool]) -> None:
    """SIGKILL every process ``is_root(pid)`` picks, and all their descendants (a job's
    processes left behind by a daemon that could not end them); best effort."""
    children: dict[int, list[int]] = {}
    roots = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        stat = proc_file(pid, "stat").rpartition(b")")[2].split()
        if len(stat) < 2:
            continue
        children.setdefault(int(stat[1]), []).append(pid)
        if is_root(pid):
            roots.append(pid)
    while roots:
        pid = roots.pop()
        roots.extend(children.get(pid, []))
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


class LocalCluster(ABC):
    """A scheduler's daemons on this host, everything in ``state_dir`` (see the module docstring).

    Use as a context manager (``with Cluster() as c: ...``: stopped at the end; its own temp
    directory, when it made one, is removed unless the block failed) or call
    ``start()``/``stop()``.

    Subclasses set :attr:`label` (``local Slurm cluster``, for messages), :attr:`daemons`
    (controller first: :meth:`stop` ends them in reverse order), :attr:`prog` and
    :attr:`default_cli_dir` (the command line's), :attr:`stop_grace`, and implement the
    abstract members.
    """

    label: ClassVar[str]
    daemons: ClassVar[tuple[str, ...]]
    prog: ClassVar[str]
    default_cli_dir: ClassVar[Path]
    #: seconds a daemon may take to end on SIGTERM before it is killed.
    stop_grace: ClassVar[float] = 5.0

    def __init__(self, state_dir: str | os.PathLike[str] | None, prefix: str) -> None:
        import tempfile

        self._own_dir = state_dir is None
        self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix=prefix)).resolve()
        #: our own children (daemons started in the foreground), by daemon name
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    # ---- what a subclass says --------------------------------------------------------------
    @property
    @abstractmethod
    def env(self) -> dict[str, str]:
        """Variables clients need; merge into os.environ: ``{**os.environ, **cluster.env}``."""

    @abstractmethod
    def log_path(self, daemon: str) -> Path:
        """The log file of ``daemon``."""

    @abstractmethod
    def stdout_path(self, daemon: str) -> Path:
        """Where ``daemon``'s standard output and error go."""

    @abstractmethod
    def _our_pid(self, daemon: str) -> int | None:
        """Pid of ``daemon`` if it runs and is this cluster's (never a recycled pid)."""

    @abstractmethod
    def start(self) -> LocalCluster:
        """Start the daemons; return once the cluster takes jobs (or raise ClusterError)."""

    @abstractmethod
    def _controller_answers(self) -> bool:
        """Whether the controller answers a client command right now."""

    @abstractmethod
    def _delete_all_jobs(self) -> None:
        """Delete every job of this cluster (the controller runs)."""

    def executable(self, program: str) -> str:
        """The path of client command ``program`` (default: as found on PATH)."""
        return shutil.which(program) or program

    def _forget(self, daemon: str) -> None:  # noqa: B027 - an optional hook
        """Called once ``daemon`` was stopped (drop a recorded pid)."""

    def _after_stop(self) -> None:  # noqa: B027 - an optional hook
        """Clean-up after every daemon ended (leftover job processes, cgroups)."""

    # ---- commands ----------------------------------------------------------------------------
    def _full_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def run(
        self, argv: list[str], timeout: float = 60, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run a client command against this cluster (text mode, output captured).

        ``argv[0]`` is looked up with :meth:`executable`; an ``env`` keyword is merged over the
        cluster's environment.
        """
        return subprocess.run(
            [self.executable(argv[0]), *argv[1:]],
            env={**self._full_env(), **kw.pop("env", {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **kw,
        )

    # ---- daemons -----------------------------------------------------------------------------
    def _fail(self, what: str) -> ClusterError:
        """A :class:`ClusterError` saying ``what``, with the tails of every daemon's logs."""
        parts = [f"{self.label} in {self.state_dir}: {what}"]
        for daemon in self.daemons:
            for path, lines in ((self.log_path(daemon), 25), (self.stdout_path(daemon), 10)):
                parts.append(f"--- tail of {path}:\n{tail(path, lines)}")
        return ClusterError("\n".join(parts))

    def _gone(self, daemon: str) -> ClusterError:
        proc = self._procs.get(daemon)
        rc = proc.poll() if proc is not None else None
        return self._fail(
            f"{daemon} is not running" + (f" (exit status {rc})" if rc is not None else "")
        )

    def _wait(
        self,
        ready: Callable[[], bool],
        what: str | Callable[[], str],
        timeout: float,
        daemons: tuple[str, ...],
        interval: float = 0.2,
    ) -> None:
        """Call ``ready()`` until it is true; raise with ``what`` (a text, or a function
        giving it) after ``timeout`` s, or at once when one of ``daemons`` is not running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for daemon in daemons:
                if self._our_pid(daemon) is None:
                    raise self._gone(daemon)
            if ready():
                return
            time.sleep(interval)
        text = what() if callable(what) else what
        raise self._fail(f"{text} after {timeout:.0f}s")

    def _terminate(self, daemon: str, grace: float | None = None) -> None:
        """SIGTERM our ``daemon``, SIGKILL it after ``grace`` s (default :attr:`stop_grace`)."""
        pid = self._our_pid(daemon)
        terminate(pid, self.stop_grace if grace is None else grace, self._procs.pop(daemon, None))
        self._forget(daemon)

    def is_up(self) -> bool:
        """True if all our daemons run and the controller answers."""
        if any(self._our_pid(d) is None for d in self.daemons):
            return False
        return self._controller_answers()

    def stop(self) -> None:
        """Delete every job (when the controller runs), then end our daemons, last first
        (SIGTERM, then SIGKILL), then clean up what their jobs left."""
        if self._our_pid(self.daemons[0]) is not None:
            self._delete_all_jobs()
        for daemon in reversed(self.daemons):
            self._terminate(daemon)
        self._after_stop()

    def __enter__(self) -> LocalCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.stop()
        if self._own_dir and exc_type is None:  # keep logs of a failed run for debugging
            shutil.rmtree(self.state_dir, ignore_errors=True)

    # ---- command line ------------------------------------------------------------------------
    @classmethod
    def main(cls, argv: list[str] | None = None) -> int:
        """``start`` (prints ``export`` lines; a failed start stops what it started and exits
        1), ``stop``, ``status`` (exit 0 when up, 3 when down) and ``env`` for ``--dir DIR``
        (default :attr:`default_cli_dir`, so separate invocations find the same cluster)."""
        parser = argparse.ArgumentParser(prog=cls.prog)
        parser.add_argument("command", choices=["start", "stop", "status", "env"])
        parser.add_argument("--dir", default=str(cls.default_cli_dir), help="state directory")
        args = parser.parse_args(argv)
        cluster = cls(args.dir)  # type: ignore[call-arg]
        if args.command == "start":
            t0 = time.monotonic()
            try:
                cluster.start()
            except (ClusterError, subprocess.TimeoutExpired) as e:
                print(e, file=sys.stderr)
                cluster.stop()  # a half-started cluster leaves nothing running
                return 1
            print(f"# {cluster.label} up in {time.monotonic() - t0:.1f}s ({cluster.state_dir})")
            print(exports(cluster.env))
        elif args.command == "stop":
            cluster.stop()
            print(f"# stopped {cluster.label} in {cluster.state_dir}")
        elif args.command == "env":
            print(exports(cluster.env))
        else:
            up = cluster.is_up()
            pids = {d: cluster._our_pid(d) for d in cls.daemons}
            print(
                f"{'up' if up else 'down'}: {cluster.state_dir} "
                + " ".join(f"{d}={p or '-'}" for d, p in pids.items())
            )
            return 0 if up else 3
        return 0
