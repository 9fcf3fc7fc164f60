"""Runs on another host: where a run's target is kept, its runner, its two directories.

A remote run (``--remote [USER@]HOST[:PORT]`` or ``$JOBSPEC_REMOTE``) keeps its target in
its run options, so every later command (``status``, ``wait``, ``cancel``, ``logs``, from
any shell) finds it in the store:

* ``_remote``: the target as given (``alice@login1:2222``, or an alias of ``~/.ssh/config``);
* ``_remote_dir``: the absolute remote folder of the runs (``$JOBSPEC_REMOTE_DIR`` or
  ``--remote-dir``, default ``~/.jobspec/runs`` under the remote home); the run's own remote
  directory is ``_remote_dir/RUN_ID``;
* ``_remote_home``: the remote user's home (what ``~`` means in the document).

Two directories per run. The transformer sees the REMOTE run directory as
``RunContext.run_dir`` (so every path it renders is one on the cluster) and the remote run
directory as the working directory of tasks. The local run directory of the store is its
MIRROR: :func:`local_path` maps a path under the remote run directory to the same path
under the mirror, and a transformer reads and writes its files through that map (a local
run maps every path to itself). The mirror goes up before the first command of the
submission (:meth:`~jobspec_core.ssh.SshRunner.stage`); records come back with each status
query (:func:`~jobspec_core.batch.commands.run_collecting`).

One :class:`~jobspec_core.ssh.SshRunner` per target and process (:func:`runner_for`), so a
process logs in at most once per target; the shared connection outlives it.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .errors import UsageError

if TYPE_CHECKING:
    from .batch.commands import CommandRunner

__all__ = [
    "REMOTE_ENV",
    "REMOTE_DIR_ENV",
    "REMOTE",
    "REMOTE_DIR",
    "REMOTE_HOME",
    "DEFAULT_REMOTE_DIR",
    "is_remote",
    "runner_for",
    "remote_options",
    "remote_run_dir",
    "register_mirror",
    "local_path",
]

REMOTE_ENV = "JOBSPEC_REMOTE"
REMOTE_DIR_ENV = "JOBSPEC_REMOTE_DIR"
#: run options of a remote run (see the module docstring)
REMOTE = "_remote"
REMOTE_DIR = "_remote_dir"
REMOTE_HOME = "_remote_home"
#: the remote folder of runs, relative to the remote home, when nothing says otherwise
DEFAULT_REMOTE_DIR = ".jobspec/runs"

_RUNNERS: dict[tuple[str, str | None], Any] = {}
_MIRRORS: dict[str, Path] = {}


def is_remote(options: Mapping[str, str] | None) -> bool:
    """True for the options of a remote run."""
    return bool(options and options.get(REMOTE))


def runner_for(options: Mapping[str, str] | None) -> CommandRunner:
    """The runner of a run's commands: an :class:`~jobspec_core.ssh.SshRunner` for a
    remote run (one per target in this process), else the local runner."""
    if not is_remote(options):
        from .batch.commands import LocalRunner

        return LocalRunner()
    assert options is not None
    from .ssh import RemoteTarget, SshRunner  # only remote runs need it

    key = (options[REMOTE], os.environ.get("JOBSPEC_SSH_CONFIG"))
    if key not in _RUNNERS:
        _RUNNERS[key] = SshRunner(RemoteTarget.parse(options[REMOTE]))
    return _RUNNERS[key]


def remote_options(target: str, remote_dir: str | None = None) -> dict[str, str]:
    """The run options of a run on ``target``: connects (one login, a clear
    :class:`~jobspec_core.ssh.SshError` when it cannot) to learn the remote home, and
    resolves the remote folder of runs (``remote_dir``, else ``$JOBSPEC_REMOTE_DIR``, else
    :data:`DEFAULT_REMOTE_DIR`; relative or ``~/x`` means under the remote home)."""
    from .ssh import RemoteTarget

    RemoteTarget.parse(target)  # a usage error before any connection
    options = {REMOTE: target}
    runner = runner_for(options)
    home = runner.home()  # type: ignore[attr-defined]
    base = remote_dir or os.environ.get(REMOTE_DIR_ENV) or DEFAULT_REMOTE_DIR
    if base == "~" or base.startswith("~/"):
        base = base[2:]
    elif base.startswith("~"):
        raise UsageError(f"remote directory {base!r}: ~user is not supported; use ~/x or /x")
    if "\0" in base or "\n" in base:
        raise UsageError("the remote directory must not contain NUL or newline characters")
    absolute = posixpath.normpath(posixpath.join(home, base))
    options.update({REMOTE_DIR: absolute, REMOTE_HOME: home})
    return options


def remote_run_dir(options: Mapping[str, str], run_id: str) -> PurePosixPath:
    """The remote run directory of run ``run_id`` (``_remote_dir/RUN_ID``)."""
    return PurePosixPath(options[REMOTE_DIR]) / run_id


def register_mirror(remote_dir: str | os.PathLike[str], local_dir: Path) -> None:
    """Paths under ``remote_dir`` are mirrored under ``local_dir`` in this process."""
    _MIRRORS[str(remote_dir).rstrip("/")] = Path(local_dir)


def local_path(path: str | os.PathLike[str]) -> Path:
    """The local copy of ``path``: under its run's mirror when ``path`` lies in the remote
    directory of a run this process follows, else ``path`` itself."""
    text = os.fspath(path)
    for remote, local in _MIRRORS.items():
        if text == remote:
            return local
        if text.startswith(remote + "/"):
            return local / text[len(remote) + 1 :]
    return Path(text)
