"""Batch scripts of groups: the part of rendering that writes ``groups/<id>.sh``.

A mixin of the renderer in :mod:`jobspec_flux.render` (it uses the renderer's layout,
files and requests). The script's shape is ``templates/batch.sh``; this module writes its
body: one block per child in :func:`jobspec_core.ordering.submission_order`, ``flux submit
--flags=waitable`` (or ``flux batch``) with captured ids for tasks and nested groups, plain
lines for ``local: true`` entries.
"""

from __future__ import annotations

import shlex
from typing import Any

from jobspec_core.ordering import submission_order
from jobspec_core.plan import PlanGroup, PlanNode, PlanTask
from jobspec_core.transformer import RenderedFile

from .jobs import JobRequest, is_submitted, kind_of, resource_request
from .scripts import comment_safe, flux_argv, stage_archive_argv, template

__all__ = ["BatchScripts"]


class BatchScripts:
    """Mixin: ``_batch`` renders one group's script (and, recursively, nested groups')."""

    def _batch(self, group: PlanGroup, ancestors: list[PlanGroup]) -> None:
        inside = [*ancestors, group]
        fields = resource_request(group, [], self._capacity(ancestors))
        self.group_fields[group.id] = fields
        var = {child.id: f"J_{i}" for i, child in enumerate(group.children)}
        lines: list[str] = []
        submitted_before: list[str] = []
        self._locals.update(c.id for c in group.children if not is_submitted(c))
        for child in submission_order(group.children):
            lines.append("")
            if isinstance(child, PlanTask):
                self._launcher(child, inside, inner=True)
            if not is_submitted(child):
                lines += self._local_lines(child, var, submitted_before)
                continue
            if isinstance(child, PlanGroup):
                self._batch(child, inside)
            request = self._request(child, inside, inner=True)
            lines += self._submit_lines(child, request, var)
            submitted_before.append(var[child.id])
        record = self.layout.group_record(group.id)
        dump = self.layout.group_dump(group.id)
        self.files[self.layout.batch(group.id)] = RenderedFile(
            template("batch.sh").substitute(
                group_id=group.id,
                run_id=self.context.run_id,
                record=shlex.quote(record),
                dump=shlex.quote(dump),
                body="\n".join(lines).strip("\n"),
            ),
            executable=True,
        )

    def _submit_lines(self, node: PlanNode, request: JobRequest, var: dict[str, str]) -> list[str]:
        v = var[node.id]
        label = shlex.quote(node.id)
        lines = [f"# {kind_of(node)} {comment_safe(node.id)}"]
        if isinstance(node, PlanTask):
            for archive in {s.name: s for s in self._stage_list(request)}.values():
                lines.append(
                    shlex.join(stage_archive_argv(archive.name, archive.directory, archive.base))
                    + " >/dev/null"
                )
        # afterok for submitted siblings; a local sibling has already run (it comes first in
        # the order), and its variable is empty unless it succeeded.
        # Unquoted on purpose: a replicated dependency holds one id per line, and each id
        # becomes its own --dependency (ids are F58 or decimal: no spaces or glob characters).
        deps = " ".join(
            f"${var[d]}" for d in request.depends_on if d in var and d not in self._locals
        )
        argv = shlex.join(flux_argv(request, waitable=True))
        cmd = argv + (f" $(deps {deps})" if deps else "") + " " + shlex.join(request.command)
        submit = f'if {v}=$({cmd} 2>"$E"); then job {label} ${v}; else {v}=; never {label} "$(cat "$E")"; fi'
        if request.depends_on:
            cond = " && ".join(f'[ -n "${var[d]}" ]' for d in request.depends_on if d in var)
            lines.append(f"if {cond}; then")
            lines.append("    " + submit)
            lines.append(f'else {v}=; never {label} "a dependency never ran"; fi')
        else:
            lines.append(submit)
        return lines

    def _stage_list(self, request: JobRequest) -> list[Any]:
        return self._current_stages.get(request.node_id, [])

    def _local_lines(
        self, task: PlanTask, var: dict[str, str], submitted_before: list[str]
    ) -> list[str]:
        v = var[task.id]
        label = shlex.quote(task.id)
        launcher = shlex.quote(self.layout.path(self.layout.launcher(task.id)))
        lines = [f"# local {comment_safe(task.id)}: runs here, after the entries above it"]
        if submitted_before:
            ids = " ".join(f"${x}" for x in submitted_before)
            joined = "".join(f"${x}" for x in submitted_before)
            lines.append(f'[ -z "{joined}" ] || flux job status {ids} >/dev/null 2>&1')
        runs = [
            f"sh {launcher} {i} > {shlex.quote(self.layout.log(task.id, i))} 2>&1 & P{i}=$!"
            for i in range(task.replicas)
        ]
        waits = " ".join(f"wait $P{i} || {v}=;" for i in range(task.replicas))
        body = runs + [f'{v}=local; {waits} [ -n "${v}" ] || failed=1']
        checks = []
        for dep in task.depends_on:
            checks.append(f'ok "${var[dep]}"')
        if checks:
            lines.append(f"if {' && '.join(checks)}; then")
            lines += ["    " + line for line in body]
            lines.append(f'else {v}=; never {label} "a dependency did not succeed"; fi')
        else:
            lines += body
        return lines
