"""Plan -> :class:`~jobspec_core.transformer.Submission`: one job per top-level node.

A top-level task is one job: a true job array when it has replicas and the scheduler has
arrays (one submission, each element one instance), else one job running its replicas in
parallel; a top-level group is one job (one allocation) running everything inside it
(:mod:`~jobspec_core.batch.script`). Jobs are submitted in
:func:`~jobspec_core.ordering.submission_order`; a dependent's submit command names the
jobs it waits for as ``{id:NODE}`` placeholders, filled in at submission.

What ``submit`` needs beyond the units travels in ``Submission.data`` (:class:`UnitPlan`
per unit): submit never re-renders, so ``jobspec transform`` shows exactly what runs.
Nothing here runs anything: rendering works on a machine without the scheduler.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from ..alternatives import Capacity, choose_alternative, fitted, unrunnable
from ..ordering import placeholder, submission_order
from ..plan import Plan, PlanNode, PlanTask
from ..transformer import RenderedFile, RunContext, Submission, SubmissionUnit
from .naming import directive_safe, job_name, node_slugs, problem
from .records import logs_dir
from .scheduler import JobRequest, Option, Scheduler
from .script import JobScript, tasks_in

__all__ = ["DATA_KEY", "TaskPlan", "UnitPlan", "unit_plans", "place_options", "render_submission"]

#: The key of the layer's private structure in ``Submission.data``.
DATA_KEY = "batch"


@dataclass
class TaskPlan:
    """One task a job carries: its slug (records and logs are named by it), replicas,
    duration, and ``after``: the task ids that must all succeed before it may run (its own
    ``depends_on`` and its enclosing groups', groups expanded to their tasks)."""

    id: str
    slug: str
    replicas: int
    duration: int | None
    after: list[str]


@dataclass
class UnitPlan:
    """What ``submit`` needs of one unit beyond its argv: the job's slug and name, its
    array size (0: not an array), the tasks it carries, the validation command (or
    ``None``) and whether the script goes on standard input."""

    node_id: str
    slug: str
    name: str
    array: int
    tasks: list[TaskPlan]
    validate: list[str] | None
    stdin: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UnitPlan:
        data = dict(data)
        data["tasks"] = [TaskPlan(**t) for t in data["tasks"]]
        return cls(**data)


def unit_plans(submission: Submission) -> dict[str, UnitPlan]:
    """The :class:`UnitPlan` of each unit of a submission rendered by this layer."""
    data = submission.data.get(DATA_KEY)
    if not isinstance(data, dict) or "units" not in data:
        raise ValueError("this submission was not rendered by the batch layer (no data.batch)")
    return {node_id: UnitPlan.from_dict(u) for node_id, u in data["units"].items()}


def _task_ids(node: PlanNode) -> list[str]:
    return [t.id for t in tasks_in(node)]


def _carry(node: PlanNode, inherited: list[str], by_id: dict[str, PlanNode], out: list) -> None:
    after = inherited + [t for dep in node.depends_on for t in _task_ids(by_id[dep])]
    if isinstance(node, PlanTask):
        out.append((node, after))
    else:
        for child in node.children:
            _carry(child, after, by_id, out)


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


def place_options(scheduler: Scheduler, options: list[Option]) -> tuple[list[str], list[str]]:
    """``(directive lines, submit-command words)``: an option becomes one directive line
    when the scheduler has a directive prefix and every word is
    :func:`~jobspec_core.batch.naming.directive_safe`; else its words go on the command
    line, as argv."""
    lines: list[str] = []
    words: list[str] = []
    prefix = scheduler.directive_prefix
    for option in options:
        if prefix and option and all(directive_safe(word) for word in option):
            lines.append(" ".join([prefix, *option]))
        else:
            words.extend(option)
    return lines, words


def _request(
    node: PlanNode,
    slug: str,
    context: RunContext,
    scheduler: Scheduler,
    transformer: str,
    capacity: Capacity | None,
    arrays: bool,
) -> tuple[JobRequest, str | None]:
    resources = fitted(node, capacity)
    reason = unrunnable(resources, capacity)
    if reason:
        raise problem(node, f"{node.id}: {reason} ({scheduler.name}'s largest node)")
    res, note = choose_alternative(resources, capacity)
    replicas = node.replicas if isinstance(node, PlanTask) else 1
    array = replicas if arrays and replicas > 1 else 0
    kind = "allocation" if not isinstance(node, PlanTask) else ("array" if replicas > 1 else "job")
    duration = node.attributes.duration
    token = scheduler.array_output_token if array else None
    output = logs_dir(context.run_dir) / (f"{slug}.job.{token}.out" if token else f"{slug}.job.out")
    request = JobRequest(
        node_id=node.id,
        kind=kind,
        name=job_name(slug, scheduler.job_name_first, scheduler.job_name_max),
        script=str(context.run_dir / f"{slug}.sh"),
        duration=duration,
        walltime=None if duration is None else int(duration) + scheduler.walltime_grace,
        slots=res.slots * (1 if array else replicas),
        cores_per_slot=res.cores_per_slot,
        gpus_per_slot=res.gpus_per_slot,
        memory_per_slot=res.memory_per_slot,
        nodes=res.nodes,
        exclusive=res.exclusive,
        array=array,
        output=str(output),
        cwd=str(context.run_dir),
        passthrough=_passthrough(node, transformer),
        requires=dict(node.requires),
    )
    return request, (f"{node.id}: {note}" if note else None)


def _options(scheduler: Scheduler, request: JobRequest) -> list[Option]:
    if request.array:  # the array's options name it too (LSF: -J "NAME[1-N]")
        first = scheduler.array_base
        options = list(scheduler.array_options(first, first + request.array - 1, request.name))
    else:
        options = list(scheduler.name_options(request.name))
    options += scheduler.resource_options(request)
    if request.walltime is not None:
        options += scheduler.duration_options(request.walltime)
    options += scheduler.cwd_options(request.cwd)
    options += scheduler.output_options(request.output)
    if request.environment:
        options += scheduler.environment_options(request.environment)
    options += scheduler.passthrough_options(request.passthrough)
    return options


def render_submission(
    plan: Plan,
    context: RunContext,
    *,
    name: str,
    scheduler: Scheduler,
    commands: dict[str, list[str] | None],
    capacity: Capacity | None,
) -> Submission:
    """The whole submission: a script and a unit per top-level node, in submission order.

    :param name: the transformer's name (also the passthrough prefix it reads).
    :param commands: the ``submit`` and ``validate`` commands as they will be run (the
        latter only when the scheduler's submit command does not validate by itself).
    :param capacity: what one job can be given (resource alternatives; unrunnable nodes).
    :raises InvalidJobspec: a value cannot be expressed, or a node can never run.
    """
    submission = Submission(transformer=name)
    slugs = node_slugs(plan)
    arrays = scheduler.array_variable is not None
    builder = JobScript(plan, context, slugs, scheduler.launcher)
    by_id = {node.id: node for node, _ in plan.walk()}
    units: dict[str, dict[str, Any]] = {}
    # a submit command that validates the request itself needs no separate check
    check = None if scheduler.submit_validates else commands.get("validate")
    for node in submission_order(plan.children):
        slug = slugs[node.id]
        request, note = _request(node, slug, context, scheduler, name, capacity, arrays)
        if note:
            submission.notes.append(note)
        lines, words = place_options(scheduler, _options(scheduler, request))
        array = None
        if request.array and scheduler.array_variable is not None:
            array = (scheduler.array_variable, scheduler.array_base)
        script = f"{slug}.sh"
        submission.files[script] = RenderedFile(builder.render(node, lines, array), executable=True)
        after = [placeholder(dep) for dep in node.depends_on]
        deps = scheduler.dependency_options(after) if after else []
        argv = scheduler.submit_argv(commands["submit"] or [], words, deps, request.script)
        validate = scheduler.submit_argv(check, words, [], request.script) if check else None
        carried: list[tuple[PlanTask, list[str]]] = []
        _carry(node, [], by_id, carried)
        tasks = [
            TaskPlan(t.id, slugs[t.id], t.replicas, t.attributes.duration, after_ids)
            for t, after_ids in carried
        ]
        units[node.id] = UnitPlan(
            node.id, slug, request.name, request.array, tasks, validate, scheduler.script_on_stdin
        ).to_dict()
        submission.units.append(
            SubmissionUnit(
                node_id=node.id,
                kind=request.kind,
                argv=argv,
                script=script,
                depends_on=list(node.depends_on),
                instances=sum(t.replicas for t in tasks),
            )
        )
        submission.notes.extend(scheduler.notes(request))
    submission.data[DATA_KEY] = {"format": 1, "units": units}
    if scheduler.script_on_stdin:
        submission.notes.append("each job script is given to the submit command on standard input")
    if check:
        submission.notes.append(
            "every job is checked with the validation command before the first is submitted"
        )
    elif scheduler.submit_validates:
        submission.notes.append(
            f"{scheduler.name} checks each job as it is submitted: a job it refuses is "
            "reported with its reason, and the jobs submitted before it are cancelled"
        )
    return submission
