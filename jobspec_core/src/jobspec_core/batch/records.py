"""What the job scripts and the layer record per task instance, in the run directory.

For instance ``INDEX`` of a task whose slug is ``TASK``, under ``RUN_DIR/records/``:

* ``TASK.INDEX.start``: ``started=T`` once the instance started;
* ``TASK.INDEX.exit``: ``code=N started=T finished=T`` once it ended (``code=never``: it
  was not run because something it depends on did not succeed);
* ``TASK.INDEX.cancelled``: jobspec cancelled it;
* ``TASK.INDEX.verdict``: an end the layer decided for an instance the script could not
  record (its job was in an error state and was deleted, was killed or deleted by the
  scheduler, or was never run): JSON ``{"state": ..., "reason": ..., "exit_code": ...}``.

and ``JOB.missing`` (``JOB`` the job id, made safe): when the job was first found missing
from the queue, for the grace before it is declared lost. Output goes to
``RUN_DIR/logs/TASK.INDEX.out``. Every record is written whole (a temporary name, then a
rename), so a reader never sees half of one.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from ..remote import local_path
from ..transformer import TaskState, TaskStatus

__all__ = [
    "TIMEOUT_CODES",
    "records_dir",
    "logs_dir",
    "InstanceRecords",
    "missing_since",
    "forget_missing",
]


#: Exit code of coreutils ``timeout`` when the limit was reached (137 when it had to KILL).
TIMEOUT_CODES = (124, 137)


def records_dir(run_dir: Path | str) -> Path:
    """Where job scripts record each instance's start and end, and each node's outcome."""
    return Path(run_dir) / "records"


def logs_dir(run_dir: Path | str) -> Path:
    """Where each instance's output goes."""
    return Path(run_dir) / "logs"


def _read(path: Path) -> dict[str, str] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    return dict(part.split("=", 1) for part in text.split() if "=" in part)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp.{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class InstanceRecords:
    """The records of one instance, from its base path (``RUN_DIR/records/TASK.INDEX``),
    read and written at their local copy (:func:`~jobspec_core.remote.local_path`: the
    mirror of a remote run's directory)."""

    def __init__(self, base: str | Path):
        self.base = local_path(base)

    def _file(self, suffix: str) -> Path:
        return self.base.with_name(f"{self.base.name}.{suffix}")

    @property
    def started(self) -> float | None:
        start = _read(self._file("start"))
        return float(start["started"]) if start and "started" in start else None

    @property
    def ended(self) -> bool:
        return self._file("exit").exists() or self._file("verdict").exists()

    @property
    def cancelled(self) -> bool:
        return self._file("cancelled").exists()

    def mark_cancelled(self) -> None:
        self._file("cancelled").parent.mkdir(parents=True, exist_ok=True)
        self._file("cancelled").touch()

    def end(self, duration: int | None) -> TaskStatus | None:
        """How the instance ended, from its records (``None`` while it has not)."""
        verdict = self._verdict()
        if verdict is not None:
            return verdict
        end = _read(self._file("exit"))
        if end is None:
            return None
        if end.get("code") == "never":
            return TaskStatus(TaskState.NEVER_RUN, None, "something it depends on did not succeed")
        code = int(end.get("code", "1"))
        started, finished = float(end.get("started", 0)), float(end.get("finished", 0))
        timed_out = code in TIMEOUT_CODES and finished - started >= (duration or 0) - 1
        if duration is not None and timed_out:
            reason = f"killed at duration limit {duration}s"
            return TaskStatus(TaskState.TIMEOUT, code, reason, started, finished)
        if end.get("steps") == "failed":
            reason = "its steps failed (see the .steps.out log)"
            return TaskStatus(TaskState.FAILED, code, reason, started, finished)
        state = TaskState.COMPLETED if code == 0 else TaskState.FAILED
        return TaskStatus(
            state, code, None if code == 0 else f"exit code {code}", started, finished
        )

    def _verdict(self) -> TaskStatus | None:
        try:
            data = json.loads(self._file("verdict").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return TaskStatus(
            TaskState(data["state"]),
            data.get("exit_code"),
            data.get("reason"),
            self.started,
            data.get("finished"),
        )

    def decide(self, status: TaskStatus) -> TaskStatus:
        """Record ``status`` (terminal) as this instance's end, unless an end is already
        recorded; returns the end that holds."""
        held = self.end(None)
        if held is not None:
            return held
        data = {
            "state": status.state.value,
            "reason": status.reason,
            "exit_code": status.exit_code,
            "finished": status.finished_at or time.time(),
        }
        _write(self._file("verdict"), json.dumps(data))
        status.finished_at = float(data["finished"] or 0)
        return status


def _missing_file(records: Path, job_id: str) -> Path:
    return records / (re.sub(r"[^A-Za-z0-9_.-]", "_", job_id) + ".missing")


def missing_since(records: Path, job_id: str, now: float | None = None) -> float:
    """When job ``job_id`` was first found missing from the queue (recorded now if it
    was not yet)."""
    path = _missing_file(records, job_id)
    try:
        return float(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        now = time.time() if now is None else now
        _write(path, repr(now))
        return now


def forget_missing(records: Path, job_id: str) -> None:
    """The job is visible again: its grace starts afresh next time it goes missing."""
    try:
        _missing_file(records, job_id).unlink()
    except FileNotFoundError:
        pass
