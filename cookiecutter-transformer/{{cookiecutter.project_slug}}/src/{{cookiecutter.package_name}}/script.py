"""The text of one job script: ``templates/job.sh.tmpl`` around the functions of its tasks
(``templates/task.sh.tmpl``) and a schedule that runs them.

A job is one top-level node. For a task, the schedule runs it. For a group (one
allocation), it runs the group's children inside the job: each child starts as soon as the
siblings it depends on ended ok (it polls their records) and is recorded as never run when
one did not; ``local: true`` children are barriers in document order (a local entry starts
once every earlier sibling ended, later siblings start after it ended); nested groups run
the same way inside their parent's job.

Every value that comes from the jobspec is quoted with :func:`shlex.quote`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import string
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from jobspec_core.errors import InvalidJobspec, Problem
from jobspec_core.plan import Plan, PlanGroup, PlanNode, PlanTask
from jobspec_core.transformer import RunContext

__all__ = ["ScriptTemplate", "TIMEOUT_CODES", "node_slugs", "records_dir", "logs_dir", "JobScript"]

#: Exit code of coreutils ``timeout`` when the limit was reached (137 when it had to KILL).
TIMEOUT_CODES = (124, 137)
#: Seconds between the polite TERM at the time limit and the KILL that follows.
KILL_AFTER = 2

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ScriptTemplate(string.Template):
    """``string.Template`` with ``@`` as its delimiter, so ``$`` stays the shell's."""

    delimiter = "@"


def _template(name: str) -> ScriptTemplate:
    return ScriptTemplate(
        resources.files(__package__).joinpath("templates", name).read_text("utf-8")
    )


def records_dir(run_dir: Path) -> Path:
    """Where job scripts record each instance's start and end, and each node's outcome."""
    return Path(run_dir) / "records"


def logs_dir(run_dir: Path) -> Path:
    """Where each instance's output goes."""
    return Path(run_dir) / "logs"


