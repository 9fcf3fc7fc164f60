"""From a plan to the supervisor's execution spec (``local-plan.json``): pure, no processes.

The spec is a flat list of nodes (tasks and groups, depth first in document order), each
with the numbers of the nodes it waits for, the budget it needs from its container (the
machine for top-level nodes, the enclosing group's allocation otherwise), its exact argv
and environment additions, its working directory, limits and steps.

Decisions for this machine (also in ``spec/spec.md``, section on the local backend):

* Capacity: ``cores`` option, else ``$JOBSPEC_LOCAL_CORES``, else ``os.cpu_count()``;
  ``gpus`` option, else ``$JOBSPEC_LOCAL_GPUS``, else the number of ``/dev/nvidiaN``.
* An instance needs ``slots * cores_per_slot`` cores (and ``slots * gpus_per_slot`` gpus)
  of the first resource alternative that fits its container (the core rule,
  :mod:`jobspec_core.alternatives`, with the container as one host). One that fits no
  alternative renders (with a note) but is refused at submit time, before anything runs.
  Memory is not budgeted.
* A group holds its allocation while its children run inside it. A group whose resources
  are the sum of its children (none asked for) asks for that sum capped at its container's
  capacity (at least its largest child's need, a nested sum group's need capped the same
  way), so that it runs here with less parallelism rather than not at all; one that still
  cannot fit is refused, never left pending.
* Working directories are :func:`jobspec_core.workdirs.working_directory`; ``write`` steps
  are carried out by the runner at submission.
* ``local: true`` entries need no budget and are barriers in document order: a local entry
  starts once every earlier sibling has finished (whatever its outcome), and later siblings
  start after it has finished. ``depends_on`` stays after-ok.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jobspec_core.alternatives import Capacity as Alloc
from jobspec_core.alternatives import choose_alternative, fitted, unrunnable
from jobspec_core.errors import EXIT_USAGE, JobspecError
from jobspec_core.plan import Plan, PlanGroup, PlanNode, PlanTask, ResourceRequest
from jobspec_core.transformer import RunContext, portable_environment
from jobspec_core.workdirs import step_path, working_directory

__all__ = ["SPEC_FORMAT", "CapacityError", "Capacity", "machine_capacity", "build_spec", "log_name"]

SPEC_FORMAT = 1


class CapacityError(JobspecError):
    """The plan cannot run on this machine: a task or group needs more than this machine
    (or its enclosing group) can give, or a value no process can receive (a NUL byte in
    an argument or an environment value). Raised by submit; nothing was started."""

    exit_code = EXIT_USAGE


class Capacity(tuple):
    """``(cores, gpus)``."""

    def __new__(cls, cores: int, gpus: int = 0):
        return super().__new__(cls, (int(cores), int(gpus)))

    @property
    def cores(self) -> int:
        return self[0]

    @property
    def gpus(self) -> int:
        return self[1]

    def fits_in(self, other: Capacity) -> bool:
        return self.cores <= other.cores and self.gpus <= other.gpus


def _int_option(name: str, raw: str, where: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise CapacityError(f"{where} {name}={raw!r}: expected a whole number >= 0")
    return value


def machine_capacity(
    options: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> Capacity:
    """The machine's budget from options, then environment, then what the machine has."""
    env = os.environ if environ is None else environ
    if "cores" in options:
        cores = _int_option("cores", options["cores"], "option")
    elif env.get("JOBSPEC_LOCAL_CORES"):
        cores = _int_option("JOBSPEC_LOCAL_CORES", env["JOBSPEC_LOCAL_CORES"], "environment")
    else:
        cores = os.cpu_count() or 1
    if "gpus" in options:
        gpus = _int_option("gpus", options["gpus"], "option")
    elif env.get("JOBSPEC_LOCAL_GPUS"):
        gpus = _int_option("JOBSPEC_LOCAL_GPUS", env["JOBSPEC_LOCAL_GPUS"], "environment")
    else:
        gpus = len(glob.glob("/dev/nvidia[0-9]*"))
    return Capacity(max(cores, 1), gpus)


def _need(req: ResourceRequest) -> Capacity:
    return Capacity(req.slots * req.cores_per_slot, req.slots * req.gpus_per_slot)


def _where(node: PlanNode) -> str:
    src = node.source
    loc = src.file or "<string>"
    if src.line:
        loc += f":{src.line}"
    return f"{loc}: {src.path or node.id}"


def log_name(task_id: str, index: int) -> str:
    """The log file of an instance, relative to the run directory."""
    return f"logs/{quote(task_id, safe='')}.{index}.log"


def _host(budget: Capacity) -> Alloc:
    """A container's budget as the core rule's capacity: one host holding every slot."""
    return Alloc(cores_per_node=budget.cores, gpus_per_node=budget.gpus, single_host=True)


def _hint(container_name: str) -> str:
    if container_name != "this machine":
        return ""
    return (
        " (set the option cores=N or JOBSPEC_LOCAL_CORES / gpus=N or JOBSPEC_LOCAL_GPUS to "
        "change this machine's capacity)"
    )


