"""Rendering a plan into sbatch scripts and submission units (nothing is run; no Slurm needed).

* A top-level task is one ``sbatch`` script; its replicas are one job array
  (``--array=0-N-1``, each element reading its index from ``SLURM_ARRAY_TASK_ID``).
* A top-level group is one allocation (one ``sbatch``); its tasks run inside it as
  ``srun --exact`` steps (see :mod:`jobspec_slurm.group`).
* ``depends_on`` between top-level nodes is ``--dependency=afterok:<id>`` on the sbatch
  command line, with ``{id:NODE}`` placeholders filled in at submission from the ids that
  ``sbatch --parsable`` printed, plus ``--kill-on-invalid-dep=yes`` so a dependent of a
  failure is ended by Slurm (reason ``DependencyNeverSatisfied``) instead of waiting.

The scripts' shape lives in ``templates/`` (``job.sh``, ``group.sh``, ``lib.sh``); this
module fills them in. Every user value is quoted with :func:`shlex.quote`.
"""

from __future__ import annotations

import functools
import json
import shlex
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from string import Template

from jobspec_core.alternatives import Capacity, choose_alternative, fitted, unrunnable
from jobspec_core.ordering import placeholder, submission_order
from jobspec_core.plan import Plan, PlanGroup, PlanNode, PlanTask, ResourceRequest
from jobspec_core.scripttext import comment
from jobspec_core.transformer import (
    RenderedFile,
    RunContext,
    Submission,
    SubmissionUnit,
    array_index_expression,
    portable_exports,
)
from jobspec_core.workdirs import planned_writes, step_path, working_directory

from .names import LIBRARY, Names
from .options import (
    chosen,
    directive_quote,
    duration_note,
    export_lines,
    passthrough_options,
    quote_argv,
    resource_options,
    task_limit,
    time_minutes,
)

__all__ = [
    "render_plan",
    "render_task",
    "load_template",
    "fill",
    "ScriptTemplate",
    "node_cwd",
    "stage_paths",
    "directives",
    "cd_line",
    "comment_lines",
    "source_comment",
    "sbatch_unit",
    "alternative_choices",
]


#: The variable holding a job array element's index (0-based: the array is 0-N-1).
ARRAY_INDEX = "SLURM_ARRAY_TASK_ID"


class ScriptTemplate(Template):
    """``@{name}`` placeholders, so the shell's own ``$`` needs no escaping in templates."""

    delimiter = "@"


@functools.cache
def load_template(name: str) -> str:
    """The text of ``templates/<name>`` shipped in this package (read once per process)."""
    return (resources.files("jobspec_slurm") / "templates" / name).read_text(encoding="utf-8")


def node_cwd(node: PlanNode, context: RunContext) -> str:
    """Where ``node`` runs: :func:`jobspec_core.workdirs.working_directory`, as text."""
    return str(working_directory(node, context))


def alternative_choices(plan: Plan, capacity: Capacity | None) -> dict[str, ResourceRequest]:
    """Node id -> the resource request used, for nodes where it is not the planned first:
    the first alternative that fits ``capacity``, a group without resources summed from
    what its children use (:func:`jobspec_core.alternatives.choose_alternative` and
    :func:`~jobspec_core.alternatives.fitted`; ``None``: the first everywhere)."""
    if capacity is None:
        return {}
    choices = {}
    for node, _ in plan.walk():
        request, _ = choose_alternative(fitted(node, capacity), capacity)
        if request is not node.resources.preferred:
            choices[node.id] = request
    return choices


def stage_paths(node: PlanNode, context: RunContext) -> list[str]:
    """Absolute paths of ``node``'s ``stage`` steps (:func:`jobspec_core.workdirs.step_path`)."""
    return [
        str(step_path(node, str(step.options["path"]), context))
        for step in node.steps
        if step.name == "stage"
    ]


def directives(
    node: PlanNode,
    names: Names,
    context: RunContext,
    output: str,
    choices: Mapping[str, ResourceRequest] | None,
) -> list[str]:
    """The ``#SBATCH`` lines of a top-level node (passthrough last, so they win).

    No ``--chdir``: the script enters the working directory itself (:func:`cd_line`), so a
    missing directory fails the task instead of Slurm's silent fallback to ``/tmp``; it is
    also measurably cheaper for sbatch. ``output`` is a pattern from
    :meth:`~jobspec_slurm.names.Names.output` (its ``%`` already escaped)."""
    options = [
        f"--job-name={names.key(node.id)}",
        f"--output={directive_quote(output)}",
    ]
    if node.attributes.duration is not None:
        options.append(f"--time={time_minutes(node.attributes.duration)}")
    options += resource_options(chosen(node, choices))
    if isinstance(node, PlanTask) and node.replicas > 1:
        options.append(f"--array=0-{node.replicas - 1}")
    options += passthrough_options(node)
    return [f"#SBATCH {option}" for option in options]


def cd_line(node: PlanNode, context: RunContext, on_error: str) -> str:
    """The script line entering ``node``'s working directory, running ``on_error`` if it
    cannot."""
    cwd = shlex.quote(node_cwd(node, context))
    return (
        f'cd -- {cwd} || {{ echo "jobspec: cannot enter the working directory" {cwd} >&2; '
        f"{on_error}; }}"
    )


def comment_lines(node: PlanNode, plan: Plan) -> list[str]:
    """Comments a reader of the script wants: requires metadata, resource alternatives."""
    lines = []
    requires = node.requires or plan.requires
    if requires:
        lines.append(f"# requires: {json.dumps(requires, sort_keys=True)}")
    alternatives = node.resources.alternatives
    if len(alternatives) > 1:
        names = ", ".join(a.name or "inline" for a in alternatives)
        lines.append(f"# resources: alternatives {names}; the first that fits is used")
    return lines