def node_slugs(plan: Plan) -> dict[str, str]:
    """Every node id -> a unique name made of ``[A-Za-z0-9_.-]`` for files and jobs."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for node, _ in plan.walk():
        slug = base = re.sub(r"[^A-Za-z0-9_.-]", "_", node.id).lstrip(".-") or "node"
        n = 1
        while slug in used:
            n += 1
            slug = f"{base}-{n}"
        used.add(slug)
        out[node.id] = slug
    return out


def problem(node: PlanNode, message: str) -> InvalidJobspec:
    """A user error about ``node``, with where it is in the document."""
    src = node.source
    return InvalidJobspec([Problem(message, src.path, src.file, src.line, src.column)])


def _tasks_in(node: PlanNode) -> list[PlanTask]:
    if isinstance(node, PlanTask):
        return [node]
    return [t for child in node.children for t in _tasks_in(child)]


def _groups_in(node: PlanNode) -> list[PlanGroup]:
    if isinstance(node, PlanTask):
        return []
    return [node] + [g for child in node.children for g in _groups_in(child)]


class JobScript:
    """Builds the script of one top-level node of ``plan``."""

    def __init__(
        self,
        plan: Plan,
        context: RunContext,
        slugs: dict[str, str],
        launcher: Callable[[PlanTask], list[str]] | None = None,
    ):
        self.plan = plan
        self.launcher = launcher or (lambda task: [])
        self.context = context
        self.slugs = slugs
        self.numbers = {task.id: n for n, task in enumerate(plan.tasks())}
        groups = [node for node, _ in plan.walk() if isinstance(node, PlanGroup)]
        self.group_numbers = {group.id: n for n, group in enumerate(groups)}

    # -- one task --------------------------------------------------------------------
    def _cwd(self, node: PlanNode) -> str:
        if node.attributes.cwd is None:
            return str(self.context.workdir)
        return os.path.join(str(self.context.workdir), node.attributes.cwd)

    def _environment(self, task: PlanTask) -> list[str]:
        env = dict(task.attributes.environment)
        env.update(
            JOBSPEC_RUN_ID=self.context.run_id,
            JOBSPEC_TASK_NAME=task.id,
            JOBSPEC_TASK_COUNT=str(task.replicas),
        )
        lines = []
        for key, value in env.items():
            if not _ENV_NAME.match(key):
                raise problem(task, f"environment name {key!r} is not a shell variable name")
            lines.append(f"    export {key}={shlex.quote(value)}")
        return lines

    def _command(self, task: PlanTask) -> str:
        words = [shlex.quote(word) for word in [*self.launcher(task), *task.command]]
        if task.attributes.duration is not None:
            limit = f"{int(task.attributes.duration)}s"
            words = ["timeout", "-k", str(KILL_AFTER), limit] + words
        return " ".join(words)

    def _steps(self, node: PlanNode) -> list[str]:
        lines = []
        cwd = shlex.quote(self._cwd(node))
        for step in node.steps:
            if step.name == "stage":
                # With a file system shared by every node (which the records need anyway)
                # the path is present everywhere: check that it is. Without one, copy it
                # to each node here (for example with pdcp or your site's broadcast tool).
                path = shlex.quote(step.options["path"])
                lines.append(
                    f"    (cd {cwd} && [ -e {path} ]) || {{ echo 'stage: not visible here:' "
                    f"{path} >&2; return 1; }}"
                )
                continue
            if step.name != "write":
                raise problem(node, f"step {step.name!r} is not supported by this transformer")
            target = shlex.quote(step.options["path"])
            content = shlex.quote(step.options["content"])
            parent = shlex.quote(os.path.dirname(step.options["path"]) or ".")
            chmod = f" && chmod +x {target}" if step.options.get("executable") else ""
            lines.append(
                f"    (cd {cwd} && mkdir -p {parent} && printf '%s' {content} >{target}{chmod})"
                " || return 1"
            )
        return lines or ["    :"]

    def task_functions(self, task: PlanTask) -> str:
        return _template("task.sh.tmpl").substitute(
            task_id=re.sub(r"[^\x20-\x7e]", "?", task.id),
            count=str(task.replicas),
            slug=self.slugs[task.id],
            n=str(self.numbers[task.id]),
            environment="\n".join(self._environment(task)),
            cwd=shlex.quote(self._cwd(task)),
            command=self._command(task),
            steps="\n".join(self._steps(task)),
        )

    # -- the schedule ----------------------------------------------------------------
    def _run(self, node: PlanNode) -> list[str]:
        """Lines that run ``node`` in the current shell and record how it ended."""
        if isinstance(node, PlanTask):
            n = self.numbers[node.id]
            return [f"( run_task {self.slugs[node.id]} {node.replicas} {n} )"]
        return self._group(node)

    def _never(self, node: PlanNode) -> list[str]:
        lines = [f"never {self.slugs[t.id]} {t.replicas}" for t in _tasks_in(node)]
        lines += [f'put "$records/{self.slugs[g.id]}.node" never' for g in _groups_in(node)]
        return lines

    def _group(self, group: PlanGroup) -> list[str]:
        lines: list[str] = []
        if group.steps:
            name = f"group_steps_{self.group_numbers[group.id]}"
            lines += [f"{name}() {{"] + self._steps(group) + ["}"]
            lines += [f'if ! {name} >"$logs/{self.slugs[group.id]}.steps.out" 2>&1; then']
            lines += ["    " + line for line in self._never(group)] + ["    exit 1", "fi"]
        for child in group.children:
            deps = " ".join(self.slugs[d] for d in child.depends_on)
            if isinstance(child, PlanTask) and child.local:
                # A barrier: every earlier sibling ends first, later ones start after it.
                lines.append("wait")
                if deps:
                    lines += [f"if await {deps}; then"]
                    lines += ["    " + line for line in self._run(child)]
                    lines += ["else"] + ["    " + line for line in self._never(child)] + ["fi"]
                else:
                    lines += self._run(child)
                continue
            lines.append("(")
            if deps:
                lines.append(f"    if await {deps}; then")
                lines += ["        " + line for line in self._run(child)]
                lines.append("    else")
                lines += ["        " + line for line in self._never(child)]
                lines.append("    fi")
            else:
                lines += ["    " + line for line in self._run(child)]
            lines.append(") &")
        children = " ".join(self.slugs[c.id] for c in group.children)
        lines += ["wait", f"group_end {self.slugs[group.id]} {children}"]
        return lines

    # -- the whole script ------------------------------------------------------------
    def render(self, node: PlanNode, directives: list[str]) -> str:
        tasks = _tasks_in(node)
        kind = "task" if isinstance(node, PlanTask) else "group"
        summary = (
            f"One jobspec {kind}, {node.id}, of run {self.context.run_id}: "
            f"{sum(t.replicas for t in tasks)} task instance(s)"
        )
        return _template("job.sh.tmpl").substitute(
            directives="\n".join(directives),
            summary=re.sub(r"[^\x20-\x7e]", "?", summary),
            records=shlex.quote(str(records_dir(self.context.run_dir))),
            logs=shlex.quote(str(logs_dir(self.context.run_dir))),
            requires=json.dumps(node.requires or self.plan.requires, sort_keys=True),
            tasks="\n".join(self.task_functions(t) for t in tasks),
            schedule="\n".join(self._run(node)),
            top=self.slugs[node.id],
        )
