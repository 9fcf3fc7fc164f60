"""Plan -> :class:`~jobspec_core.transformer.Submission`: one job script per task.

Each top-level task becomes one job (one submission) whose script runs all the task's
replicas in parallel and records how each ended. Jobs are submitted in dependency order;
a dependent's submission names the ids of the jobs it waits for as ``{id:NODE}``
placeholders, which ``transformer.submit`` replaces by the ids captured at submission.

Nothing here runs anything: rendering works on a machine without the scheduler.
"""

from __future__ import annotations

import os
import re
import shlex
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from jobspec_core.errors import InvalidJobspec, Problem, UnsupportedFeature
from jobspec_core.features import features_used
from jobspec_core.plan import Plan, PlanTask
from jobspec_core.transformer import RenderedFile, RunContext, Submission, SubmissionUnit

from .native import JobRequest

__all__ = ["ScriptTemplate", "TaskLayout", "layout", "render_submission", "records_dir", "logs_dir"]

#: Exit code of coreutils ``timeout`` when the limit was reached (137 when it had to KILL).
TIMEOUT_CODES = (124, 137)
#: Seconds between the polite TERM at the time limit and the KILL that follows.
KILL_AFTER = 2

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ScriptTemplate(string.Template):
    """``string.Template`` with ``@`` as its delimiter, so ``$`` stays the shell's."""

    delimiter = "@"


def records_dir(run_dir: Path) -> Path:
    """Where job scripts record each instance's start and end."""
    return Path(run_dir) / "records"


def logs_dir(run_dir: Path) -> Path:
    """Where each instance's output goes."""
    return Path(run_dir) / "logs"


@dataclass
class TaskLayout:
    """Where one task lives in the run directory: ``slug`` names its script and records."""

    task: PlanTask
    slug: str

    @property
    def script(self) -> str:
        return f"{self.slug}.sh"


