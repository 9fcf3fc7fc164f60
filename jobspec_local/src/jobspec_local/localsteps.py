"""The built-in steps on one machine.

* ``stage``: every node is this machine, so the path is already present; the step checks
  that it exists (relative to the staging directory) and logs one line.
* ``write``: the file is written inside the staging directory and never outside it: each
  path component is opened relative to its parent's descriptor with ``O_NOFOLLOW`` (a
  symlink planted in the way is refused, not followed), the content goes to a temporary
  file in the same directory and is renamed into place; mode 0755 when ``executable``,
  else 0644.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = ["StepFailed", "run_step"]


class StepFailed(Exception):
    """A step could not be carried out; the message says why."""


def _open_dir(parent_fd: int, name: str, create: bool) -> int:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(name, flags, dir_fd=parent_fd)
    except FileNotFoundError:
        if not create:
            raise
        os.mkdir(name, 0o755, dir_fd=parent_fd)
        return os.open(name, flags, dir_fd=parent_fd)


def write_file(staging: str, path: str, content: str, executable: bool) -> Path:
    """Write ``content`` to ``path`` (relative) inside ``staging``; returns the target."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or "\x00" in path:
        raise StepFailed(f"write: {path!r} must be a relative path inside the staging directory")
    try:
        fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise StepFailed(f"write: staging directory {staging}: {exc.strerror}") from exc
    try:
        for part in pure.parts[:-1]:
            try:
                nfd = _open_dir(fd, part, create=True)
            except OSError as exc:
                raise StepFailed(
                    f"write: cannot enter {part!r} of {path!r} in {staging} "
                    f"({exc.strerror}; symlinks are not followed)"
                ) from exc
            os.close(fd)
            fd = nfd
        name = pure.parts[-1]
        tmp = f".{name}.jobspec-tmp-{os.getpid()}"
        mode = 0o755 if executable else 0o644
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            out = os.open(tmp, flags, mode, dir_fd=fd)
            try:
                os.write(out, content.encode("utf-8"))
                os.fchmod(out, mode)
            finally:
                os.close(out)
            os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
        except OSError as exc:
            try:
                os.unlink(tmp, dir_fd=fd)
            except OSError:
                pass
            raise StepFailed(f"write: cannot write {path!r} in {staging}: {exc.strerror}") from exc
    finally:
        os.close(fd)
    return Path(staging) / path


def run_step(step: dict[str, Any], staging: str, log) -> None:
    """Carry out one step for a node whose staging directory is ``staging``.

    :param log: ``log(text)`` writes a line to the supervisor's log.
    Raises :class:`StepFailed`.
    """
    name, options = step["name"], step.get("options", {})
    if name == "write":
        target = write_file(
            staging,
            str(options["path"]),
            str(options.get("content", "")),
            bool(options.get("executable", False)),
        )
        log(f"write: wrote {target}")
    elif name == "stage":
        target = Path(staging) / os.path.expanduser(str(options["path"]))
        if not target.exists():
            raise StepFailed(f"stage: {target} does not exist")
        log(f"stage: {target} is present on this machine (one node: nothing to copy)")
    else:
        raise StepFailed(f"the local backend has no step {name!r}")
