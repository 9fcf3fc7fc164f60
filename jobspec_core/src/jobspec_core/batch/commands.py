"""The one seam every scheduler command goes through: :class:`CommandRunner`.

The batch layer never calls :mod:`subprocess` itself: it hands each command (an argv
list, never a shell line) to a runner. :class:`LocalRunner` runs it on this machine; a
runner that runs it on a login node over SSH gives every batch transformer remote
submission without changing it (:meth:`BatchTransformer.command_runner
<jobspec_core.batch.transformer.BatchTransformer.command_runner>` picks the runner).

A status query that reads the run's records as well goes through :func:`run_collecting`:
a runner on another host brings the records back with the command's answer, in one round
trip (see :mod:`jobspec_core.remote`).
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..errors import BackendError

__all__ = ["CommandResult", "CommandRunner", "LocalRunner", "DEFAULT_TIMEOUT", "run_collecting"]

#: Seconds a scheduler command may take before it counts as unreachable.
DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True)
class CommandResult:
    """What one command did: its argv, exit code, and output decoded as UTF-8 (bytes that
    are not UTF-8 replaced)."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        """``ARGV exited with N: STDERR`` for messages."""
        said = (self.stderr.strip() or self.stdout.strip())[-2000:]
        return f"{shlex.join(self.argv)} exited with {self.returncode}: {said}"


@runtime_checkable
class CommandRunner(Protocol):
    """Runs one scheduler command and returns its :class:`CommandResult`.

    :param argv: the command as an argv list (no shell).
    :param cwd: the directory to run it in (the run directory), or ``None``.
    :param stdin: bytes for its standard input (``None``: empty input).
    :param timeout: seconds before it is killed.
    :returns: the result, whatever the exit code (a non-zero exit is not an error here).
    :raises BackendError: the command cannot be started (not found, no permission, the
        remote host unreachable) or did not finish within ``timeout``.
    """

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        stdin: bytes | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> CommandResult: ...


class LocalRunner:
    """Runs commands on this machine with :func:`subprocess.run`."""

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        stdin: bytes | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> CommandResult:
        words = [str(word) for word in argv]
        if not words:
            raise BackendError("an empty scheduler command")
        try:
            done = subprocess.run(
                words,
                cwd=cwd,
                input=stdin if stdin is not None else b"",
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise BackendError(f"cannot run {words[0]!r}: not found") from exc
        except subprocess.TimeoutExpired as exc:
            raise BackendError(f"{shlex.join(words)} did not finish within {timeout:g}s") from exc
        except OSError as exc:
            raise BackendError(f"cannot run {shlex.join(words)}: {exc.strerror or exc}") from exc
        return CommandResult(
            tuple(words),
            done.returncode,
            done.stdout.decode("utf-8", errors="replace"),
            done.stderr.decode("utf-8", errors="replace"),
        )


def run_collecting(
    runner: CommandRunner,
    argv: Sequence[str],
    directory: str | Path,
    *,
    cwd: Path | None = None,
    stdin: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> CommandResult:
    """Run ``argv`` through ``runner`` and make the files of the run directory
    ``directory`` readable at :func:`~jobspec_core.remote.local_path` of their paths.

    A local runner only runs the command (the files are where they are); a runner with a
    ``run_collecting`` method (the SSH runner) copies them back in the same round trip.
    """
    collect = getattr(runner, "run_collecting", None)
    if collect is None:
        return runner.run(argv, cwd=cwd, stdin=stdin, timeout=timeout)
    from ..remote import local_path

    return collect(
        argv, str(directory), local_path(directory), cwd=cwd, stdin=stdin, timeout=timeout
    )