def _slug(task_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", task_id).lstrip(".") or "task"


def layout(plan: Plan) -> list[TaskLayout]:
    """The plan's top-level tasks in submission order (every task after the tasks it
    depends on, otherwise document order), each with a unique file-name slug."""
    tasks = [node for node in plan.children if isinstance(node, PlanTask)]
    by_id = {task.id: task for task in tasks}
    ordered: list[PlanTask] = []
    placed: set[str] = set()

    def place(task: PlanTask, seen: tuple[str, ...]) -> None:
        if task.id in placed:
            return
        for dep in task.depends_on:
            if dep in by_id and dep not in seen:  # the validator refuses cycles already
                place(by_id[dep], seen + (task.id,))
        placed.add(task.id)
        ordered.append(task)

    for task in tasks:
        place(task, ())
    used: set[str] = set()
    out = []
    for task in ordered:
        slug = base = _slug(task.id)
        n = 1
        while slug in used:
            n += 1
            slug = f"{base}-{n}"
        used.add(slug)
        out.append(TaskLayout(task, slug))
    return out


def _refuse_unsupported(plan: Plan, capabilities: frozenset[str], name: str) -> None:
    missing = sorted(features_used(plan) - set(capabilities))
    if missing:
        raise UnsupportedFeature(
            f"the {name} transformer does not support {', '.join(missing)} "
            f"(used by {plan.source or plan.name}); it supports: {', '.join(sorted(capabilities))}"
        )


def _problem(task: PlanTask, message: str) -> InvalidJobspec:
    src = task.source
    return InvalidJobspec([Problem(message, src.path, src.file, src.line, src.column)])


def _passthrough(task: PlanTask, name: str) -> dict[str, str]:
    out = {}
    for key, value in task.attributes.passthrough.get(name, {}).items():
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", key) or "\n" in text or "\r" in text:
            raise _problem(
                task,
                f"{name}.{key}: {value!r} cannot become a scheduler option "
                "(expected a key of letters, digits, _ and -, and a one-line value)",
            )
        out[key] = text
    return out


def _cwd(task: PlanTask, context: RunContext) -> str:
    if task.attributes.cwd is None:
        return str(context.workdir)
    return os.path.join(str(context.workdir), task.attributes.cwd)


def _environment(task: PlanTask, context: RunContext) -> list[str]:
    env = dict(task.attributes.environment)
    env.update(
        JOBSPEC_RUN_ID=context.run_id,
        JOBSPEC_TASK_NAME=task.id,
        JOBSPEC_TASK_COUNT=str(task.replicas),
    )
    lines = []
    for key, value in env.items():
        if not _ENV_NAME.match(key):
            raise _problem(task, f"environment name {key!r} is not a shell variable name")
        lines.append(f"        export {key}={shlex.quote(value)}")
    return lines


def _command(task: PlanTask) -> str:
    words = [shlex.quote(word) for word in task.command]
    if task.attributes.duration is not None:
        limit = f"{int(task.attributes.duration)}s"
        words = ["timeout", "-k", str(KILL_AFTER), limit] + words
    return " ".join(words)


def _steps(task: PlanTask, cwd: str) -> list[str]:
    lines = []
    for step in task.steps:
        if step.name != "write":
            raise _problem(task, f"step {step.name!r} is not supported by this transformer")
        target = shlex.quote(step.options["path"])
        content = shlex.quote(step.options["content"])
        chmod = f" && chmod +x {target}" if step.options.get("executable") else ""
        parent = shlex.quote(os.path.dirname(step.options["path"]) or ".")
        lines.append(
            f"(cd {shlex.quote(cwd)} && mkdir -p {parent} && printf '%s' {content} >{target}"
            f"{chmod}) || {{ echo 'write step failed:' {target} >&2; exit 1; }}"
        )
    return lines or [": no steps"]


def job_request(task: PlanTask, slug: str, context: RunContext, name: str) -> JobRequest:
    """The :class:`JobRequest` of one task (its preferred resource alternative)."""
    res = task.resources.preferred
    return JobRequest(
        name=slug,
        script=f"{slug}.sh",
        duration=task.attributes.duration,
        slots=res.slots * task.replicas,
        cores_per_slot=res.cores_per_slot,
        gpus_per_slot=res.gpus_per_slot,
        memory_per_slot=res.memory_per_slot,
        nodes=res.nodes,
        output=str(logs_dir(context.run_dir) / f"{slug}.job.out"),
        passthrough=_passthrough(task, name),
    )


def _summary(task: PlanTask, context: RunContext) -> str:
    text = f"task {task.id} of run {context.run_id}, {task.replicas} instance(s)"
    return re.sub(r"[^\x20-\x7e]", "?", text)


def render_script(task: PlanTask, slug: str, request: JobRequest, directives: list[str],
                  context: RunContext) -> str:
    """The job script of one task, from ``templates/job.sh.tmpl``."""
    text = resources.files(__package__).joinpath("templates/job.sh.tmpl").read_text("utf-8")
    cwd = _cwd(task, context)
    return ScriptTemplate(text).substitute(
        directives="\n".join(directives),
        summary=_summary(task, context),
        slug=slug,
        records=shlex.quote(str(records_dir(context.run_dir))),
        logs=shlex.quote(str(logs_dir(context.run_dir))),
        environment="\n".join(_environment(task, context)),
        cwd=shlex.quote(cwd),
        command=_command(task),
        steps="\n".join(_steps(task, cwd)),
        count=str(task.replicas),
    )


def render_submission(
    plan: Plan,
    context: RunContext,
    *,
    name: str,
    capabilities: frozenset[str],
    scheduler: Any,
    submit_command: list[str],
) -> Submission:
    """The whole submission: a script and a unit per top-level task, in submission order.

    :param name: the transformer's name (also the passthrough prefix it reads).
    :param scheduler: the ``scheduler`` module (directives, submit arguments, notes).
    :param submit_command: the submit command as it will be run (see ``transformer.py``).
    :raises UnsupportedFeature: the plan uses a feature not in ``capabilities``.
    :raises InvalidJobspec: a value cannot be expressed (a multi-line passthrough value).
    """
    _refuse_unsupported(plan, capabilities, name)
    submission = Submission(transformer=name)
    for entry in layout(plan):
        task = entry.task
        request = job_request(task, entry.slug, context, name)
        script = render_script(task, entry.slug, request, scheduler.directives(request), context)
        submission.files[entry.script] = RenderedFile(script, executable=True)
        after = [f"{{id:{dep}}}" for dep in task.depends_on]
        submission.units.append(
            SubmissionUnit(
                node_id=task.id,
                kind="job" if task.replicas == 1 else "array",
                argv=list(submit_command) + scheduler.submit_args(request, after),
                script=entry.script,
                depends_on=list(task.depends_on),
                instances=task.replicas,
            )
        )
        submission.notes.extend(scheduler.notes(request))
    if scheduler.SCRIPT_ON_STDIN:
        submission.notes.append("each job script is given to the submit command on standard input")
    return submission
