"""Checking run-mode expectations against what the run recorded and what tasks reported.

Two sources, never mixed up: the task records of the run (state, exit code, times, log; what
the transformer's ``status`` said) and the probes (what each task instance saw, written by
the task itself; see :mod:`jobspec_conformance.observe`). Ordering is judged from the probes
alone (which instances had ended when another started), so clocks and scheduler timestamps
play no part.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobspec_core.plan import Plan, PlanGroup, PlanTask

from .observe import Probe, probe_key
from .outcome import Mismatch

__all__ = ["Observed", "check_run", "describe_record"]


@dataclass
class Observed:
    """Everything one run left behind.

    :ivar records: the runner's task records (``task_id``, ``index``, ``state``, ...).
    :ivar probes: probe key (``task@index``) -> what that instance reported.
    """

    run_id: str
    records: list[Any]
    probes: dict[str, Probe]
    workdir: Path
    results: Path


def _state(record: Any) -> str:
    state = record.state
    return getattr(state, "value", str(state))


def describe_record(record: Any) -> str:
    """``b@0: never_run (exit code -, reason: dependency a failed)``."""
    code = "-" if record.exit_code is None else record.exit_code
    text = f"{record.task_id}@{record.index}: {_state(record)} (exit code {code}"
    if getattr(record, "reason", None):
        text += f", reason: {record.reason}"
    return text + ")"


def _instances_of(plan: Plan, node_id: str) -> list[str] | None:
    """Probe keys of every task instance under ``node_id`` (a task or a group); ``None``
    when the plan has no such node."""
    try:
        node = plan.node(node_id)
    except KeyError:
        return None
    tasks: Iterable[PlanTask]
    if isinstance(node, PlanGroup):
        tasks = [n for n, _ in _walk(node) if isinstance(n, PlanTask)]
    else:
        tasks = [node]
    return [probe_key(t.id, i) for t in tasks for i in range(t.replicas)]


def _walk(group: PlanGroup):
    for child in group.children:
        yield child, group
        if isinstance(child, PlanGroup):
            yield from _walk(child)


def _accepted(state: str | list[str]) -> list[str]:
    """The final states a case accepts: one state, or a list of them."""
    return [state] if isinstance(state, str) else list(state)


def _quote(value: str | None) -> str:
    return "(not set / absent)" if value is None else repr(value)


class _Checker:
    def __init__(self, plan: Plan, observed: Observed, expect: dict[str, Any], slack: float):
        self.plan = plan
        self.observed = observed
        self.expect = expect
        self.slack = slack
        self.out: list[Mismatch] = []
        self.by_task: dict[str, list[Any]] = {}
        for record in observed.records:
            self.by_task.setdefault(record.task_id, []).append(record)
        for records in self.by_task.values():
            records.sort(key=lambda r: r.index)

    def add(self, subject: str, expected: str, seen: str) -> None:
        self.out.append(Mismatch(subject, expected, seen))

    def task_probes(self, task: PlanTask) -> list[Probe]:
        return [p for p in self.observed.probes.values() if p.task == task.id]

    def run(self) -> list[Mismatch]:
        known = {t.id for t in self.plan.tasks()}
        expected_tasks = self.expect.get("tasks") or {}
        for name in expected_tasks:
            if name not in known:
                self.add(
                    f"task {name}",
                    "a task id of the plan (the case names a task that does not exist)",
                    "plan tasks: " + ", ".join(sorted(known)),
                )
        for task in self.plan.tasks():
            self.check_task(task, expected_tasks.get(task.id) or {})
        self.check_strays(known)
        for before, after in self.expect.get("order") or []:
            self.check_order(before, after)
        for first, second in self.expect.get("concurrent") or []:
            self.check_concurrent(first, second)
        return self.out

    # -- one task ------------------------------------------------------------------------
    def check_task(self, task: PlanTask, exp: dict[str, Any]) -> None:
        tid = task.id
        records = self.by_task.get(tid, [])
        count = exp.get("instances", task.replicas)
        if len(records) != count:
            self.add(
                f"task {tid}: instances recorded by the run",
                f"{count} (indices 0..{count - 1})",
                f"{len(records)}: indices {[r.index for r in records]}",
            )
        state = _accepted(exp.get("state", self.expect.get("default_state", "completed")))
        by_index = {int(i): _accepted(s) for i, s in (exp.get("index_states") or {}).items()}
        for index in sorted(set(by_index) - {r.index for r in records}):
            self.add(
                f"task {tid}@{index}: final state",
                " or ".join(by_index[index]),
                "no such instance recorded (index_states names an index the run lacks)",
            )
        for record in records:
            wanted = by_index.get(record.index, state)
            if _state(record) not in wanted:
                self.add(
                    f"task {tid}@{record.index}: final state",
                    " or ".join(wanted),
                    describe_record(record),
                )
            if exp.get("with_reason") and not (getattr(record, "reason", None) or "").strip():
                self.add(
                    f"task {tid}@{record.index}: reason",
                    "the record says why the instance did not succeed (a non-empty reason)",
                    describe_record(record),
                )
            if "exit_code" in exp and record.exit_code != exp["exit_code"]:
                self.add(
                    f"task {tid}@{record.index}: exit code",
                    str(exp["exit_code"]),
                    describe_record(record),
                )
            if exp.get("nonzero_exit") and record.exit_code in (0, None):
                self.add(
                    f"task {tid}@{record.index}: exit code",
                    "a non-zero exit code",
                    describe_record(record),
                )
            if "max_seconds" in exp:
                self.check_elapsed(tid, record, exp["max_seconds"])
            if "output_contains" in exp:
                self.check_output(tid, record, exp["output_contains"])
        self.check_probes(task, exp, set(state).union(*by_index.values()))

    def check_elapsed(self, tid: str, record: Any, limit: float) -> None:
        start, end = record.started_at, record.finished_at
        allowed = limit + self.slack
        if start is None or end is None:
            self.add(
                f"task {tid}@{record.index}: run time",
                f"at most {allowed:g} s between start and end",
                f"the run recorded no start or end time (started_at={start}, finished_at={end})",
            )
        elif end - start > allowed:
            self.add(
                f"task {tid}@{record.index}: run time",
                f"at most {limit:g} s (+{self.slack:g} s tolerance)",
                f"{end - start:.1f} s",
            )

    def check_output(self, tid: str, record: Any, needles: list[str]) -> None:
        log = getattr(record, "log", None)
        if not log or not Path(log).is_file():
            self.add(
                f"task {tid}@{record.index}: output",
                "a log file holding the task's output",
                f"log = {log!r} (no such file)",
            )
            return
        text = Path(log).read_bytes().decode("utf-8", errors="replace")
        for needle in needles:
            if needle not in text:
                shown = text if len(text) < 400 else text[:400] + "..."
                self.add(
                    f"task {tid}@{record.index}: output",
                    f"contains {needle!r}",
                    f"{log}: {shown!r}",
                )

    def check_probes(self, task: PlanTask, exp: dict[str, Any], states: set[str]) -> None:
        """``states``: every final state the case accepts for some instance of the task."""
        tid = task.id
        probes = self.task_probes(task)
        ran_expected = exp.get("ran")
        if ran_expected is None and states == {"never_run"}:
            ran_expected = False
        elif ran_expected is None and "probe.sh" in " ".join(task.command):
            # a task whose command calls the probe and that started must have reported
            ran_expected = states <= {"completed", "failed", "timeout"} or None
        if ran_expected is False and probes:
            self.add(
                f"task {tid}: started",
                "never started (no instance reported)",
                "started: " + ", ".join(sorted(p.key for p in probes)),
            )
        needs_probe = any(k in exp for k in ("indices", "env", "cwd", "files", "argv"))
        if (ran_expected or needs_probe) and not probes:
            self.add(
                f"task {tid}: report",
                "each instance writes its report through probe.sh "
                "(found by JOBSPEC_TASK_NAME and JOBSPEC_TASK_INDEX)",
                "no report from any instance of this task: it did not run, or the portable "
                "variables were missing or wrong; reports found: "
                + (", ".join(sorted(self.observed.probes)) or "(none)"),
            )
            return
        if "indices" in exp:
            seen = sorted(p.index for p in probes)
            want = sorted(str(i) for i in exp["indices"])
            if seen != want:
                self.add(f"task {tid}: JOBSPEC_TASK_INDEX seen by instances", str(want), str(seen))
        if "finished" in exp:
            for probe in probes:
                if probe.finished != exp["finished"]:
                    self.add(
                        f"task {probe.key}: reached the end of its command",
                        "yes" if exp["finished"] else "no (stopped before the end)",
                        "yes" if probe.finished else "no",
                    )
        for probe in probes:
            if probe.duplicate:
                self.add(
                    f"task {probe.key}: instances",
                    "each index started once",
                    "two instances reported the same task name and index",
                )
            for name, value in (exp.get("env") or {}).items():
                if name not in probe.env:
                    self.add(
                        f"task {probe.key}: environment variable {name}",
                        _quote(value),
                        "not recorded (the command does not pass it to probe.sh env)",
                    )
                elif probe.env[name] != value:
                    self.add(
                        f"task {probe.key}: environment variable {name}",
                        _quote(value),
                        _quote(probe.env[name]),
                    )
            if "cwd" in exp:
                want = str(Path(exp["cwd"]).resolve())
                if probe.cwd != want:
                    self.add(f"task {probe.key}: working directory", want, _quote(probe.cwd))
            for name, content in (exp.get("files") or {}).items():
                if name not in probe.files:
                    self.add(
                        f"task {probe.key}: file {name}",
                        _quote(content),
                        "not recorded (the command does not pass it to probe.sh file)",
                    )
                elif probe.files[name] != content:
                    self.add(
                        f"task {probe.key}: file {name} where the task runs",
                        _quote(content),
                        _quote(probe.files[name]),
                    )
            if "argv" in exp and probe.argv != exp["argv"]:
                self.add(f"task {probe.key}: arguments", repr(exp["argv"]), repr(probe.argv))

    def check_strays(self, known: set[str]) -> None:
        valid = {probe_key(t.id, i) for t in self.plan.tasks() for i in range(t.replicas)}
        for key, probe in sorted(self.observed.probes.items()):
            if key not in valid:
                self.add(
                    f"report {key}",
                    "a report named by a task id of the plan and an index below its replicas "
                    "(JOBSPEC_TASK_NAME / JOBSPEC_TASK_INDEX)",
                    f"JOBSPEC_TASK_NAME={probe.task!r}, JOBSPEC_TASK_INDEX={probe.index!r}; "
                    f"valid: {', '.join(sorted(valid))}",
                )

    # -- between tasks -------------------------------------------------------------------
    def check_order(self, before: str, after: str) -> None:
        first = _instances_of(self.plan, before)
        second = _instances_of(self.plan, after)
        if first is None or second is None:
            self.add(f"order {before} -> {after}", "node ids of the plan", "unknown node id")
            return
        for key in second:
            probe = self.observed.probes.get(key)
            if probe is None:
                self.add(
                    f"order {before} -> {after}",
                    f"{key} starts after every instance of {before} has ended",
                    f"{key} never reported starting",
                )
                continue
            missing = [k for k in first if k not in probe.ended_before_start]
            if missing:
                self.add(
                    f"order {before} -> {after}",
                    f"{key} starts after every instance of {before} has ended",
                    f"{key} started while {', '.join(missing)} had not ended",
                )

    def check_concurrent(self, first: str, second: str) -> None:
        probe = self.observed.probes.get(probe_key(first, 0))
        subject = f"concurrency {first} | {second}"
        expected = f"{second} starts while {first} is still running (probe: await {second})"
        if probe is None:
            self.add(subject, expected, f"{first}@0 never reported starting")
        elif second not in probe.awaited:
            self.add(subject, expected, f"{first}@0 did not wait for {second} (case error)")
        elif not probe.awaited[second]:
            self.add(subject, expected, f"{second} had not started when {first}@0 stopped waiting")


def check_run(
    plan: Plan, observed: Observed, expect: dict[str, Any], slack: float
) -> list[Mismatch]:
    """Every run-mode expectation of a case that does not hold (``[]`` when all do).

    Unless ``expect`` says otherwise, every task instance must end ``completed``
    (``default_state``) and the run must record exactly ``replicas`` instances of each task.
    """
    return _Checker(plan, observed, expect, slack).run()
