"""Submitting a rendered plan exactly as rendered: one ``sbatch --parsable`` per unit in
order, each dependency filled in with the ids printed by the earlier ones
(:func:`jobspec_core.ordering.fill_placeholders`). Nothing is re-rendered: resource
alternatives were chosen when rendering, from :func:`cluster_capacity` (the runner asks
:meth:`SlurmTransformer.capacity` first), and ``write`` steps are the runner's.

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

from jobspec_core.alternatives import Capacity
from jobspec_core.errors import BackendError, SubmitError
from jobspec_core.ordering import fill_placeholders
from jobspec_core.plan import Plan, PlanGroup, PlanTask
from jobspec_core.remote import local_path
from jobspec_core.transformer import RunContext, Submission, TaskHandle, report_submitted

from .commands import controller_unreachable, run_command, slurm_conf_in_use
from .group import flatten
from .names import LOG_DIR, Names

__all__ = [
    "submit_plan",
    "cluster_capacity",
    "ClusterShape",
    "handles_for",
]

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

    def capacity(self) -> Capacity:
        """The nodes as one :class:`~jobspec_core.alternatives.Capacity`: their number and
        the largest node (a request fitting it may wait for the larger nodes)."""
        if not self.nodes:
            raise BackendError(f"sinfo lists no usable node ({slurm_conf_in_use()})")
        return Capacity(
            cores_per_node=max(c for c, _ in self.nodes),
            gpus_per_node=max(g for _, g in self.nodes),
            nodes=len(self.nodes),
        )


def cluster_capacity(plan: Plan, options: Mapping[str, str]) -> Capacity | None:
    """The cluster as :class:`~jobspec_core.alternatives.Capacity` (its node count and its
    largest node), asked of ``sinfo`` once and only when some node of ``plan`` has
    resource alternatives to choose from (``None`` otherwise: sbatch itself refuses a
    request no partition can ever run, with its reason)."""
    if not any(len(n.resources.alternatives) > 1 for n, _ in plan.walk()):
        return None
    return ClusterShape.query(options).capacity()


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
    # through the local copy: a remote run's mirror, sent over before the first sbatch
    local_path(run_dir / LOG_DIR).mkdir(parents=True, exist_ok=True)
    local_path(names.status_dir()).mkdir(parents=True, exist_ok=True)
    for name, rendered in submission.files.items():
        target = local_path(run_dir / name)
        if not target.exists():  # the runner has written them; a direct caller may not
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(rendered.content, encoding="utf-8")
            if rendered.executable:
                os.chmod(target, 0o755)

    ids: dict[str, str] = {}
    handles: list[TaskHandle] = []
    total = len(submission.units)
    for position, unit in enumerate(submission.units, start=1):
        try:
            args = fill_placeholders(unit.argv[1:], ids)
        except SubmitError as exc:
            done = _cancel_quietly(list(ids.values()), options)
            raise SubmitError(f"submitting {unit.node_id}: {exc}; {done}", handles) from exc
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
        accepted = handles_for(plan, unit.node_id, job_id, unit.kind, names, context)
        report_submitted(context, accepted)  # recorded now: an interrupted submit loses none
        handles += accepted
    return handles
