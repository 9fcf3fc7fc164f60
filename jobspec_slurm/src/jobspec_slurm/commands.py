"""Running Slurm's client commands: which executable, with what environment, and what a
failure means.

Every command is an argv list (never a shell line). Each executable can be replaced, in
order of precedence, by the transformer option of the same name (``-o sbatch=/path``,
``RunContext.options["sbatch"]``) or the environment variable ``JOBSPEC_SLURM_<NAME>``
(``JOBSPEC_SLURM_SBATCH``); by default it is looked up on ``PATH``. Clients find the
controller through ``SLURM_CONF`` (or Slurm's defaults), which error messages name.

A failure to reach ``slurmctld`` is a :class:`~jobspec_core.errors.BackendError` that names
the controller and the configuration in use; the caller decides what any other non-zero
exit means (:class:`CommandResult` carries it).

A remote run (``options["_remote"]``, see :mod:`jobspec_core.remote`) runs every command
through the core's command runner for that host instead: the executable is the option's,
else the bare name found on the remote ``PATH`` (this machine's ``JOBSPEC_SLURM_<NAME>``
and ``PATH`` say nothing about the remote host). ``collect`` then brings a remote
directory's files back with the command's answer (one round trip).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jobspec_core.errors import BackendError
from jobspec_core.remote import is_remote

__all__ = [
    "COMMANDS",
    "CommandResult",
    "executable",
    "run_command",
    "controller_unreachable",
    "slurm_conf_in_use",
]

#: the client commands the backend uses.
COMMANDS = ("sbatch", "squeue", "scontrol", "scancel", "sinfo")

#: fragments of Slurm's client messages meaning the controller did not answer.
_UNREACHABLE = (
    "unable to contact slurm controller",
    "connect failure",
    "connection refused",
    "zero bytes were transmitted",
    "socket timed out",
    "communication connection failure",
    "could not establish a configuration source",
    "unable to establish controller machine",
)

#: seconds a client command may take before it is treated as a controller that hangs.
DEFAULT_TIMEOUT = 120.0


@dataclass
class CommandResult:
    """What a finished command returned (text mode)."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def message(self) -> str:
        """The command's own error text, on one line, for error messages."""
        text = self.stderr.strip() or self.stdout.strip() or f"exit code {self.returncode}"
        return " / ".join(line.strip() for line in text.splitlines() if line.strip())


def executable(name: str, options: Mapping[str, str] | None = None) -> str:
    """The executable to run for ``name`` (``sbatch``...): option, then env, then PATH
    (resolved here to an absolute path: exec'ing a bare name makes the child try every
    PATH entry in turn, a measurable part of a 4 ms sbatch)."""
    if options and options.get(name):
        chosen = options[name]
    else:
        chosen = os.environ.get(f"JOBSPEC_SLURM_{name.upper()}") or name
    if "/" in chosen:
        return chosen
    return _on_path(chosen, os.environ.get("PATH", os.defpath)) or chosen


@functools.lru_cache(maxsize=64)
def _on_path(name: str, path: str) -> str | None:
    return shutil.which(name, path=path)


def slurm_conf_in_use() -> str:
    """A description of the configuration clients read, for messages."""
    conf = os.environ.get("SLURM_CONF")
    return f"SLURM_CONF={conf}" if conf else "SLURM_CONF unset (Slurm's default configuration)"


def controller_unreachable(result: CommandResult) -> bool:
    """True when ``result`` failed because slurmctld could not be reached."""
    text = (result.stderr + "\n" + result.stdout).lower()
    return not result.ok and any(fragment in text for fragment in _UNREACHABLE)


def _unreachable_error(result: CommandResult) -> BackendError:
    return BackendError(
        f"the Slurm controller (slurmctld) could not be reached by {result.argv[0]} "
        f"({slurm_conf_in_use()}): {result.message()}"
    )


def run_command(
    name: str,
    args: Sequence[str],
    options: Mapping[str, str] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    check_controller: bool = True,
    input_text: str | None = None,
    cwd: str | None = None,
    collect: str | None = None,
) -> CommandResult:
    """Run Slurm command ``name`` with ``args``; return its result.

    Raises :class:`BackendError` when the executable is missing, the command hangs past
    ``timeout`` seconds, or (with ``check_controller``) it failed because slurmctld could
    not be reached. Any other non-zero exit is returned for the caller to interpret.
    ``collect``: a run directory whose files the caller reads next (through
    :func:`jobspec_core.remote.local_path`); only a remote run does anything with it.
    """
    if is_remote(options):
        result = _run_remote(name, args, options, timeout, input_text, cwd, collect)
        if check_controller and controller_unreachable(result):
            raise _unreachable_error(result)
        return result
    exe = executable(name, options)
    argv = [exe, *args]
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
        )
    except FileNotFoundError as exc:
        raise BackendError(
            f"{name} not found ({exe!r}): is the Slurm client installed? Set "
            f"JOBSPEC_SLURM_{name.upper()} or the transformer option {name}=PATH"
        ) from exc
    except OSError as exc:
        raise BackendError(f"cannot run {name} ({exe!r}): {exc.strerror}") from exc
    # A watchdog thread rather than communicate(timeout=...): the latter polls with sleeps
    # and costs about a millisecond per call, which the submit benchmark sees.
    expired = threading.Event()

    def _expire() -> None:
        expired.set()
        proc.kill()

    watchdog = threading.Timer(timeout, _expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        stdout, stderr = proc.communicate(input_text)
    finally:
        watchdog.cancel()
    if expired.is_set():
        raise BackendError(
            f"{name} did not answer within {timeout:.0f}s: the Slurm controller (slurmctld) "
            f"may be down or overloaded ({slurm_conf_in_use()})"
        )
    result = CommandResult(argv, proc.returncode, stdout, stderr)
    if check_controller and controller_unreachable(result):
        raise _unreachable_error(result)
    return result


def _run_remote(name, args, options, timeout, input_text, cwd, collect) -> CommandResult:
    from pathlib import Path

    from jobspec_core.batch.commands import run_collecting
    from jobspec_core.remote import runner_for

    exe = (options or {}).get(name) or name
    runner = runner_for(options)
    stdin = input_text.encode("utf-8") if input_text is not None else None
    where = Path(cwd) if cwd else None
    if collect is not None:
        done = run_collecting(
            runner, [exe, *args], collect, cwd=where, stdin=stdin, timeout=timeout
        )
    else:
        done = runner.run([exe, *args], cwd=where, stdin=stdin, timeout=timeout)
    if done.returncode == 127 and "not found" in done.stderr:
        raise BackendError(
            f"{name} not found on the remote host ({exe!r}): is the Slurm client installed "
            f"there, on the PATH of a non-interactive shell? Or set the option {name}=PATH"
        )
    return CommandResult(list(done.argv), done.returncode, done.stdout, done.stderr)
