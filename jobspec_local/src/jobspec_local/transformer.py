"""The ``local`` transformer: this machine, real processes, no scheduler.

* ``render`` writes ``local-plan.json`` for the supervisor (see :mod:`jobspec_local.layout`)
  and one unit per top-level node (a task: its exact argv; a group: an allocation run by
  the supervisor). A request over this machine's capacity renders with a note, and
  ``submit`` refuses it (:class:`~jobspec_local.layout.CapacityError`, exit code 2)
  before anything runs.
* ``submit`` starts the detached supervisor and waits until it reports ready; the handles'
  native ids are ``local:<supervisor pid>:<task id>:<index>``.
* ``status`` replays ``events.jsonl`` and checks recorded pids with their start times, so
  it tells the truth after the supervisor is gone: an instance whose process still runs is
  ``running``; one whose process is gone with no recorded end is ``lost``; one never
  started by a supervisor that is gone is ``never_run``.
* ``cancel`` sends SIGTERM to the supervisor (which stops everything and records it); if the
  supervisor is gone, it kills the recorded process groups itself and records them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from jobspec_core.alternatives import Capacity as Alloc
from jobspec_core.errors import SubmitError
from jobspec_core.features import FEATURES
from jobspec_core.ordering import submission_order
from jobspec_core.plan import Plan, PlanTask
from jobspec_core.transformer import (
    RenderedFile,
    RunContext,
    Submission,
    SubmissionUnit,
    TaskHandle,
    TaskState,
    TaskStatus,
    Transformer,
)

from .events import EVENTS_FILE, EventLog, append_events
from .layout import Capacity, CapacityError, build_spec, log_name, machine_capacity
from .procinfo import alive, kill_group

__all__ = ["LocalTransformer", "SPEC_FILE"]

SPEC_FILE = "local-plan.json"


def _supervisor_argv(run_dir: Path) -> list[str]:
    return [sys.executable, "-P", "-m", "jobspec_local.supervisor", str(run_dir)]


class LocalTransformer(Transformer):
    """Runs a plan on this machine with real processes (the embedded default)."""

    name = "local"
    description = "this machine: real processes, dependencies, replicas, a core budget"
    capabilities = frozenset(FEATURES)
    poll_interval = 0.05
    #: the event log is cheap to read: poll every 5 ms at first (growing to poll_interval)
    first_poll_interval = 0.005

    def __init__(self) -> None:
        self._logs: dict[str, EventLog] = {}

    # -- render ---------------------------------------------------------------------
    def capacity(self, plan: Plan, context: RunContext) -> Alloc:
        """This machine, one host: the ``cores`` / ``gpus`` options, else the environment,
        else what the machine has (see :func:`~jobspec_local.layout.machine_capacity`)."""
        budget = machine_capacity(context.options)
        return Alloc(cores_per_node=budget.cores, gpus_per_node=budget.gpus, single_host=True)

    def render(self, plan: Plan, context: RunContext) -> Submission:
        given = context.capacity
        if given is None:
            capacity = machine_capacity(context.options)
        else:
            capacity = Capacity(given.cores_per_node, given.gpus_per_node)
        spec = build_spec(plan, context, capacity)
        submission = Submission(self.name)
        submission.files[SPEC_FILE] = RenderedFile(_spec_text(spec))
        for node in submission_order(plan.children):
            if isinstance(node, PlanTask):
                unit = SubmissionUnit(
                    node.id,
                    "jobs",
                    list(node.command),
                    depends_on=list(node.depends_on),
                    instances=node.replicas,
                )
            else:
                count = sum(t.replicas for t in _tasks_under(node))
                unit = SubmissionUnit(
                    node.id, "allocation", [], depends_on=list(node.depends_on), instances=count
                )
            submission.units.append(unit)
        submission.notes.append(
            f"run by: {' '.join(_supervisor_argv(context.run_dir))} "
            f"(capacity {capacity.cores} cores, {capacity.gpus} gpus)"
        )
        submission.notes.extend(f"will be refused: {p}" for p in spec["problems"])
        return submission

    # -- submit ---------------------------------------------------------------------
    def submit(self, plan: Plan, submission: Submission, context: RunContext) -> list[TaskHandle]:
        spec = json.loads(submission.files[SPEC_FILE].content)
        if spec["problems"]:
            raise CapacityError("; ".join(spec["problems"]) + "; nothing was started")
        run_dir = Path(context.run_dir)
        log_path = run_dir / "supervisor.log"
        with open(log_path, "ab") as log:
            try:
                proc = subprocess.Popen(
                    _supervisor_argv(run_dir),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    cwd=str(context.workdir),
                    # os.environ, not the C-level environment: libraries such as readline
                    # add LINES/COLUMNS behind Python's back; tasks get what Python sees.
                    env=dict(os.environ),
                    start_new_session=True,
                )
            except OSError as exc:
                raise SubmitError(f"cannot start the local supervisor: {exc}") from exc
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            raise SubmitError("the local supervisor did not start within 60 s") from exc
        fields = out.decode(errors="replace").split()
        if proc.returncode != 0 or len(fields) != 2:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
            raise SubmitError(
                "the local supervisor failed to start: " + (" | ".join(tail) or "no output")
            )
        pid, start = int(fields[0]), None if fields[1] == "None" else int(fields[1])
        handles = []
        for task in plan.tasks():
            for index in range(task.replicas):
                handles.append(
                    TaskHandle(
                        task.id,
                        index,
                        f"local:{pid}:{task.id}:{index}",
                        log=str(run_dir / log_name(task.id, index)),
                        data={"supervisor": pid, "start": start, "run_dir": str(run_dir)},
                    )
                )
        return handles

    # -- status ---------------------------------------------------------------------
    def _events(self, run_dir: Path) -> EventLog:
        key = str(run_dir)
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = EventLog(run_dir / EVENTS_FILE)
        return log.refresh()

    def status(
        self, handles: Sequence[TaskHandle], context: RunContext
    ) -> dict[tuple[str, int], TaskStatus]:
        out: dict[tuple[str, int], TaskStatus] = {}
        by_dir: dict[str, list[TaskHandle]] = {}
        for h in handles:
            by_dir.setdefault(h.data.get("run_dir") or str(context.run_dir), []).append(h)
        for run_dir, group in by_dir.items():
            events = self._events(Path(run_dir))
            first = group[0].data
            sup_pid, sup_start = events.supervisor or (first.get("supervisor"), first.get("start"))
            sup_alive = not events.done and alive(sup_pid, sup_start)
            for h in group:
                out[h.key] = self._one(h, events, sup_alive, sup_pid)
        return out

    @staticmethod
    def _one(h: TaskHandle, events: EventLog, sup_alive: bool, sup_pid: int | None) -> TaskStatus:
        ended = events.ended.get(h.key)
        if ended is not None:
            _, _, _, state, code, reason, started, finished = ended
            return TaskStatus(TaskState(state), code, reason, started, finished)
        started = events.started.get(h.key)
        if started is not None:
            pid, pstart, t0 = started
            if sup_alive or alive(pid, pstart):
                return TaskStatus(TaskState.RUNNING, started_at=t0)
            return TaskStatus(
                TaskState.LOST,
                reason=f"process {pid} is gone and its supervisor (pid {sup_pid}) died before "
                "recording how it ended",
                started_at=t0,
            )
        if sup_alive:
            return TaskStatus(TaskState.PENDING)
        return TaskStatus(
            TaskState.NEVER_RUN, reason=f"not started: the supervisor (pid {sup_pid}) is gone"
        )

    # -- cancel ---------------------------------------------------------------------
    def cancel(self, handles: Sequence[TaskHandle], context: RunContext) -> None:
        by_dir: dict[str, list[TaskHandle]] = {}
        for h in handles:
            by_dir.setdefault(h.data.get("run_dir") or str(context.run_dir), []).append(h)
        for run_dir, group in by_dir.items():
            events = self._events(Path(run_dir))
            first = group[0].data
            sup_pid, sup_start = events.supervisor or (first.get("supervisor"), first.get("start"))
            if not events.done and alive(sup_pid, sup_start):
                try:
                    os.kill(sup_pid, signal.SIGTERM)
                    continue
                except ProcessLookupError:
                    pass
            self._cancel_orphans(Path(run_dir), group, events)

    def _cancel_orphans(self, run_dir: Path, handles: list[TaskHandle], events: EventLog) -> None:
        """The supervisor is gone: stop the processes it left and record them cancelled."""
        now = time.time()
        killed, records = [], []
        for h in handles:
            if h.key in events.ended:
                continue
            started = events.started.get(h.key)
            if started and alive(started[0], started[1]):
                kill_group(started[0], signal.SIGTERM)
                killed.append(started)
                records.append(
                    [
                        "E",
                        h.task_id,
                        h.index,
                        "cancelled",
                        None,
                        "run cancelled (its supervisor was gone)",
                        started[2],
                        now,
                    ]
                )
        deadline = time.monotonic() + 1.0
        while killed and time.monotonic() < deadline:
            killed = [s for s in killed if alive(s[0], s[1])]
            time.sleep(0.02)
        for s in killed:
            kill_group(s[0], signal.SIGKILL)
        append_events(run_dir / EVENTS_FILE, records)


def _spec_text(spec: dict) -> str:
    """Indented for people (``jobspec transform``) when small; compact when large, where
    the pure-Python indenting encoder would cost a tenth of a second per thousand tasks."""
    if len(spec["nodes"]) <= 200:
        return json.dumps(spec, indent=1, ensure_ascii=False) + "\n"
    return json.dumps(spec, ensure_ascii=False) + "\n"


def _tasks_under(group) -> list[PlanTask]:
    out: list[PlanTask] = []
    for child in group.children:
        if isinstance(child, PlanTask):
            out.append(child)
        else:
            out.extend(_tasks_under(child))
    return out
