"""Fault cases: the optional, backend-specific actions a case's ``fault:`` asks for.

Some faults a scheduler site must survive cannot be caused from a jobspec: a job deleted
with the scheduler's own command, a job the scheduler puts into an error state, a limit
the scheduler imposes. A case names one (``fault: {action: delete_behind, task: victim}``);
run mode submits the case, waits until that task instance has started, asks the
transformer's **conformance faults** to cause the fault natively, then waits for the run
and checks the expectations as usual.

The extension point (documented in ``docs/conformance/README.md``, "Fault cases"): an
object offering any of the methods of :class:`ConformanceFaults`. It comes from, in order:

1. the entry point named like the transformer in the group :data:`ENTRY_POINT_GROUP`
   (``jobspec_conformance.faults``), so a transformer's test package can offer it without
   touching the transformer;
2. the transformer's attribute ``conformance_faults``.

Either may be the object itself, or a class or function taking the transformer and
returning it. A case whose action is not offered is **skipped** with the reason (never
passed): the transformer has not shown it survives that fault.
"""

from __future__ import annotations

import inspect
from importlib import metadata
from typing import Any, Protocol

from jobspec_core.transformer import RunContext, TaskHandle, Transformer

__all__ = [
    "ACTIONS",
    "ENTRY_POINT_GROUP",
    "ConformanceFaults",
    "FaultUnavailable",
    "fault_provider",
    "fault_method",
]

#: The entry point group where a test package offers a transformer's faults.
ENTRY_POINT_GROUP = "jobspec_conformance.faults"

#: Every action a case may name, with what it must do (the contract of each method).
ACTIONS = {
    "delete_behind": "delete the scheduler job carrying the instance with the scheduler's "
    "own command (as an administrator or the user would, outside jobspec)",
    "force_error": "put the scheduler job carrying the instance into the scheduler's error "
    "or held-on-error state (Slurm SPECIAL_EXIT, Grid Engine Eqw)",
    "limit_behind": "impose a time limit of `seconds` (the scheduler may round it up) on the "
    "running job carrying the instance, as a site's queue limit would",
}


class ConformanceFaults(Protocol):
    """What a transformer's conformance faults may offer; every method is optional.

    Each receives the :class:`~jobspec_core.transformer.TaskHandle` of the instance the case
    names (its ``native_id`` says which scheduler job carries it: for a task inside a group,
    the group's allocation) and the run's :class:`~jobspec_core.transformer.RunContext`. It
    acts at once, natively, and returns; raising any exception fails the case with it.
    """

    def delete_behind(self, handle: TaskHandle, context: RunContext) -> None: ...

    def force_error(self, handle: TaskHandle, context: RunContext) -> None: ...

    def limit_behind(self, handle: TaskHandle, context: RunContext, seconds: int) -> None: ...


class FaultUnavailable(Exception):
    """The transformer offers no way to cause this fault; the message is the skip reason."""


def _instantiate(offered: Any, transformer: Transformer) -> Any:
    if inspect.isclass(offered) or inspect.isfunction(offered) or inspect.ismethod(offered):
        return offered(transformer)
    return offered


def fault_provider(name: str, transformer: Transformer) -> tuple[Any, str] | None:
    """The conformance faults of the transformer ``name`` and where they came from
    (``entry point X``, ``attribute``), or ``None`` when it offers none."""
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == name:
            return _instantiate(entry.load(), transformer), f"entry point {entry.value}"
    offered = getattr(transformer, "conformance_faults", None)
    if offered is not None:
        return _instantiate(offered, transformer), "attribute conformance_faults"
    return None


def fault_method(name: str, transformer: Transformer, action: str):
    """The bound method causing ``action`` for transformer ``name``; raises
    :class:`FaultUnavailable` with a skip reason when it is not offered."""
    if action not in ACTIONS:
        raise ValueError(f"unknown fault action {action!r}; known: {', '.join(ACTIONS)}")
    found = fault_provider(name, transformer)
    where = (
        f"(an entry point named {name!r} in the group {ENTRY_POINT_GROUP!r}, or the "
        "transformer's attribute conformance_faults; see docs/conformance/README.md, "
        '"Fault cases")'
    )
    if found is None:
        raise FaultUnavailable(
            f"{name} offers no conformance faults {where}, so the fault {action!r} "
            f"({ACTIONS[action]}) cannot be caused"
        )
    provider, origin = found
    method = getattr(provider, action, None)
    if not callable(method):
        raise FaultUnavailable(
            f"{name}'s conformance faults ({origin}) offer no {action!r} ({ACTIONS[action]})"
        )
    return method