def source_comment(node: PlanNode) -> str:
    """Where ``node`` was written, for a comment line (any file name stays on that line)."""
    src = node.source
    where = src.file or "<string>"
    if src.line:
        where += f":{src.line}"
    return comment(f"from {where} ({src.path})" if src.path else f"from {where}")


def sbatch_unit(node: PlanNode, script: Path, kind: str, instances: int) -> SubmissionUnit:
    argv = ["sbatch", "--parsable"]
    if node.depends_on:
        ids = ":".join(placeholder(dep) for dep in node.depends_on)
        argv += [f"--dependency=afterok:{ids}", "--kill-on-invalid-dep=yes"]
    argv.append(str(script))
    return SubmissionUnit(
        node_id=node.id,
        kind=kind,
        argv=argv,
        script=str(script.relative_to(script.parents[1])),
        depends_on=list(node.depends_on),
        instances=instances,
    )


def render_task(
    task: PlanTask,
    plan: Plan,
    names: Names,
    context: RunContext,
    choices: Mapping[str, ResourceRequest] | None,
) -> tuple[str, SubmissionUnit]:
    """The script of a top-level task and its unit (``job``, or ``array`` for replicas)."""
    request = chosen(task, choices)
    output = names.output(task.id, "%a" if task.replicas > 1 else 0)
    command = list(task.command)
    if request.slots > 1:
        command = ["srun", "--"] + command  # one process per slot, like Flux's -n
    stage = [
        f'_js_stage {shlex.quote(p)} || {{ _js_record "$_js_key" failed 1; exit 1; }}'
        for p in stage_paths(task, context)
    ]
    script = fill(
        "job.sh",
        directives="\n".join(directives(task, names, context, output, choices)),
        run_id=comment(context.run_id),
        task_id=comment(task.id),
        instances=f"{task.replicas} instance(s)"
        + (" as one job array" if task.replicas > 1 else ""),
        source=source_comment(task),
        status_dir=comment(names.status_dir()),
        status_dir_quoted=shlex.quote(str(names.status_dir())),
        comments="\n".join(comment_lines(task, plan)),
        library=shlex.quote(str(names.library())),
        environment="\n".join(export_lines(task.attributes.environment, task)),
        portable="\n".join(
            portable_exports(
                context.run_id,
                task,
                array_index_expression(ARRAY_INDEX, 0) if task.replicas > 1 else 0,
            )
        ),
        key=shlex.quote(names.key(task.id)),
        cd=cd_line(task, context, '_js_record "$_js_key" failed 1; exit 1'),
        stage="\n".join(stage),
        limit=task_limit(task),
        command=quote_argv(command),
    )
    path = context.run_dir / names.script(task.id)
    kind = "array" if task.replicas > 1 else "job"
    return script, sbatch_unit(task, path, kind, task.replicas)


_EMPTY = "\x00jobspec-empty\x00"


def fill(template: str, **values: object) -> str:
    """``template`` (a file of ``templates/``) with ``@{name}`` placeholders filled in. A
    placeholder alone on its line whose value is empty leaves no blank line; every other
    line is kept exactly (quoted values may hold blank lines, ``\r`` or U+2028)."""
    filled = {k: (_EMPTY if v == "" else v) for k, v in values.items()}
    text = ScriptTemplate(load_template(template)).substitute(filled)
    return "\n".join(line for line in text.split("\n") if line != _EMPTY).replace(_EMPTY, "")


def render_plan(plan: Plan, context: RunContext) -> Submission:
    """The whole submission: the shared library, one script and one unit per top-level
    node, in submission order (:func:`jobspec_core.ordering.submission_order`), and notes
    for whatever Slurm cannot say exactly. Resource alternatives: the first that fits
    ``context.capacity`` (what sinfo said before rendering), the first when unknown; what
    is rendered is what :func:`~jobspec_slurm.submit.submit_plan` submits.
    """
    from .group import render_group  # group rendering builds on this module

    choices = alternative_choices(plan, context.capacity)

    names = Names(context.run_dir)
    for node, _ in plan.walk():
        names.key(node.id)  # keys in document order, so renders are stable
    submission = Submission(transformer="slurm")
    submission.files[LIBRARY] = RenderedFile(load_template("lib.sh"))
    for node in submission_order(plan.children):
        if isinstance(node, PlanGroup):
            text, unit, notes = render_group(node, plan, names, context, choices)
            submission.notes += notes
        else:
            text, unit = render_task(node, plan, names, context, choices)
            if node.local:
                submission.notes.append(
                    f"{node.id}: local: true at the top level has no enclosing allocation; "
                    "it is submitted as a job of its own"
                )
        submission.files[names.script(node.id)] = RenderedFile(text, executable=True)
        submission.units.append(unit)
    for node, _ in plan.walk():
        note = duration_note(node)
        if note:
            submission.notes.append(note)
        if len(node.resources.alternatives) > 1:
            if context.capacity is None:
                submission.notes.append(
                    f"{node.id}: resource alternatives "
                    + " | ".join(a.name or "inline" for a in node.resources.alternatives)
                    + "; the cluster's capacity is unknown here, so the first is rendered "
                    "(jobspec run asks sinfo first and renders the first that fits)"
                )
            else:
                _, note = choose_alternative(node.resources, context.capacity)
                if note:
                    submission.notes.append(f"{node.id}: {note}")
        reason = unrunnable(fitted(node, context.capacity), context.capacity)
        if reason:
            submission.notes.append(f"{node.id}: {reason}; sbatch will refuse it")
    for node, step, target in planned_writes(plan, context):
        size = len(str(step.options.get("content", "")).encode())
        submission.notes.append(f"{node.id}: write {target} ({size} bytes) before submission")
    return submission
