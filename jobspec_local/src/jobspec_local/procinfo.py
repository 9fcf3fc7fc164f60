"""Is this process still the one we started? Pids with their start times (Linux ``/proc``).

A pid alone may have been reused by an unrelated process; the start time (field 22 of
``/proc/PID/stat``, clock ticks since boot) tells them apart. A zombie counts as gone.

The same check as :mod:`jobspec_core.liveness`, kept here so that the supervisor, which
must start fast, does not import jobspec_core (about 13 ms).
"""

from __future__ import annotations

import os
import signal

__all__ = ["start_time", "alive", "kill_group"]


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
