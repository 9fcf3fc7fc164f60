"""The plain data a scheduler's vocabulary reads and returns: :class:`JobRequest` (one
submission, in scheduler-neutral words), :class:`NativeStatus` and :class:`JobState` (what
the scheduler says of a job), :class:`DependencyKind` (what its dependency flag means) and
:data:`Option` (argv words that belong together). See :mod:`jobspec_core.batch.scheduler`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["Option", "JobState", "NativeStatus", "DependencyKind", "JobRequest", "most_telling"]

#: One option: argv words that belong together (``["-N", "build"]``).
Option = list[str]


class JobState(StrEnum):
    """Where one job (one submission) is, as far as the scheduler says."""

    PENDING = "pending"  #: queued: waiting for resources, its start time or dependencies
    HELD = "held"  #: held by a user or an operator (``hqw``, ``PSUSP``): pending, reason shown
    RUNNING = "running"  #: running (suspended and exiting count as running)
    FINISHED = "finished"  #: ended; the job script's records say how each instance ended
    FAILED = "failed"  #: ended badly by the scheduler's account (node failure, killed)
    TIMEOUT = "timeout"  #: killed by the scheduler at its own time limit
    CANCELLED = "cancelled"  #: deleted (``qdel``, ``bkill``), by anyone
    #: in an error state it does not leave by itself (Grid Engine ``Eqw``): the layer ends
    #: its instances as failed, with the reason, and deletes the job.
    ERROR = "error"
    UNKNOWN = "unknown"  #: the scheduler does not know this id (any more)


@dataclass
class NativeStatus:
    """One job's state as the scheduler reports it.

    :ivar state: the common :class:`JobState`.
    :ivar native: the scheduler's own word for it (``Eqw``), shown in reasons.
    :ivar exit_code: the job's exit code when the scheduler reports one.
    :ivar reason: the scheduler's explanation (an error reason, ``h_rt limit``), if any.
    """

    state: JobState
    native: str = ""
    exit_code: int | None = None
    reason: str | None = None


#: Which state speaks for a whole job when its parts (an array's elements, a rescheduled
#: job's runs) differ: most telling first.
_TELLING = [
    JobState.ERROR,
    JobState.RUNNING,
    JobState.HELD,
    JobState.PENDING,
    JobState.TIMEOUT,
    JobState.FAILED,
    JobState.CANCELLED,
    JobState.FINISHED,
    JobState.UNKNOWN,
]


def most_telling(statuses: Iterable[NativeStatus]) -> NativeStatus:
    """The status that speaks for a whole job whose parts report ``statuses`` (an array job's
    entries in a queue listing or in accounting): an error state first, then running, held,
    pending, then how it ended (timeout, failed, cancelled, finished).

    :raises ValueError: ``statuses`` is empty.
    """
    return min(statuses, key=lambda s: _TELLING.index(s.state))


class DependencyKind(StrEnum):
    """What the scheduler's dependency flag means."""

    #: the dependent starts only when every dependency ended with exit 0 (``afterok``,
    #: ``done()``); a dependent of a failure stays pending: the layer cancels it.
    AFTER_OK = "afterok"
    #: the dependent starts when every dependency ended, however (Grid Engine
    #: ``-hold_jid``): the job script then checks its dependencies' records itself and,
    #: when one did not succeed, records its instances never_run without running them.
    AFTER_ANY = "afterany"


@dataclass
class JobRequest:
    """One submission, in the scheduler-neutral words the ``*_options`` methods read.

    :ivar node_id: the plan node it submits (a top-level task or group).
    :ivar kind: ``job`` (one instance), ``array`` (the replicas of a task), ``allocation``
        (a group: one job running everything inside it).
    :ivar name: the job name, already valid under the scheduler's job-name rules.
    :ivar script: absolute path of the job script (in the run directory).
    :ivar duration: the task's own limit in seconds (``None``: none). The job script
        enforces it exactly; the scheduler is asked for :attr:`walltime`.
    :ivar walltime: seconds to ask the scheduler for: duration plus
        :attr:`Scheduler.walltime_grace`, so the script, not the scheduler, records the
        timeout (``None``: no limit).
    :ivar slots: task slots for one job (for an array: for one element).
    :ivar cores_per_slot: / :ivar gpus_per_slot: / :ivar memory_per_slot: (MiB) one slot.
    :ivar nodes: nodes asked for (0 when the jobspec does not say).
    :ivar exclusive: whole nodes were asked for.
    :ivar array: the number of array elements, or 0 when it is not an array.
    :ivar output: absolute path for the job's own standard output and error (each
        instance's output goes to its own log, written by the script).
    :ivar cwd: the directory the job starts in (the run directory; each instance changes
        to its own working directory itself).
    :ivar environment: variables the scheduler itself must set (empty unless a site
        fills it): the script exports each task's environment exactly, in any case.
    :ivar passthrough: this transformer's passthrough options (``mysite.queue: debug``
        gives ``{"queue": "debug"}``), values as one-line strings.
    :ivar requires: the node's ``requires`` metadata (for directives that depend on it).
    """

    node_id: str
    kind: str
    name: str
    script: str
    duration: int | None
    walltime: int | None
    slots: int
    cores_per_slot: int
    gpus_per_slot: int = 0
    memory_per_slot: int = 0
    nodes: int = 0
    exclusive: bool = False
    array: int = 0
    output: str = ""
    cwd: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    passthrough: dict[str, str] = field(default_factory=dict)
    requires: dict[str, Any] = field(default_factory=dict)