def _sum_need(group: PlanGroup, container: Capacity) -> tuple[Capacity, str]:
    """What a group whose resources are a sum asks of ``container``: the sum of what its
    entries use there (:func:`jobspec_core.alternatives.fitted`) capped at the container, never less than its largest entry's need (a nested sum group's need is
    computed the same way, so it is capped too). Also returns the id of the task that makes
    the largest need, for messages."""
    total = _need(fitted(group, _host(container)).preferred)
    largest, culprit = Capacity(0, 0), group.id
    for child in group.children:
        if isinstance(child, PlanTask) and child.local:
            continue
        if isinstance(child, PlanGroup) and child.resources.preferred.origin == "sum":
            need, who = _sum_need(child, container)
        else:
            chosen, _ = choose_alternative(child.resources, _host(container))
            need, who = _need(chosen), child.id
        if need.cores > largest.cores or need.gpus > largest.gpus:
            culprit = who
        largest = Capacity(max(largest.cores, need.cores), max(largest.gpus, need.gpus))
    need = Capacity(
        max(min(total.cores, container.cores), largest.cores, 1),
        max(min(total.gpus, container.gpus), largest.gpus),
    )
    return need, culprit


def _choose(
    node: PlanNode, container: Capacity, container_name: str, problems: list[str]
) -> Capacity:
    """The budget ``node`` takes from its container: the first alternative that fits it
    (:func:`jobspec_core.alternatives.choose_alternative`); a node that can never fit is
    listed under ``problems`` (submission refuses it), never left pending."""
    if isinstance(node, PlanTask) and node.local:
        return Capacity(0, 0)
    if isinstance(node, PlanGroup) and node.resources.preferred.origin == "sum":
        need, culprit = _sum_need(node, container)
        if not need.fits_in(container):
            problems.append(
                f"{_where(node)}: group {node.id!r} can never run: its entry {culprit!r} needs "
                f"{need.cores} cores and {need.gpus} gpus, but {container_name} offers "
                f"{container.cores} cores and {container.gpus} gpus{_hint(container_name)}"
            )
        return need
    chosen, _ = choose_alternative(node.resources, _host(container))
    reason = unrunnable(node.resources, _host(container))
    if reason:
        problems.append(
            f"{_where(node)}: {node.kind} {node.id!r} {reason}; {container_name} offers "
            f"{container.cores} cores and {container.gpus} gpus{_hint(container_name)}"
        )
    return _need(chosen)


def _step_entry(step, node: PlanNode, context: RunContext) -> dict[str, Any]:
    """A step of the spec; a ``stage`` step carries its absolute ``target``
    (:func:`jobspec_core.workdirs.step_path`)."""
    entry: dict[str, Any] = {"name": step.name, "options": step.options}
    if step.name == "stage":
        entry["target"] = str(step_path(node, str(step.options["path"]), context))
    return entry


def _check_nul(task: PlanTask, problems: list[str]) -> None:
    """execve takes NUL-terminated strings: a NUL byte cannot reach a process."""
    for i, word in enumerate(task.command):
        if "\x00" in word:
            problems.append(
                f"{_where(task)}: command word {i} of task {task.id!r} contains a NUL byte, "
                "which no process can receive in its arguments"
            )
    for key, value in task.attributes.environment.items():
        if "\x00" in value:
            problems.append(
                f"{_where(task)}: environment variable {key!r} of task {task.id!r} contains a "
                "NUL byte, which no process environment can carry"
            )


def build_spec(plan: Plan, context: RunContext, capacity: Capacity) -> dict[str, Any]:
    """The supervisor's execution spec for ``plan``.

    Rendering never fails on capacity: a node that fits no alternative keeps its preferred
    one and its reason is listed under ``problems``; submitting such a spec is refused
    with :class:`CapacityError` before anything runs.
    """
    nodes: list[dict[str, Any]] = []
    problems: list[str] = []
    workdir = Path(context.workdir)

    def add(
        children: list[PlanNode], parent: int | None, container: Capacity, cname: str
    ) -> list[int]:
        numbers: list[int] = []
        ids: dict[str, int] = {}
        last_local: int | None = None
        since_local: list[int] = []
        for child in children:
            n = len(nodes)
            need = _choose(child, container, cname, problems)
            staging = str(working_directory(child, context))
            entry: dict[str, Any] = {
                "id": child.id,
                "kind": child.kind,
                "parent": parent,
                "need": list(need),
                "duration": child.attributes.duration,
                "steps": [_step_entry(s, child, context) for s in child.steps],
                "staging": staging,
                "deps": [],
                "after": [],
            }
            is_local = isinstance(child, PlanTask) and child.local
            if is_local:
                entry["after"] = ([last_local] if last_local is not None else []) + since_local
            elif last_local is not None:
                entry["after"] = [last_local]
            nodes.append(entry)
            ids[child.id] = n
            numbers.append(n)
            if is_local:
                last_local, since_local = n, []
            else:
                since_local.append(n)
            if isinstance(child, PlanTask):
                _check_nul(child, problems)
                env = dict(child.attributes.environment)
                portable = portable_environment(context.run_id, child, None)  # index: per instance
                entry.update(
                    argv=list(child.command),
                    replicas=child.replicas,
                    local=child.local,
                    env=env,
                    portable=portable,
                    cwd=staging,
                    watch=child.attributes.watch,
                    logs=[log_name(child.id, i) for i in range(child.replicas)],
                )
            else:
                entry["children"] = add(child.children, n, need, f"group {child.id!r}")
        for child in children:
            nodes[ids[child.id]]["deps"] = [ids[d] for d in child.depends_on]
        return numbers

    roots = add(plan.children, None, capacity, "this machine")
    return {
        "format": SPEC_FORMAT,
        "run_id": context.run_id,
        "run_dir": str(context.run_dir),
        "workdir": str(workdir),
        "capacity": list(capacity),
        "roots": roots,
        "nodes": nodes,
        "problems": problems,
    }
