"""Is a process still the one we recorded? A pid plus its start time.

A pid alone may have been reused by an unrelated process; on Linux the start time (field 22
of ``/proc/PID/stat``, clock ticks since boot) tells them apart, and a zombie counts as
gone. Elsewhere only the pid is checked (``start`` is then ``None``).
"""

from __future__ import annotations

import os

__all__ = ["process_start", "process_alive", "identity"]


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("ascii", "replace")
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()  # the name (field 2) may hold ')' and spaces


def process_start(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot, or ``None`` if unknown."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def process_alive(pid: int | None, start: int | None) -> bool:
    """True when ``pid`` runs, is not a zombie and (when known) started at ``start``."""
    if not pid:
        return False
    fields = _stat_fields(pid)
    if fields is None:
        if os.path.isdir("/proc/self"):
            return False  # Linux: no /proc entry, no process
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if fields[0] in ("Z", "X"):
        return False
    return start is None or len(fields) <= 19 or int(fields[19]) == int(start)


def identity(pid: int | None = None) -> dict[str, int | None]:
    """``{"pid": ..., "start": ...}`` of ``pid`` (default: this process)."""
    pid = os.getpid() if pid is None else pid
    return {"pid": pid, "start": process_start(pid)}
