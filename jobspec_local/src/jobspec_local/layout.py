"""From a plan to the supervisor's execution spec (``local-plan.json``): pure, no processes.

The spec is a flat list of nodes (tasks and groups, depth first in document order), each
with the numbers of the nodes it waits for, the budget it needs from its container (the
machine for top-level nodes, the enclosing group's allocation otherwise), its exact argv
and environment additions, its working directory, limits and steps.

Decisions for this machine (also in ``spec/spec.md``, section on the local backend):

* Capacity: ``cores`` option, else ``$JOBSPEC_LOCAL_CORES``, else ``os.cpu_count()``;
  ``gpus`` option, else ``$JOBSPEC_LOCAL_GPUS``, else the number of ``/dev/nvidiaN``.
* An instance needs ``slots * cores_per_slot`` cores (and ``slots * gpus_per_slot`` gpus)
  of the first resource alternative that fits its container. One that fits no alternative
  renders (with a note) but is refused at submit time, before anything runs. Memory is
  not budgeted.
* A group holds its allocation while its children run inside it. A group whose resources
  are the sum of its children (none asked for) asks for that sum capped at its container's
  capacity (at least its largest child), so that it runs here with less parallelism rather
  than not at all.
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

from jobspec_core.errors import EXIT_USAGE, JobspecError
from jobspec_core.plan import Plan, PlanGroup, PlanNode, PlanTask, ResourceRequest
from jobspec_core.transformer import RunContext, portable_environment

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


def _choose(
    node: PlanNode, container: Capacity, container_name: str, problems: list[str]
) -> Capacity:
    if isinstance(node, PlanTask) and node.local:
        return Capacity(0, 0)
    alts = node.resources.alternatives
    if isinstance(node, PlanGroup) and alts[0].origin == "sum":
        need = _need(alts[0])
        largest = Capacity(0, 0)
        for child in node.children:
            if isinstance(child, PlanTask) and child.local:
                continue
            c = _need(child.resources.preferred)
            largest = Capacity(max(largest.cores, c.cores), max(largest.gpus, c.gpus))
        return Capacity(
            max(min(need.cores, container.cores), largest.cores, 1),
            max(min(need.gpus, container.gpus), largest.gpus),
        )
    for alt in alts:
        need = _need(alt)
        if need.fits_in(container):
            return need
    asked = "; ".join(
        f"{_need(a).cores} cores, {_need(a).gpus} gpus"
        + (f" (resources {a.name!r})" if a.name else "")
        for a in alts
    )
    hint = (
        " (set the option cores=N or JOBSPEC_LOCAL_CORES / gpus=N or JOBSPEC_LOCAL_GPUS to "
        "change this machine's capacity)"
        if container_name == "this machine"
        else ""
    )
    problems.append(
        f"{_where(node)}: {node.kind} {node.id!r} needs {asked}, but {container_name} offers "
        f"{container.cores} cores and {container.gpus} gpus{hint}"
    )
    return _need(alts[0])


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


def _resolve_dir(path: str | None, base: Path) -> str:
    if not path:
        return str(base)
    p = Path(os.path.expanduser(path))
    return str(p if p.is_absolute() else base / p)


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
            staging = _resolve_dir(child.attributes.cwd, workdir)
            entry: dict[str, Any] = {
                "id": child.id,
                "kind": child.kind,
                "parent": parent,
                "need": list(need),
                "duration": child.attributes.duration,
                "steps": [{"name": s.name, "options": s.options} for s in child.steps],
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
                portable = portable_environment(context.run_id, child, 0)
                portable.pop("JOBSPEC_TASK_INDEX")
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
