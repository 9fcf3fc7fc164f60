"""Submitting a rendered run, following it, and cancelling it, written once for both drivers.

Handles (:class:`TaskHandle`), one per task instance:

* a top-level task instance: ``native_id`` is its own job id (decimal), ``data.kind`` ``job``;
* a task inside a group: ``native_id`` is the top-level group's ``flux batch`` job id,
  ``data.kind`` ``inner`` with ``data.parent`` (its direct group); its state comes from the
  files the batch script and the launcher write in the run directory (see
  :mod:`jobspec_flux.layout`), since its own job lives in a nested instance that is gone
  once the group ends;
* a task never submitted because a dependency did not succeed (Flux refuses ``afterok`` on a
  job that already failed): ``native_id`` empty, ``data.kind`` ``never``.

Status asks Flux once (``flux jobs --json ID...``) for every top-level job of the run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jobspec_core.errors import SubmitError
from jobspec_core.plan import Plan, PlanGroup, PlanNode, PlanTask
from jobspec_core.transformer import RunContext, TaskHandle, TaskState, TaskStatus

from .driver import Driver, Refused
from .layout import Layout
from .render import RenderResult
from .scripts import stage_archive_argv
from .states import parse_jobid, status_from_record

__all__ = ["submit_run", "run_status", "cancel_run"]


def _instances(group: PlanGroup) -> list[tuple[PlanTask, PlanGroup]]:
    out: list[tuple[PlanTask, PlanGroup]] = []
    for child in group.children:
        if isinstance(child, PlanGroup):
            out += _instances(child)
        else:
            out.append((child, group))
    return out


def _handles_for(node: PlanNode, ids: list[int], layout: Layout, driver: str) -> list[TaskHandle]:
    if isinstance(node, PlanTask):
        return [
            TaskHandle(node.id, i, str(job), layout.log(node.id, i), {"kind": "job", "via": driver})
            for i, job in enumerate(ids)
        ]
    handles = []
    for task, parent in _instances(node):
        for i in range(task.replicas):
            handles.append(
                TaskHandle(
                    task.id,
                    i,
                    str(ids[0]),
                    layout.log(task.id, i),
                    {"kind": "inner", "parent": parent.id, "top": node.id, "via": driver},
                )
            )
    return handles


def _never_handles(node: PlanNode, reason: str, layout: Layout) -> list[TaskHandle]:
    pairs = [(node, None)] if isinstance(node, PlanTask) else _instances(node)
    return [
        TaskHandle(task.id, i, "", layout.log(task.id, i), {"kind": "never", "reason": reason})
        for task, _ in pairs
        for i in range(task.replicas)
    ]


def submit_run(
    plan: Plan, result: RenderResult, context: RunContext, driver: Driver
) -> list[TaskHandle]:
    """Submit every top-level unit in order; see :meth:`Transformer.submit` for the contract.

    A submission Flux refuses because a dependency already failed is not an error: that
    node and its dependents are recorded as never run. Any other refusal cancels every job
    already submitted and raises :class:`SubmitError` with their handles.
    """
    layout = Layout(context.run_dir)
    (Path(context.run_dir) / "logs").mkdir(parents=True, exist_ok=True)
    (Path(context.run_dir) / "status").mkdir(parents=True, exist_ok=True)
    (Path(context.run_dir) / "ids").mkdir(parents=True, exist_ok=True)
    top = {node.id: node for node in plan.children}
    ids: dict[str, list[int]] = {}
    handles: list[TaskHandle] = []
    try:
        for node_id in result.order:
            request = result.requests[node_id]
            missing = [d for d in request.depends_on if not ids.get(d)]
            if missing:
                ids[node_id] = []
                reason = f"dependency {missing[0]} never ran"
                handles += _never_handles(top[node_id], reason, layout)
                continue
            for archive in result.stages.get(node_id, []):
                driver.create_archive(
                    stage_archive_argv(archive.name, archive.directory, archive.base)
                )
            deps = [job for d in request.depends_on for job in ids[d]]
            try:
                ids[node_id] = driver.submit(request, deps)
            except Refused as exc:
                failed = _failed_dependency(driver, deps)
                if failed is None:
                    raise
                ids[node_id] = []
                handles += _never_handles(top[node_id], f"dependency failed: {exc}", layout)
                continue
            handles += _handles_for(top[node_id], ids[node_id], layout, driver.name)
    except Refused as exc:
        submitted = [job for node_ids in ids.values() for job in node_ids]
        _cancel_quietly(driver, submitted)
        raise SubmitError(
            f"Flux refused the submission of {node_id!r}: {exc}; "
            f"cancelled the {len(submitted)} job(s) already submitted",
            handles,
        ) from exc
    except BaseException:
        _cancel_quietly(driver, [job for node_ids in ids.values() for job in node_ids])
        raise
    return handles


def _cancel_quietly(driver: Driver, ids: list[int]) -> None:
    """Cancel ``ids`` while another error is on its way out: that error is the one to report
    (a Flux that just refused or went away may refuse the cancel too)."""
    try:
        driver.cancel(ids)
    except Exception:  # noqa: BLE001 - the original error is raised by the caller
        pass


def _failed_dependency(driver: Driver, deps: Sequence[int]) -> int | None:
    """The first of ``deps`` that ended without success, or ``None``."""
    if not deps:
        return None
    records = driver.query(deps)
    for job in deps:
        record = records.get(job)
        if record and record.get("state") == "INACTIVE" and not record.get("success"):
            return job
    return None


# -- status ---------------------------------------------------------------------------


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _marker(layout: Layout, task_id: str, index: int) -> dict[str, Any]:
    text = _read(layout.marker(task_id, index)) or ""
    out: dict[str, Any] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("start", "end"):
            out[parts[0]] = parts[1]
            if len(parts) >= 3:
                try:
                    out[parts[0] + "_time"] = float(parts[2])
                except ValueError:
                    pass
    return out


def _group_record(layout: Layout, group_id: str) -> tuple[dict[str, list[int]], dict[str, str]]:
    jobs: dict[str, list[int]] = {}
    never: dict[str, str] = {}
    for line in (_read(layout.group_record(group_id)) or "").splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0] == "job":
            try:
                jobs.setdefault(parts[1], []).append(parse_jobid(parts[2]))
            except ValueError:
                continue
        elif len(parts) == 3 and parts[0] == "never":
            never[parts[1]] = parts[2]
    # The order of ids printed by flux submit --cc is not the index order (measured): this
    # list is only used for instances that never started (no marker naming their job), and
    # those share one fate (a dependency failed, or the group was cancelled).
    for key in jobs:
        jobs[key].sort()
    return jobs, never


def _group_dump(layout: Layout, group_id: str) -> dict[int, dict[str, Any]] | None:
    text = _read(layout.group_dump(group_id))
    if text is None:
        return None
    try:
        return {int(job["id"]): job for job in json.loads(text).get("jobs", [])}
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


class _GroupFiles:
    """The record and dump of each group, read at most once per status call."""

    def __init__(self, layout: Layout):
        self.layout = layout
        self._records: dict[str, tuple[dict[str, list[int]], dict[str, str]]] = {}
        self._dumps: dict[str, dict[int, dict[str, Any]] | None] = {}

    def record(self, group_id: str) -> tuple[dict[str, list[int]], dict[str, str]]:
        if group_id not in self._records:
            self._records[group_id] = _group_record(self.layout, group_id)
        return self._records[group_id]

    def dump(self, group_id: str) -> dict[int, dict[str, Any]] | None:
        if group_id not in self._dumps:
            self._dumps[group_id] = _group_dump(self.layout, group_id)
        return self._dumps[group_id]


def _inner_status(handle: TaskHandle, top: TaskStatus, files: _GroupFiles) -> TaskStatus:
    layout = files.layout
    parent = handle.data["parent"]
    marker = _marker(layout, handle.task_id, handle.index)
    started = marker.get("start_time")
    if "end" in marker:
        rc = int(marker["end"]) if marker["end"].lstrip("-").isdigit() else None
        state = TaskState.COMPLETED if rc == 0 else TaskState.FAILED
        return TaskStatus(state, rc, None, started, marker.get("end_time"))
    jobs, never = files.record(parent)
    if handle.task_id in never:
        reason = never[handle.task_id]
        if "dependency" in reason.lower() or "never ran" in reason or "did not succeed" in reason:
            return TaskStatus(TaskState.NEVER_RUN, reason=reason)
        return TaskStatus(TaskState.FAILED, reason=f"Flux refused the submission: {reason}")
    dump = files.dump(parent)
    if dump is not None:
        job = None
        if "start" in marker:
            try:
                job = parse_jobid(marker["start"])
            except ValueError:
                job = None
        if job is None:
            mine = jobs.get(handle.task_id, [])
            job = mine[handle.index] if handle.index < len(mine) else None
        if job is not None and job in dump:
            return status_from_record(dump[job])
    if not top.state.terminal:
        return TaskStatus(
            TaskState.RUNNING if "start" in marker else TaskState.PENDING, started_at=started
        )
    if top.state is TaskState.TIMEOUT and not started:
        # The group's time limit ended it before this task started (it waited for a
        # dependency, or for room): like on every other backend, it never ran.
        return TaskStatus(
            TaskState.NEVER_RUN,
            reason=f"its group ended before it started: {top.reason or top.state.value}",
        )
    if top.state is TaskState.FAILED and not top.started_at:
        # The group's allocation was refused (an unsatisfiable request): nothing in it ran.
        return TaskStatus(
            TaskState.FAILED,
            reason=f"its group could not start: {top.reason or 'the group job failed'}",
        )
    if top.state in (TaskState.TIMEOUT, TaskState.CANCELLED, TaskState.NEVER_RUN):
        return TaskStatus(
            top.state,
            None,
            f"its group ended: {top.reason or top.state.value}",
            started,
            top.finished_at if started else None,
        )
    return TaskStatus(
        TaskState.LOST, reason="its group ended without recording this task", started_at=started
    )


def run_status(
    handles: Sequence[TaskHandle], context: RunContext, driver: Driver
) -> dict[tuple[str, int], TaskStatus]:
    """Status of every handle, with one query to Flux for all top-level jobs."""
    layout = Layout(context.run_dir)
    ids = sorted({int(h.native_id) for h in handles if h.native_id})
    records = driver.query(ids) if ids else {}
    tops: dict[int, TaskStatus] = {}
    for job in ids:
        record = records.get(job)
        tops[job] = (
            status_from_record(record)
            if record
            else TaskStatus(TaskState.LOST, reason=f"Flux no longer knows job {job}")
        )
    out: dict[tuple[str, int], TaskStatus] = {}
    files = _GroupFiles(layout)
    for handle in handles:
        kind = handle.data.get("kind")
        if kind == "never" or not handle.native_id:
            out[handle.key] = TaskStatus(TaskState.NEVER_RUN, reason=handle.data.get("reason"))
        elif kind == "inner":
            out[handle.key] = _inner_status(handle, tops[int(handle.native_id)], files)
        else:
            out[handle.key] = tops[int(handle.native_id)]
    return out


def cancel_run(handles: Sequence[TaskHandle], context: RunContext, driver: Driver) -> None:
    """Cancel the top-level jobs of ``handles`` that are still active (a task inside a group
    is cancelled with its whole group)."""
    ids = sorted({int(h.native_id) for h in handles if h.native_id})
    if not ids:
        return
    records = driver.query(ids)
    active = [job for job in ids if records.get(job, {}).get("state") not in (None, "INACTIVE")]
    if active:
        driver.cancel(active)
