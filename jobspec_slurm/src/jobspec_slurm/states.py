"""Slurm's job states mapped to jobspec's common :class:`~jobspec_core.transformer.TaskState`.

Source: squeue(1), section "JOB STATE CODES" (Slurm 22.05), which lists every state a job
can be in; the long names are what ``squeue -o %T`` prints and what ``scontrol show job``
and the jobcomp/filetxt records call ``JobState``. Records of our own batch scripts (the
``state`` word written into the run's status directory) use jobspec's own state names.
"""

from __future__ import annotations

from jobspec_core.transformer import TaskState

__all__ = [
    "SLURM_STATES",
    "map_state",
    "state_word",
    "ERROR_STATES",
    "NEVER_SATISFIED_REASONS",
    "UNRUNNABLE_REASONS",
]

#: squeue(1) JOB STATE CODES -> our state. Comments paraphrase the manual's meaning.
SLURM_STATES: dict[str, TaskState] = {
    "PENDING": TaskState.PENDING,  # PD: awaiting resource allocation
    "CONFIGURING": TaskState.PENDING,  # CF: allocated, nodes booting/getting ready
    "REQUEUED": TaskState.PENDING,  # RQ: completing job being requeued
    "REQUEUE_FED": TaskState.PENDING,  # RF: requeued by a federation
    "REQUEUE_HOLD": TaskState.PENDING,  # RH: held job being requeued
    "RESV_DEL_HOLD": TaskState.PENDING,  # RD: held because its reservation was deleted
    "RUNNING": TaskState.RUNNING,  # R: has an allocation
    "COMPLETING": TaskState.RUNNING,  # CG: finishing; some processes may still be active
    "RESIZING": TaskState.RUNNING,  # RS: about to change size
    "SIGNALING": TaskState.RUNNING,  # SI: being signaled
    "STAGE_OUT": TaskState.RUNNING,  # SO: staging out data (burst buffer)
    "SUSPENDED": TaskState.RUNNING,  # S: allocation suspended; it will resume
    "STOPPED": TaskState.RUNNING,  # ST: SIGSTOP'd, keeps its allocation
    "COMPLETED": TaskState.COMPLETED,  # CD: all processes ended with exit code zero
    "FAILED": TaskState.FAILED,  # F: non-zero exit code or other failure
    "BOOT_FAIL": TaskState.FAILED,  # BF: node boot failure
    "NODE_FAIL": TaskState.FAILED,  # NF: a node of the allocation failed
    "OUT_OF_MEMORY": TaskState.FAILED,  # OOM: out-of-memory error
    "PREEMPTED": TaskState.FAILED,  # PR: terminated by preemption
    "SPECIAL_EXIT": TaskState.FAILED,  # SE: requeued in a special state after failing
    "REVOKED": TaskState.CANCELLED,  # RV: removed because a sibling (federation) started
    "DEADLINE": TaskState.TIMEOUT,  # DL: terminated on its deadline
    "TIMEOUT": TaskState.TIMEOUT,  # TO: reached its time limit
    "CANCELLED": TaskState.CANCELLED,  # CA: cancelled by user or administrator
}

#: States a job never leaves by itself (spec Decision 28): ``SPECIAL_EXIT`` is a job requeued
#: and held after failing (``scontrol requeuehold State=SpecialExit``); it waits until an
#: administrator releases it, and its after-ok dependents would pend forever. Such a job is
#: reported FAILED with Slurm's word and reason, and cancelled.
ERROR_STATES = frozenset({"SPECIAL_EXIT"})

#: squeue reasons (squeue(1) "JOB REASON CODES") that mean a pending job will never start.
NEVER_SATISFIED_REASONS = frozenset({"DependencyNeverSatisfied"})

#: squeue(1) JOB REASON CODES saying the job's own request exceeds what its partition or
#: its nodes can ever give: it would pend until an administrator changes the cluster, so
#: it is reported FAILED with the reason (and cancelled). Reasons that can pass by
#: themselves (Resources, Priority, ReqNodeNotAvail for a node that is down) are not here.
UNRUNNABLE_REASONS: dict[str, str] = {
    "PartitionConfig": "no node of its partition has what it asks for (cores, memory, gpus)",
    "PartitionNodeLimit": "it asks for more nodes than its partition has or allows",
    "PartitionTimeLimit": "its time limit is longer than its partition allows",
    "BadConstraints": "its constraints can never be satisfied",
    "InvalidQOS": "its QOS is not valid",
    "InvalidAccount": "its account is not valid",
}


def state_word(slurm_state: str) -> str:
    """The state word of what Slurm printed (``CANCELLED by 0`` -> ``CANCELLED``)."""
    words = slurm_state.split()
    return words[0].upper() if words else ""


def map_state(slurm_state: str, reason: str | None = None) -> TaskState:
    """Our state for a Slurm state word (``CANCELLED by 0`` is read as ``CANCELLED``).

    A job cancelled *because* its dependency failed (``--kill-on-invalid-dep=yes``, reason
    ``DependencyNeverSatisfied``) or still pending for that reason is ``NEVER_RUN``; one
    pending (or cancelled while pending) for a reason of :data:`UNRUNNABLE_REASONS` is
    ``FAILED``.
    An unknown word is ``UNKNOWN`` rather than a guess.
    """
    state = SLURM_STATES.get(state_word(slurm_state), TaskState.UNKNOWN)
    if reason in NEVER_SATISFIED_REASONS and state in (TaskState.PENDING, TaskState.CANCELLED):
        return TaskState.NEVER_RUN
    if reason in UNRUNNABLE_REASONS and state in (TaskState.PENDING, TaskState.CANCELLED):
        return TaskState.FAILED  # pending for it, or cancelled (by us) while pending for it
    return state
