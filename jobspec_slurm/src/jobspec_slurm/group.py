"""Rendering a top-level group: one allocation whose task instances run as steps inside it.

The group's tasks, their replicas and the tasks of nested groups become one flat list of
*instances*. Each instance is a shell function of the batch script that runs its command as
``srun --exact`` (so steps that fit run side by side inside the allocation) or, for
``local: true`` entries, as a plain command of the batch script. The dependency graph is
kept exactly (the script's scheduler in ``lib.sh`` starts an instance as soon as what it
needs has ended, never serializing independent instances):

* ``depends_on: [X]`` -> after-ok on every instance of X (a task's replicas, or every
  instance inside a nested group X);
* a nested group's ``depends_on`` applies to each instance inside it;
* a ``local: true`` entry runs after every earlier sibling has *ended* (after-any: a service
  is stopped even when a task failed), and every later sibling runs after it succeeded
  (after-ok: a service must have started).

Nested groups are flattened into the outer allocation (Slurm has no allocation inside an
allocation); a note says so.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from jobspec_core.errors import InvalidJobspec, Problem
from jobspec_core.plan import Plan, PlanGroup, PlanNode, PlanTask, ResourceRequest
from jobspec_core.scripttext import comment
from jobspec_core.transformer import RunContext, SubmissionUnit, portable_exports

from .names import Names
from .options import chosen, export_lines, quote_argv, resource_options, task_limit
from .render import (
    cd_line,
    comment_lines,
    directives,
    fill,
    node_cwd,
    sbatch_unit,
    source_comment,
    stage_paths,
)

__all__ = ["Instance", "flatten", "render_group"]


@dataclass
class Instance:
    """One task instance inside an allocation."""

    task: PlanTask
    index: int
    stages: list[str] = field(default_factory=list)  # stage paths of enclosing nested groups
    after_ok: set[int] = field(default_factory=set)
    after_any: set[int] = field(default_factory=set)


def flatten(group: PlanGroup, context: RunContext) -> list[Instance]:
    """Every task instance inside ``group`` (nested groups included), with its dependencies
    as positions in the returned list. Raises :class:`InvalidJobspec` when ``local``
    ordering and ``depends_on`` contradict each other (a cycle)."""
    instances: list[Instance] = []
    members: dict[str, list[int]] = {}

    def collect(node: PlanNode, stages: list[str]) -> list[int]:
        if isinstance(node, PlanTask):
            start = len(instances)
            for index in range(node.replicas):
                instances.append(Instance(node, index, list(stages)))
            members[node.id] = list(range(start, len(instances)))
        else:
            inner = stages + stage_paths(node, context)
            members[node.id] = [i for child in node.children for i in collect(child, inner)]
        return members[node.id]

    for child in group.children:
        collect(child, [])

    def link(parent: PlanGroup, ok: set[int], any_: set[int]) -> None:
        earlier: set[int] = set()
        last_local: str | None = None
        for child in parent.children:
            child_ok = set(ok)
            for dep in child.depends_on:
                child_ok.update(members[dep])
            child_any = set(any_)
            if last_local is not None:
                child_ok.update(members[last_local])
            is_local = isinstance(child, PlanTask) and child.local
            if is_local:
                child_any.update(earlier)
            if isinstance(child, PlanTask):
                for i in members[child.id]:
                    instances[i].after_ok = child_ok - {i}
                    instances[i].after_any = child_any - {i}
            else:
                link(child, child_ok, child_any)
            earlier.update(members[child.id])
            if is_local:
                last_local = child.id

    link(group, set(), set())
    _check_acyclic(group, instances)
    return instances


def _check_acyclic(group: PlanGroup, instances: list[Instance]) -> None:
    needs = {i: inst.after_ok | inst.after_any for i, inst in enumerate(instances)}
    done: set[int] = set()
    while True:
        ready = [i for i, deps in needs.items() if i not in done and deps <= done]
        if not ready:
            break
        done.update(ready)
    stuck = sorted({instances[i].task.id for i in needs if i not in done})
    if stuck:
        src = group.source
        raise InvalidJobspec(
            [
                Problem(
                    f"group {group.id!r}: tasks {', '.join(stuck)} wait for each other: a "
                    "local: true entry runs after every entry before it and before every "
                    "entry after it, so an earlier entry cannot depend on a later one",
                    src.path,
                    src.file,
                    src.line,
                    src.column,
                    code="slurm-local-order",
                )
            ]
        )


def _function(i: int, inst: Instance, names: Names, context: RunContext, choices) -> list[str]:
    task = inst.task
    key = f"{names.key(task.id)}.{inst.index}"
    log = str(names.log(task.id, inst.index))
    cwd = node_cwd(task, context)
    body = [
        *portable_exports(context.run_id, task, inst.index),
        *export_lines(task.attributes.environment, task),
    ]
    for path in inst.stages + stage_paths(task, context):
        body.append(
            f"_js_stage {shlex.quote(path)} || {{ _js_record {shlex.quote(key)} failed 1; "
            "return 1; }"
        )
    limit = task_limit(task)
    # cd in the function (a subshell), not srun --chdir: a missing directory must fail the
    # task, where Slurm would run it in /tmp instead; srun starts steps in its own cwd.
    body.append(
        f"cd -- {shlex.quote(cwd)} || {{ _js_record {shlex.quote(key)} failed 1; return 1; }}"
    )
    if task.local:
        body.append(
            f"_js_exec {shlex.quote(key)} {limit} {quote_argv(task.command)} "
            f"> {shlex.quote(log)} 2>&1"
        )
    else:
        srun = [
            "srun",
            "--exact",
            *resource_options(chosen(task, choices)),
            f"--output={names.output(task.id, inst.index)}",
            "--",
        ]
        body.append(f"_js_exec {shlex.quote(key)} {limit} {quote_argv(srun + task.command)}")
    title = f"# {comment(task.id)} [{inst.index}]" + (" (local)" if task.local else "")
    return [title, f"_js_node_{i}() {{", *("    " + line for line in body), "}"]


def render_group(
    group: PlanGroup,
    plan: Plan,
    names: Names,
    context: RunContext,
    choices: Mapping[str, ResourceRequest] | None,
) -> tuple[str, SubmissionUnit, list[str]]:
    """The batch script of a top-level group, its ``allocation`` unit, and notes."""
    instances = flatten(group, context)
    notes = []
    nested = [n.id for n, _ in _walk(group) if isinstance(n, PlanGroup) and n is not group]
    if nested:
        notes.append(
            f"{group.id}: nested group(s) {', '.join(nested)} run inside {group.id}'s "
            "allocation (Slurm has no allocation inside an allocation); their dependencies "
            "are kept step by step"
        )
    ignored = sorted(
        {
            inst.task.id
            for inst in instances
            if inst.task.attributes.passthrough.get("slurm")
            != group.attributes.passthrough.get("slurm")
        }
    )
    if ignored:
        notes.append(
            f"{group.id}: slurm.* attributes of {', '.join(ignored)} differ from the "
            "group's; only the group's apply (they are options of its one allocation)"
        )
    functions: list[str] = []
    for i, inst in enumerate(instances):
        functions += _function(i, inst, names, context, choices)

    def indices(values: set[int]) -> str:
        return shlex.quote(" ".join(str(v) for v in sorted(values)))

    stage = [f"_js_stage {shlex.quote(p)} || exit 1" for p in stage_paths(group, context)]
    script = fill(
        "group.sh",
        directives="\n".join(
            directives(group, names, context, names.allocation_output(group.id), choices)
        ),
        run_id=comment(context.run_id),
        group_id=comment(group.id),
        instances=f"{len(instances)} task instance(s)",
        source=source_comment(group),
        status_dir=comment(names.status_dir()),
        status_dir_quoted=shlex.quote(str(names.status_dir())),
        comments="\n".join(comment_lines(group, plan)),
        library=shlex.quote(str(names.library())),
        cd=cd_line(group, context, "exit 1"),
        stage="\n".join(stage),
        functions="\n".join(functions),
        keys=" ".join(shlex.quote(f"{names.key(inst.task.id)}.{inst.index}") for inst in instances),
        after_ok=" ".join(indices(inst.after_ok) for inst in instances),
        after_any=" ".join(indices(inst.after_any) for inst in instances),
    )
    path = context.run_dir / names.script(group.id)
    unit = sbatch_unit(group, path, "allocation", len(instances))
    return script, unit, notes


def _walk(group: PlanGroup):
    yield group, None
    for child in group.children:
        if isinstance(child, PlanGroup):
            yield from _walk(child)
        else:
            yield child, group
