"""What this transformer tells the scheduler and what it hears back, in plain data.

``scheduler.py`` (the file a site fills in) turns a :class:`JobRequest` into directive lines
and command arguments, and turns the scheduler's answers into :class:`NativeStatus`. The
rest of the package never looks at a scheduler's own words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from jobspec_core.plan import ResourceRequest, Resources

__all__ = [
    "GRACE_SECONDS",
    "JobState",
    "NativeStatus",
    "JobRequest",
    "NodeShape",
    "choose_alternative",
    "walltime_seconds",
]

#: Seconds added to a task's duration for the scheduler's own time limit. The job script
#: enforces the exact duration itself (and records a timeout); the scheduler's limit is
#: a little later so that it is the script, not the scheduler, that stops the task.
GRACE_SECONDS = 60


class JobState(Enum):
    """Where one job (one submission) is, as far as the scheduler says."""

    PENDING = "pending"  #: queued or held (dependencies, resources)
    RUNNING = "running"
    FINISHED = "finished"  #: ended, for whatever reason (the job script's records say how)
    UNKNOWN = "unknown"  #: the scheduler does not know this id (any more)


@dataclass
class NativeStatus:
    """One job's state: :class:`JobState`, its exit code when the scheduler reports one,
    and the scheduler's own word for the state (``Q``, ``PEND``) for messages."""

    state: JobState
    exit_code: int | None = None
    native: str = ""


@dataclass
class JobRequest:
    """One job: a task's script with everything the scheduler needs to be told.

    :ivar name: a job name made of ``[A-Za-z0-9_.-]`` (the task id, made safe).
    :ivar script: the script's file name, relative to the run directory.
    :ivar duration: the task's time limit in seconds, or ``None``.
    :ivar slots: task slots for the whole job (the task's slots times its replicas).
    :ivar cores_per_slot: / :ivar gpus_per_slot: / :ivar memory_per_slot: (MiB) one slot.
    :ivar nodes: nodes asked for (0 when the jobspec does not say).
    :ivar output: where the scheduler should put the script's own output (absolute).
    :ivar passthrough: this transformer's passthrough options from the jobspec
        (``mysite.queue: debug`` gives ``{"queue": "debug"}``).
    :ivar requires: the node's ``requires`` metadata (merged from the enclosing levels), for
        directives that depend on it (an architecture that means a partition, say).
    """

    name: str
    script: str
    duration: int | None
    slots: int
    cores_per_slot: int
    gpus_per_slot: int = 0
    memory_per_slot: int = 0
    nodes: int = 0
    output: str = ""
    passthrough: dict[str, Any] = field(default_factory=dict)
    requires: dict[str, Any] = field(default_factory=dict)


def walltime_seconds(request: JobRequest) -> int | None:
    """The scheduler's time limit for ``request``: its duration plus :data:`GRACE_SECONDS`."""
    if request.duration is None:
        return None
    return int(math.ceil(request.duration)) + GRACE_SECONDS


@dataclass(frozen=True)
class NodeShape:
    """The largest node a job may land on: what "fits" means for ``a|b`` alternatives.

    ``gpus`` and ``memory`` (MiB) of 0 mean none / not checked.
    """

    cores: int
    gpus: int = 0
    memory: int = 0


def _per_node(request: ResourceRequest, amount: int) -> int:
    """``amount`` per slot, times the slots that share one node."""
    slots_per_node = -(-request.slots // request.nodes) if request.nodes else 1
    return amount * slots_per_node


def misfit(request: ResourceRequest, node: NodeShape) -> str | None:
    """Why ``request`` cannot fit on ``node``, or ``None`` when it fits."""
    cores = _per_node(request, request.cores_per_slot)
    if cores > node.cores:
        return f"{cores} cores on one node, the largest has {node.cores}"
    gpus = _per_node(request, request.gpus_per_slot)
    if gpus > node.gpus:
        return f"{gpus} gpus on one node, the largest has {node.gpus}"
    memory = _per_node(request, request.memory_per_slot)
    if node.memory and memory > node.memory:
        return f"{memory} MiB on one node, the largest has {node.memory}"
    return None


def choose_alternative(resources: Resources, node: NodeShape) -> tuple[ResourceRequest, str | None]:
    """The first alternative that fits ``node`` (``a|b``: in order of preference), and a note
    for the user when it is not the first; the first when none fits (the scheduler decides)."""
    skipped = []
    for request in resources.alternatives:
        why = misfit(request, node)
        if why is None:
            if not skipped:
                return request, None
            return request, f"chose {request.name or 'an alternative'}: " + "; ".join(skipped)
        skipped.append(f"{request.name or 'the first alternative'} needs {why}")
    first = resources.preferred
    if len(resources.alternatives) == 1:
        return first, None
    return first, "no alternative fits the largest node (" + "; ".join(
        skipped
    ) + "): using the first"
