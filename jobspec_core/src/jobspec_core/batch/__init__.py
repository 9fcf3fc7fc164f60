"""The batch-scheduler layer: a whole transformer for a batch scheduler, given its words.

A site supplies a :class:`Scheduler` (the scheduler's vocabulary: directive prefix,
commands, how resources and the rest are written, the array variable and base, what
dependencies mean, how to read job ids and states) and names it on a
:class:`BatchTransformer` subclass; the layer does everything else. Modules:

* :mod:`~jobspec_core.batch.scheduler`: the :class:`Scheduler` protocol (the contract) and
  :class:`BaseScheduler` (defaults);
* :mod:`~jobspec_core.batch.jobs`: :class:`JobRequest`, :class:`JobState`,
  :class:`NativeStatus`, :class:`DependencyKind`, :data:`Option`, :func:`most_telling`;
* :mod:`~jobspec_core.batch.transformer`: :class:`BatchTransformer`;
* :mod:`~jobspec_core.batch.render` and :mod:`~jobspec_core.batch.script` (with
  ``templates/``): the plan as job scripts and submit commands;
* :mod:`~jobspec_core.batch.records`: what the scripts record per instance;
* :mod:`~jobspec_core.batch.follow`: how an instance stands (records, then its job's state);
* :mod:`~jobspec_core.batch.naming`: slugs, job names, directive-safe words, comments;
* :mod:`~jobspec_core.batch.commands`: the :class:`CommandRunner` seam;
* :mod:`~jobspec_core.batch.standin`: a stand-in scheduler made of the local shell
  (``spool``: its jobs; ``programs``: the command shapes; ``faults``: conformance faults).
"""

from __future__ import annotations

from .commands import CommandResult, CommandRunner, LocalRunner
from .jobs import most_telling
from .scheduler import (
    BaseScheduler,
    DependencyKind,
    JobRequest,
    JobState,
    NativeStatus,
    Option,
    Scheduler,
)
from .transformer import BatchTransformer

__all__ = [
    "BaseScheduler",
    "BatchTransformer",
    "CommandResult",
    "CommandRunner",
    "DependencyKind",
    "JobRequest",
    "JobState",
    "LocalRunner",
    "NativeStatus",
    "Option",
    "Scheduler",
    "most_telling",
]
