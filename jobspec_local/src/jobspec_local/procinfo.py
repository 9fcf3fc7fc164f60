"""Is this process still the one we started? Pids with their start times (Linux ``/proc``).

A pid alone may have been reused by an unrelated process; the start time (field 22 of
``/proc/PID/stat``, clock ticks since boot) tells them apart. A zombie counts as gone.

Containment (what a task starts must not outlive it): :func:`become_subreaper` makes this
process the one orphans of its descendants are given to (``PR_SET_CHILD_SUBREAPER``), so a
process that calls ``setsid`` or double-forks stays below us; :func:`descendants` walks the
process tree (``/proc/PID/task/TID/children``); :func:`kill_tree` signals a whole tree;
:func:`instance_of` tells which task instance an orphan came from (the portable variables
it inherited, read from ``/proc/PID/environ``).

The same check as :mod:`jobspec_core.liveness`, kept here so that the supervisor, which
must start fast, does not import jobspec_core (about 13 ms).
"""

from __future__ import annotations

import os
import signal

__all__ = [
    "start_time",
    "alive",
    "kill_group",
    "become_subreaper",
    "children",
    "descendants",
    "kill_tree",
    "instance_of",
]

_PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def _stat_fields(pid: int) -> list[str] | None:
    try:  # raw descriptors: a Python file object costs several times more, per spawn
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
        try:
            raw = os.read(fd, 4096).decode("ascii", "replace")
        finally:
            os.close(fd)
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return raw[raw.rfind(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or ``None`` if it is gone."""
    fields = _stat_fields(pid)
    if not fields or len(fields) < 20:
        return None
    return int(fields[19])


def alive(pid: int | None, started: int | None) -> bool:
    """True when ``pid`` exists, is not a zombie and (if known) started at ``started``."""
    if not pid:
        return False
    fields = _stat_fields(pid)
    if not fields or len(fields) < 20:
        return False
    if fields[0] in ("Z", "X"):
        return False
    return started is None or int(fields[19]) == int(started)


def kill_group(pid: int, sig: int = signal.SIGTERM) -> bool:
    """Send ``sig`` to the process group led by ``pid``; False when it no longer exists."""
    try:
        os.killpg(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def become_subreaper() -> bool:
    """Make this process the subreaper of its descendants (Linux); False where it cannot."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _read(path: str, limit: int = 1 << 20) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return b""
    try:
        chunks, size = [], 0
        while size < limit:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    except OSError:
        return b""
    finally:
        os.close(fd)


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (of every thread of it)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    out: list[int] = []
    for tid in tids:
        out.extend(int(x) for x in _read(f"/proc/{pid}/task/{tid}/children").split())
    return out


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` in the process tree, parents before their children."""
    out: list[int] = []
    seen = {pid}
    stack = [pid]
    while stack:
        for child in children(stack.pop()):
            if child not in seen:
                seen.add(child)
                out.append(child)
                stack.append(child)
    return out


def _signal(pids, sig: int) -> None:
    for p in pids:
        try:
            os.kill(p, sig)
        except (ProcessLookupError, PermissionError):
            pass


def kill_tree(pid: int, sig: int, extra: list[int] | tuple[int, ...] = ()) -> None:
    """Send ``sig`` to ``pid``, its process group, every descendant and ``extra`` (with
    theirs). For SIGKILL the tree is first frozen with SIGSTOP, walked again until no new
    process turns up, so that nothing forks its way out between the walk and the kill."""
    roots = [pid, *extra]
    if sig == signal.SIGKILL:
        stopped: set[int] = set()
        for _ in range(20):
            found = [p for r in roots for p in (r, *descendants(r)) if p not in stopped]
            if not found:
                break
            _signal(found, signal.SIGSTOP)
            stopped.update(found)
    kill_group(pid, sig)
    _signal([p for r in roots for p in (r, *descendants(r))], sig)


def instance_of(pid: int) -> tuple[str, str, int] | None:
    """``(run id, task id, index)`` from the portable variables ``pid`` started with, or
    ``None`` when it has none (a process may clear its environment)."""
    found: dict[bytes, bytes] = {}
    for item in _read(f"/proc/{pid}/environ").split(b"\0"):
        key, _, value = item.partition(b"=")
        if key in (b"JOBSPEC_RUN_ID", b"JOBSPEC_TASK_NAME", b"JOBSPEC_TASK_INDEX"):
            found[key] = value
    try:
        return (
            found[b"JOBSPEC_RUN_ID"].decode(),
            found[b"JOBSPEC_TASK_NAME"].decode(),
            int(found[b"JOBSPEC_TASK_INDEX"]),
        )
    except (KeyError, ValueError, UnicodeDecodeError):
        return None
