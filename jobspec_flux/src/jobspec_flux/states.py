"""Flux job states and results mapped to jobspec's :class:`TaskState`, and job id parsing.

Source: flux-jobs(1), section "JOB STATUS" (flux-core 0.88.0), and Flux RFC 21 (job states):
a job passes through DEPEND, PRIORITY, SCHED, RUN, CLEANUP and INACTIVE; "pending" is
DEPEND, PRIORITY and SCHED, "running" is RUN and CLEANUP. Once INACTIVE a job has a result:
COMPLETED, FAILED, CANCELED or TIMEOUT. The job's exception (``exception.type``) tells why a
job failed without running its command: ``dependency`` ("dependency ... can never be
satisfied") means a dependency did not succeed, which jobspec calls NEVER_RUN.

Facts measured on flux-core 0.88.0: a job over its time limit ends with result TIMEOUT,
exit code 142 and exception type ``timeout``; a missing executable gives exit code 127
(exception ``exec``); ``flux cancel`` gives CANCELED and 143.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jobspec_core.transformer import TaskState, TaskStatus

__all__ = [
    "PENDING_STATES",
    "RUNNING_STATES",
    "RESULT_MAP",
    "status_from_record",
    "parse_jobid",
]

#: flux-jobs(1): "pending" is an alias for DEPEND, PRIORITY, SCHED (NEW precedes them).
PENDING_STATES = frozenset({"NEW", "DEPEND", "PRIORITY", "SCHED"})
#: flux-jobs(1): "running" is an alias for RUN, CLEANUP.
RUNNING_STATES = frozenset({"RUN", "CLEANUP"})

#: flux-jobs(1) "JOB STATUS": results of an INACTIVE job.
RESULT_MAP: dict[str, TaskState] = {
    "COMPLETED": TaskState.COMPLETED,
    "FAILED": TaskState.FAILED,
    "CANCELED": TaskState.CANCELLED,
    "TIMEOUT": TaskState.TIMEOUT,
}

# RFC 19 (FLUID) F58 alphabet: base58 without 0, O, I, l.
_F58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_F58_PREFIXES = ("\u0192", "f")  # "ƒ" in a UTF-8 locale, "f" otherwise


def parse_jobid(text: str) -> int:
    """A Flux job id as an integer, from decimal, ``0x`` hex or F58 (``ƒ...``/``f...``) text.

    flux-submit(1) prints F58 ids whose first character depends on the locale; jobspec keeps
    and compares only the integer. Raises ``ValueError`` on anything else.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty job id")
    if text.isdigit():
        return int(text)
    if text.startswith("0x"):
        return int(text, 16)
    for prefix in _F58_PREFIXES:
        if text.startswith(prefix) and len(text) > len(prefix):
            value = 0
            for char in text[len(prefix) :]:
                digit = _F58.find(char)
                if digit < 0:
                    raise ValueError(f"not a Flux job id: {text!r}")
                value = value * 58 + digit
            return value
    raise ValueError(f"not a Flux job id: {text!r}")


def _exit_code(record: Mapping[str, Any]) -> int | None:
    code = record.get("returncode")
    return code if isinstance(code, int) else None


def status_from_record(record: Mapping[str, Any]) -> TaskStatus:
    """The :class:`TaskStatus` of one job from its ``flux jobs --json`` record.

    The record is one entry of ``{"jobs": [...]}`` (or the same keys from flux-python's
    job list): ``state``, ``result``, ``returncode``, ``exception`` {occurred, type, note},
    ``t_run``, ``t_inactive``.
    """
    state = str(record.get("state", "")).upper()
    started = record.get("t_run") or None
    finished = record.get("t_inactive") or None
    if state in PENDING_STATES:
        return TaskStatus(TaskState.PENDING)
    if state in RUNNING_STATES:
        return TaskStatus(TaskState.RUNNING, started_at=started)
    if state != "INACTIVE":
        return TaskStatus(TaskState.UNKNOWN, reason=f"unknown Flux job state {state!r}")
    result = str(record.get("result", "")).upper()
    exception = record.get("exception") or {}
    note = exception.get("note") or None
    if exception.get("occurred") and exception.get("type") == "dependency":
        return TaskStatus(
            TaskState.NEVER_RUN,
            reason=note or "a dependency did not succeed",
            finished_at=finished,
        )
    mapped = RESULT_MAP.get(result)
    if mapped is None:
        return TaskStatus(TaskState.UNKNOWN, reason=f"unknown Flux job result {result!r}")
    if mapped is TaskState.COMPLETED:
        return TaskStatus(mapped, 0, None, started, finished)
    reason = note
    if mapped is TaskState.TIMEOUT:
        reason = note or "killed at its time limit"
    if mapped is TaskState.CANCELLED and not started:
        # Canceled before it ever ran: no exit code of its own (flux-jobs(1) "returncode").
        return TaskStatus(mapped, None, reason or "canceled before it started", None, finished)
    return TaskStatus(mapped, _exit_code(record), reason, started, finished)
