"""How one task instance of a batch job stands: its records first, then its job's state.

The one rule :meth:`BatchTransformer.status <jobspec_core.batch.transformer.BatchTransformer.status>`
applies to every instance, in this order: cancelled by jobspec; its recorded end (or an end
the layer recorded earlier); never run when a dependency ended badly and it has not
started; else its job's :class:`~jobspec_core.batch.jobs.JobState`: pending, held, running;
in an error state (failed, with the reason, and the job to be deleted); gone from the queue
with accounting saying killed at the time limit (timeout), deleted (cancelled) or failed;
reported finished without this instance's end, after ``record_grace``: failed; unknown to
queue and accounting for longer than ``lost_grace``: lost. Ends decided here are recorded
(:meth:`~jobspec_core.batch.records.InstanceRecords.decide`), so they hold.
"""

from __future__ import annotations

import time

from ..transformer import TaskState, TaskStatus
from .jobs import JobState, NativeStatus
from .records import InstanceRecords, forget_missing, missing_since

__all__ = ["instance_status"]


def instance_status(
    rec: InstanceRecords,
    job: str,
    native: NativeStatus | None,
    failed_dep: str | None,
    delete: set[str],
    *,
    duration: int | None,
    scheduler_name: str,
    lost_grace: float,
    record_grace: float,
) -> TaskStatus:
    """The status of the instance whose records are ``rec``, carried by job ``job`` whose
    state is ``native`` (``None``: unknown to queue and accounting). ``failed_dep``
    describes a dependency that ended badly, if any. Adds ``job`` to ``delete`` when it
    must be deleted (an error state)."""
    started = rec.started
    if rec.cancelled:
        return TaskStatus(TaskState.CANCELLED, None, "cancelled", started)
    end = rec.end(duration)
    if end is not None:
        return end
    if failed_dep is not None and started is None:
        return TaskStatus(TaskState.NEVER_RUN, None, f"dependency {failed_dep}")
    records = rec.base.parent
    word = f" ({native.native})" if native is not None and native.native else ""
    why = f": {native.reason}" if native is not None and native.reason else ""
    state = native.state if native is not None else JobState.UNKNOWN
    exit_code = native.exit_code if native is not None else None
    if state in (JobState.PENDING, JobState.HELD, JobState.RUNNING):
        forget_missing(records, job)
        if state is JobState.RUNNING and started is not None:
            return TaskStatus(TaskState.RUNNING, None, None, started)
        held = "held" if state is JobState.HELD else "queued"
        return TaskStatus(TaskState.PENDING, None, f"job {job} is {held}{word}{why}")
    if state is JobState.ERROR:
        delete.add(job)  # never left pending in the error state
        reason = f"job {job} is in an error state{word}{why}; jobspec deleted it"
        return rec.decide(TaskStatus(TaskState.FAILED, None, reason, started))
    if state is JobState.TIMEOUT:
        reason = f"killed by {scheduler_name} at its time limit{word}{why}"
        return rec.decide(TaskStatus(TaskState.TIMEOUT, exit_code, reason, started))
    if state is JobState.CANCELLED:
        reason = f"job {job} was deleted outside jobspec{word}{why}"
        return rec.decide(TaskStatus(TaskState.CANCELLED, exit_code, reason, started))
    if state is JobState.FAILED:
        reason = f"job {job} failed{word}{why}"
        return rec.decide(TaskStatus(TaskState.FAILED, exit_code, reason, started))
    # FINISHED without this instance's end, or not known at all: give records and
    # accounting the scheduler's grace to show up, then decide.
    since = missing_since(records, job)
    waited = time.time() - since
    grace = lost_grace
    if state is JobState.FINISHED:
        grace = min(grace, record_grace)
    if waited < grace:
        shown = TaskState.RUNNING if started is not None else TaskState.PENDING
        return TaskStatus(
            shown,
            None,
            f"job {job} is not in the queue; waiting {grace:g}s for its records",
            started,
        )
    if state is JobState.FINISHED:
        code = f", exit {exit_code}" if exit_code is not None else ""
        reason = f"job {job} ended{word}{code} without recording this instance's end{why}"
        return rec.decide(TaskStatus(TaskState.FAILED, exit_code, reason, started))
    reason = (
        f"{scheduler_name} does not know job {job} any more and no end was recorded "
        f"(waited {grace:g}s)"
    )
    return rec.decide(TaskStatus(TaskState.LOST, None, reason, started))
