"""The run directory's event log, ``events.jsonl``: what the supervisor saw, in order.

One JSON array per line, appended with ``O_APPEND`` (a line is written by one ``write``
call, so a killed writer leaves at most a torn last line, which readers skip):

* ``["S", pid, start_ticks, time]``: the supervisor started.
* ``["R", task_id, index, pid, start_ticks, time]``: an instance's process started.
* ``["E", task_id, index, state, exit_code, reason, started_at, finished_at]``: an
  instance reached a terminal state (``state`` is a TaskState value).
* ``["D", time]``: the supervisor finished; every instance has an ``E`` line.

:class:`EventLog` reads it incrementally, so following a run costs only the new lines.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["EVENTS_FILE", "SUPERVISOR_FILE", "EventLog", "append_events"]

EVENTS_FILE = "events.jsonl"
SUPERVISOR_FILE = "supervisor.json"


def append_events(path: Path | str, events: list[list[Any]]) -> None:
    """Append ``events`` to the log in one ``write`` (used by processes other than the
    supervisor, e.g. a cancel after the supervisor died)."""
    if not events:
        return
    data = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events).encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


class EventLog:
    """The replayed content of one run's event log (call :meth:`refresh` to read new lines).

    A plain class, not a dataclass: importing :mod:`dataclasses` costs the supervisor
    tens of milliseconds of start-up.
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.offset = 0
        self.supervisor: tuple[int, int | None] | None = None
        self.done = False
        self.started: dict[tuple[str, int], tuple[int, int | None, float]] = {}
        self.ended: dict[tuple[str, int], list[Any]] = {}

    def refresh(self) -> EventLog:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return self
        end = data.rfind(b"\n")
        if end < 0:
            return self
        self.offset += end + 1
        for line in data[: end + 1].splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a torn line from a killed writer
            self._apply(event)
        return self

    def _apply(self, e: list[Any]) -> None:
        kind = e[0]
        if kind == "R":
            self.started[(e[1], e[2])] = (e[3], e[4], e[5])
        elif kind == "E":
            self.ended.setdefault((e[1], e[2]), e)
        elif kind == "S":
            self.supervisor = (e[1], e[2])
        elif kind == "D":
            self.done = True
