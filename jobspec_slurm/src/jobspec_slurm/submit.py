"""Submitting a rendered plan: ``write`` steps, the choice of resource alternatives, then one
``sbatch --parsable`` per unit in order, each dependency filled in with the ids printed by
the earlier ones.

No orphans: when an ``sbatch`` is refused part-way, every job already submitted is
cancelled (``scancel``) before :class:`~jobspec_core.errors.SubmitError` is raised with
their handles. A controller that cannot be reached before anything was submitted is a
:class:`~jobspec_core.errors.BackendError` naming slurmctld.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from jobspec_core.errors import BackendError, SubmitError
from jobspec_core.plan import Plan, PlanGroup, PlanTask, ResourceRequest
from jobspec_core.transformer import RunContext, Submission, TaskHandle

from .commands import controller_unreachable, run_command, slurm_conf_in_use
from .group import flatten
from .names import LOG_DIR, Names
from .render import node_cwd, render_plan

__all__ = [
    "submit_plan",
    "write_steps",
    "choose_alternatives",
    "fits",
    "ClusterShape",
    "handles_for",
]

_PLACEHOLDER = re.compile(r"\{id:([^}]*)\}")
_JOB_ID = re.compile(r"\d+")


class ClusterShape:
    """What ``sinfo`` says about the nodes: CPUs and GPUs of each usable node."""

    def __init__(self, nodes: list[tuple[int, int]]):
        self.nodes = nodes  # (cpus, gpus) per node

    @classmethod
    def query(cls, options: Mapping[str, str]) -> ClusterShape:
        """One ``sinfo -h -N -o '%N|%c|%G|%t'`` call."""
        result = run_command("sinfo", ["-h", "-N", "-o", "%N|%c|%G|%t"], options)
        if not result.ok:
            raise BackendError(f"sinfo failed ({slurm_conf_in_use()}): {result.message()}")
        seen: dict[str, tuple[int, int]] = {}
        for line in result.stdout.splitlines():
            parts = line.strip().split("|")
            if len(parts) != 4 or parts[3].rstrip("*~#!%$@^-") in ("down", "drain", "fail"):
                continue
            gpus = sum(int(m) for m in re.findall(r"gpu(?::[^:(,]*)?:(\d+)", parts[2]))
            try:
                seen[parts[0]] = (int(parts[1]), gpus)
            except ValueError:
                continue
        return cls(list(seen.values()))


def fits(request: ResourceRequest, shape: ClusterShape) -> bool:
    """Whether ``request`` can ever be satisfied by the cluster's nodes."""
    if not shape.nodes:
        return False
    nodes = max(request.nodes, 1)
    if nodes > len(shape.nodes):
        return False
    biggest = sorted(shape.nodes, reverse=True)[:nodes]
    cores = request.cores_per_slot
    if cores > max(c for c, _ in biggest):
        return False
    slots_possible = sum(c // cores for c, _ in biggest)
    if request.slots > slots_possible:
        return False
    gpus = request.gpus_per_slot * request.slots
    return gpus <= sum(g for _, g in biggest)


def choose_alternatives(plan: Plan, options: Mapping[str, str]) -> dict[str, int]:
    """Node id -> index of the first resource alternative that fits, for nodes whose first
    alternative does not fit (asks ``sinfo`` once, and only if some node has a choice)."""
    with_choice = [n for n, _ in plan.walk() if len(n.resources.alternatives) > 1]
    if not with_choice:
        return {}
    shape = ClusterShape.query(options)
    choices = {}
    for node in with_choice:
        for index, alternative in enumerate(node.resources.alternatives):
            if fits(alternative, shape):
                if index:
                    choices[node.id] = index
                break
    return choices


def write_steps(plan: Plan, context: RunContext) -> list[Path]:
    """Carry out every ``write`` step: the file is written into the node's working
    directory before anything is submitted. A target escaping that directory (through
    ``..`` or a symbolic link) is refused."""
    written = []
    for node, _ in plan.walk():
        for step in node.steps:
            if step.name != "write":
                continue
            base = Path(node_cwd(node, context))
            target = base / str(step.options["path"])
            try:
                base.mkdir(parents=True, exist_ok=True)
                root = base.resolve()
                resolved = target.resolve()
                if root not in resolved.parents:
                    raise SubmitError(
                        f"{node.id}: write step path {step.options['path']!r} escapes "
                        f"{base}; nothing was submitted"
                    )
                resolved.parent.mkdir(parents=True, exist_ok=True)
                resolved.write_text(str(step.options.get("content", "")), encoding="utf-8")
                if step.options.get("executable"):
                    resolved.chmod(0o755)
            except OSError as exc:
                raise SubmitError(
                    f"{node.id}: write step cannot write {target}: {exc.strerror}; "
                    "nothing was submitted"
                ) from exc
            written.append(resolved)
    return written


def handles_for(
    plan: Plan, node_id: str, job_id: str, kind: str, names: Names, context: RunContext
) -> list[TaskHandle]:
    """One handle per task instance carried by the job ``job_id`` of top-level ``node_id``."""
    node = plan.node(node_id)
    if isinstance(node, PlanGroup):
        handles = []
        for inst in flatten(node, context):
            handles.append(
                TaskHandle(
                    inst.task.id,
                    inst.index,
                    job_id,
                    log=str(names.log(inst.task.id, inst.index)),
                    data={
                        "job": job_id,
                        "kind": "step",
                        "allocation": node_id,
                        "record": str(names.record(inst.task.id, inst.index)),
                    },
                )
            )
        return handles
    assert isinstance(node, PlanTask)
    # Plain string formatting: 100 replicas are 100 handles, and Path arithmetic per
    # handle is measurable in the submit benchmark.
    record = f"{names.record(node.id, 0)}"[:-1]
    log = str(names.log(node.id, "@"))
    before, after = log.rsplit("@", 1)
    array = kind == "array"
    return [
        TaskHandle(
            node.id,
            index,
            f"{job_id}_{index}" if array else job_id,
            log=f"{before}{index}{after}",
            data={"job": job_id, "kind": kind, "record": f"{record}{index}"},
        )
        for index in range(node.replicas)
    ]


def _cancel_quietly(job_ids: list[str], options: Mapping[str, str]) -> str:
    if not job_ids:
        return "nothing had been submitted"
    try:
        result = run_command("scancel", job_ids, options)
    except BackendError as exc:
        return f"cancelling jobs {', '.join(job_ids)} FAILED ({exc}); cancel them by hand"
    if not result.ok:
        return f"scancel {' '.join(job_ids)} said: {result.message()}"
    return f"cancelled job(s) {', '.join(job_ids)} already submitted"


def submit_plan(
    plan: Plan, submission: Submission, context: RunContext, sbatch_timeout: float = 120.0
) -> list[TaskHandle]:
    """Submit ``submission`` (its files already in ``context.run_dir``); return a handle
    per task instance. See the module docstring for failure handling."""
    options = context.options
    run_dir = Path(context.run_dir)
    names = Names(run_dir)
    for node, _ in plan.walk():
        names.key(node.id)
    (run_dir / LOG_DIR).mkdir(parents=True, exist_ok=True)
    names.status_dir().mkdir(parents=True, exist_ok=True)
    choices = choose_alternatives(plan, options)
    if choices:
        submission = render_plan(plan, context, choices)  # the chosen alternatives
        submission.notes.append(
            "resource alternatives chosen from sinfo: "
            + ", ".join(f"{k} -> alternative {v + 1}" for k, v in sorted(choices.items()))
        )
    for name, rendered in submission.files.items():
        target = run_dir / name
        if choices or not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(rendered.content, encoding="utf-8")
            if rendered.executable:
                os.chmod(target, 0o755)
    write_steps(plan, context)

    ids: dict[str, str] = {}
    handles: list[TaskHandle] = []
    total = len(submission.units)
    for position, unit in enumerate(submission.units, start=1):
        args = [_PLACEHOLDER.sub(lambda m: ids[m.group(1)], a) for a in unit.argv[1:]]
        try:
            result = run_command(
                "sbatch", args, options, timeout=sbatch_timeout, check_controller=False
            )
        except BackendError as exc:
            if not ids:
                raise
            done = _cancel_quietly(list(ids.values()), options)
            raise SubmitError(f"submitting {unit.node_id} failed: {exc}; {done}", handles) from exc
        job_id = result.stdout.strip().split(";")[0] if result.ok else ""
        if not result.ok or not _JOB_ID.fullmatch(job_id):
            if controller_unreachable(result) and not ids:
                raise BackendError(
                    f"the Slurm controller (slurmctld) could not be reached by sbatch "
                    f"({slurm_conf_in_use()}): {result.message()}"
                )
            done = _cancel_quietly(list(ids.values()), options)
            why = result.message() if not result.ok else f"unexpected output {result.stdout!r}"
            raise SubmitError(
                f"sbatch refused {unit.node_id} (submission {position} of {total}): {why}; {done}",
                handles,
            )
        ids[unit.node_id] = job_id
        handles += handles_for(plan, unit.node_id, job_id, unit.kind, names, context)
    return handles
