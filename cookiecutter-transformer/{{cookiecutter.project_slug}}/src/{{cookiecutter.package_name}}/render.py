"""Plan -> :class:`~jobspec_core.transformer.Submission`: one job per top-level node.

A top-level task is one job whose script runs all its replicas in parallel; a top-level
group is one job (one allocation) whose script runs everything inside it (``script.py``).
Jobs are submitted in dependency order; a dependent's submission names the ids of the jobs
it waits for as ``{id:NODE}`` placeholders, which ``transformer.submit`` replaces by the ids
captured at submission.

Nothing here runs anything: rendering works on a machine without the scheduler.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from jobspec_core.errors import UnsupportedFeature
from jobspec_core.features import features_used
from jobspec_core.plan import Plan, PlanNode, PlanTask
from jobspec_core.transformer import RenderedFile, RunContext, Submission, SubmissionUnit

from .native import JobRequest, NodeShape, choose_alternative
from .script import JobScript, logs_dir, node_slugs, problem

__all__ = ["Job", "jobs", "job_request", "render_submission"]


@dataclass
class Job:
    """One top-level node, submitted as one job: ``slug`` names its script.

    :ivar slugs: every node id -> its file-name slug (records and logs are named by it).
    :ivar tasks: ``(task, after)`` for every task it carries; ``after`` lists the task ids
        that must all succeed before the task may run (from its own ``depends_on`` and its
        enclosing groups', groups expanded to their tasks).
    """

    node: PlanNode
    slug: str
    tasks: list[tuple[PlanTask, list[str]]]
    slugs: dict[str, str]

    @property
    def script(self) -> str:
        return f"{self.slug}.sh"

    @property
    def instances(self) -> int:
        return sum(task.replicas for task, _ in self.tasks)


def _task_ids(node: PlanNode) -> list[str]:
    if isinstance(node, PlanTask):
        return [node.id]
    return [t for child in node.children for t in _task_ids(child)]


def _carry(
    node: PlanNode,
    inherited: list[str],
    by_id: dict[str, PlanNode],
    out: list[tuple[PlanTask, list[str]]],
) -> None:
    """Append ``(task, after)`` for every task in ``node``; ``after`` adds the tasks of the
    nodes it and its enclosing groups depend on."""
    after = inherited + [t for dep in node.depends_on for t in _task_ids(by_id[dep])]
    if isinstance(node, PlanTask):
        out.append((node, after))
    else:
        for child in node.children:
            _carry(child, after, by_id, out)


def jobs(plan: Plan) -> list[Job]:
    """The plan's top-level nodes in submission order (each after the nodes it depends on,
    otherwise document order), with the tasks each carries."""
    top = {node.id: node for node in plan.children}
    slugs = node_slugs(plan)
    ordered: list[PlanNode] = []
    placed: set[str] = set()

    def place(node: PlanNode, stack: tuple[str, ...]) -> None:
        if node.id in placed:
            return
        for dep in node.depends_on:
            if dep in top and dep not in stack:  # the validator refuses cycles already
                place(top[dep], stack + (node.id,))
        placed.add(node.id)
        ordered.append(node)

    for node in plan.children:
        place(node, ())
    by_id = {node.id: node for node, _ in plan.walk()}
    out = []
    for node in ordered:
        carried: list[tuple[PlanTask, list[str]]] = []
        _carry(node, [], by_id, carried)
        out.append(Job(node, slugs[node.id], carried, slugs))
    return out


def _refuse_unsupported(plan: Plan, capabilities: frozenset[str], name: str) -> None:
    missing = sorted(features_used(plan) - set(capabilities))
    if missing:
        raise UnsupportedFeature(
            f"the {name} transformer does not support {', '.join(missing)} "
            f"(used by {plan.source or plan.name}); it supports: {', '.join(sorted(capabilities))}"
        )


def _passthrough(node: PlanNode, name: str) -> dict[str, str]:
    out = {}
    for key, value in node.attributes.passthrough.get(name, {}).items():
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", key) or "\n" in text or "\r" in text:
            raise problem(
                node,
                f"{name}.{key}: {value!r} cannot become a scheduler option "
                "(expected a key of letters, digits, _ and -, and a one-line value)",
            )
        out[key] = text
    return out


def job_request(
    job: Job, context: RunContext, name: str, largest: NodeShape
) -> tuple[JobRequest, str | None]:
    """The :class:`JobRequest` of one job, with the first resource alternative that fits
    ``largest``; and a note when that is not the first."""
    res, note = choose_alternative(job.node.resources, largest)
    replicas = job.node.replicas if isinstance(job.node, PlanTask) else 1
    request = JobRequest(
        name=job.slug,
        script=job.script,
        duration=job.node.attributes.duration,
        slots=res.slots * replicas,
        cores_per_slot=res.cores_per_slot,
        gpus_per_slot=res.gpus_per_slot,
        memory_per_slot=res.memory_per_slot,
        nodes=res.nodes,
        output=str(logs_dir(context.run_dir) / f"{job.slug}.job.out"),
        passthrough=_passthrough(job.node, name),
        requires=dict(job.node.requires),
    )
    return request, (f"{job.node.id}: {note}" if note else None)


def render_submission(
    plan: Plan,
    context: RunContext,
    *,
    name: str,
    capabilities: frozenset[str],
    scheduler: Any,
    submit_command: list[str],
) -> Submission:
    """The whole submission: a script and a unit per top-level node, in submission order.

    :param name: the transformer's name (also the passthrough prefix it reads).
    :param scheduler: the ``scheduler`` module (directives, launcher, submit arguments, notes).
    :param submit_command: the submit command as it will be run (see ``transformer.py``).
    :raises UnsupportedFeature: the plan uses a feature not in ``capabilities``.
    :raises InvalidJobspec: a value cannot be expressed (a multi-line passthrough value).
    """
    _refuse_unsupported(plan, capabilities, name)
    submission = Submission(transformer=name)
    builder = JobScript(plan, context, node_slugs(plan), scheduler.launcher)
    for job in jobs(plan):
        node = job.node
        request, note = job_request(job, context, name, scheduler.LARGEST_NODE)
        if note:
            submission.notes.append(note)
        script = builder.render(node, scheduler.directives(request))
        submission.files[job.script] = RenderedFile(script, executable=True)
        after = [f"{{id:{dep}}}" for dep in node.depends_on]
        if isinstance(node, PlanTask):
            kind = "job" if node.replicas == 1 else "array"
        else:
            kind = "allocation"
        submission.units.append(
            SubmissionUnit(
                node_id=node.id,
                kind=kind,
                argv=list(submit_command) + scheduler.submit_args(request, after),
                script=job.script,
                depends_on=list(node.depends_on),
                instances=job.instances,
            )
        )
        submission.notes.extend(scheduler.notes(request))
    if scheduler.SCRIPT_ON_STDIN:
        submission.notes.append("each job script is given to the submit command on standard input")
    return submission
