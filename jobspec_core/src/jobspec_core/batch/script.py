"""The text of one job script: ``templates/job.sh.tmpl`` around the functions of its tasks
(``templates/task.sh.tmpl``) and a schedule that runs them.

A job is one top-level node:

* a task that is a true job array: each element runs one instance, its 0-based index
  computed from the scheduler's array variable with
  :func:`~jobspec_core.transformer.array_index_expression`;
* a task without an array (one instance, or a scheduler without arrays): its replicas run
  in parallel inside the job;
* a group (one allocation): its children run inside the job; each starts as soon as the
  siblings it depends on ended ok (it polls their records) and is recorded as never run
  when one did not; ``local: true`` children are barriers in document order; nested groups
  run the same way inside their parent's job.

A job with dependencies on other jobs first checks their records (``deps_ok``): with an
after-any scheduler (Grid Engine's ``-hold_jid``) this is what keeps a dependent of a
failure from running; with an after-ok one it never finds a failure.

``write`` steps are carried out at submission (:func:`jobspec_core.workdirs.carry_out_writes`);
``stage`` steps check that the path is visible from the job (a shared file system).
Every value that comes from the jobspec is quoted with :func:`shlex.quote`, comments too.
"""

from __future__ import annotations

import json
import shlex
import string
from importlib import resources

from ..plan import Plan, PlanGroup, PlanNode, PlanTask
from ..transformer import RunContext, array_index_expression, portable_environment
from ..workdirs import working_directory
from .naming import ENV_NAME, comment, problem
from .records import TIMEOUT_CODES, logs_dir, records_dir

__all__ = ["ScriptTemplate", "TIMEOUT_CODES", "KILL_AFTER", "JobScript", "tasks_in", "groups_in"]

#: Seconds between the polite TERM at the time limit and the KILL that follows.
KILL_AFTER = 2


class ScriptTemplate(string.Template):
    """``string.Template`` with ``@`` as its delimiter, so ``$`` stays the shell's."""

    delimiter = "@"


def _template(name: str) -> ScriptTemplate:
    text = resources.files(__package__).joinpath("templates", name).read_text("utf-8")
    return ScriptTemplate(text)


def tasks_in(node: PlanNode) -> list[PlanTask]:
    """Every task in ``node`` (itself, for a task), in document order."""
    if isinstance(node, PlanTask):
        return [node]
    return [t for child in node.children for t in tasks_in(child)]


def groups_in(node: PlanNode) -> list[PlanGroup]:
    """Every group in ``node`` (itself included), in document order."""
    if isinstance(node, PlanTask):
        return []
    return [node] + [g for child in node.children for g in groups_in(child)]


class JobScript:
    """Builds the script of one top-level node of ``plan``.

    :param slugs: node id -> slug (:func:`~jobspec_core.batch.naming.node_slugs`).
    :param launcher: words put before each instance's command (``Scheduler.launcher``).
    """

    def __init__(self, plan: Plan, context: RunContext, slugs: dict[str, str], launcher):
        self.plan = plan
        self.context = context
        self.slugs = slugs
        self.launcher = launcher
        self.numbers = {task.id: n for n, task in enumerate(plan.tasks())}
        groups = [node for node, _ in plan.walk() if isinstance(node, PlanGroup)]
        self.group_numbers = {group.id: n for n, group in enumerate(groups)}

    # -- one task --------------------------------------------------------------------
    def _cwd(self, node: PlanNode) -> str:
        return shlex.quote(str(working_directory(node, self.context)))

    def _environment(self, task: PlanTask) -> list[str]:
        env = dict(task.attributes.environment)
        env.update(portable_environment(self.context.run_id, task, 0))
        del env["JOBSPEC_TASK_INDEX"]  # set from the function's argument
        lines = []
        for key, value in env.items():
            if not ENV_NAME.match(key):
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
        cwd = self._cwd(node)
        for step in node.steps:
            if step.name == "write":
                continue  # carried out at submission, into the working directory
            if step.name != "stage":
                raise problem(node, f"step {step.name!r} is not supported by this transformer")
            # With a file system shared by every node (which the records need anyway) the
            # path is present everywhere: check that it is.
            path = shlex.quote(str(step.options["path"]))
            lines.append(
                f"    (cd {cwd} && [ -e {path} ]) || {{ echo 'stage: not visible here:' "
                f"{path} >&2; return 1; }}"
            )
        return lines or ["    :"]

    def task_functions(self, task: PlanTask) -> str:
        return _template("task.sh.tmpl").substitute(
            task_id=comment(task.id),
            count=str(task.replicas),
            slug=self.slugs[task.id],
            n=str(self.numbers[task.id]),
            environment="\n".join(self._environment(task)),
            cwd=self._cwd(task),
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
        lines = [f"never {self.slugs[t.id]} {t.replicas}" for t in tasks_in(node)]
        lines += [f'put "$records/{self.slugs[g.id]}.node" never' for g in groups_in(node)]
        return lines

    def _group(self, group: PlanGroup) -> list[str]:
        lines: list[str] = []
        if any(step.name != "write" for step in group.steps):
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

    def _guard(self, node: PlanNode) -> list[str]:
        """Check the records of the jobs ``node`` depends on before anything runs."""
        if not node.depends_on:
            return [":"]
        by_id = {n.id: n for n in self.plan.children}
        deps = [
            f"{self.slugs[t.id]}:{t.replicas}"
            for dep in node.depends_on
            for t in tasks_in(by_id[dep])
        ]
        lines = [f"if ! deps_ok {' '.join(deps)}; then"]
        lines += ["    " + line for line in self._never(node)] + ["    exit 1", "fi"]
        return lines

    # -- the whole script ------------------------------------------------------------
    def render(
        self, node: PlanNode, directives: list[str], array: tuple[str, int] | None = None
    ) -> str:
        """The script of top-level ``node``. ``array``: ``(variable, base)`` when ``node``
        is a task submitted as a true job array (each element runs one instance)."""
        tasks = tasks_in(node)
        kind = "task" if isinstance(node, PlanTask) else "group"
        summary = (
            f"One jobspec {kind}, {node.id}, of run {self.context.run_id}: "
            f"{sum(t.replicas for t in tasks)} task instance(s)"
        )
        slug = self.slugs[node.id]
        if array is not None:
            assert isinstance(node, PlanTask)
            index = array_index_expression(*array)
            schedule = [f"index={index}", f'run_element {slug} "$index" {self.numbers[node.id]}']
        else:
            # The job succeeds only when its task or group did (after-ok dependents).
            schedule = self._run(node) + [f"await {slug}"]
        records, logs = records_dir(self.context.run_dir), logs_dir(self.context.run_dir)
        return _template("job.sh.tmpl").substitute(
            directives="\n".join(directives),
            summary=comment(summary),
            records=shlex.quote(str(records)),
            logs=shlex.quote(str(logs)),
            requires=comment(json.dumps(node.requires or self.plan.requires, sort_keys=True)),
            tasks="\n".join(self.task_functions(t) for t in tasks),
            guard="\n".join(self._guard(node)),
            schedule="\n".join(schedule),
        )
