""":class:`BatchTransformer`: a whole transformer for a batch scheduler, given its vocabulary.

A site writes a :class:`~jobspec_core.batch.scheduler.Scheduler` (usually a
:class:`~jobspec_core.batch.scheduler.BaseScheduler` subclass) and a subclass of this class
naming it; nothing else::

    class MysiteTransformer(BatchTransformer):
        name = "mysite"
        scheduler = GridEngine()

What the layer does with it:

* ``render``: one job script and one submit command per top-level node
  (:mod:`~jobspec_core.batch.render`); the private structure travels in
  ``Submission.data``. ``write`` steps are the runner's
  (:func:`~jobspec_core.workdirs.carry_out_writes`, before ``submit``).
* ``submit``: the validation command on every unit first (if the scheduler has one and its
  submit command does not validate by itself), then the units in order, ``{id:NODE}``
  filled with the ids already captured; one handle per task instance (an array element's
  handle names the element). A failure part-way cancels what was submitted and raises
  :class:`~jobspec_core.errors.SubmitError` with it (a scheduler whose submit command
  validates says it refuses the node, with its reason).
* ``status``: one status query for every job, accounting for jobs that left the queue
  before recording every instance's end (per array element where it says), the
  explanation of a job in an error state, and the per-instance records
  (:mod:`~jobspec_core.batch.records`); see :meth:`BatchTransformer.status`.
* ``cancel``: marks the unfinished instances cancelled, then one cancel command.
* ``wait`` is the core's one wait loop.

Every scheduler command goes through :meth:`BatchTransformer.command_runner` (local by
default). Commands can be overridden without code, per verb (``submit``, ``status``,
``cancel``, ``accounting``, ``explain``, ``validate``): the run option of that name, else
the environment variable ``JOBSPEC_<NAME>_<VERB>`` (a command line split like a shell;
empty disables ``accounting``, ``explain`` and ``validate``). ``JOBSPEC_<NAME>_SCHEDULER`` (or the option
``scheduler``) is ``native`` (the real commands) or ``local`` (the stand-in scheduler of
:mod:`jobspec_core.batch.standin`, for trying and testing on any machine).

A remote run (:mod:`jobspec_core.remote`) runs the commands on the remote host: only the
run options override them there (the environment variables name this machine's
programs), and the stand-in scheduler is not available. The layer reads and writes its
records at :func:`~jobspec_core.remote.local_path` of their paths; each status query
brings the remote records back with the answer (one remote command per poll).
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from ..alternatives import Capacity
from ..capabilities import check_capabilities
from ..errors import BackendError, JobspecError, SubmitError
from ..features import FEATURES
from ..ordering import fill_placeholders
from ..plan import Plan
from ..remote import is_remote, local_path, runner_for
from ..transformer import (
    RunContext,
    Submission,
    TaskHandle,
    TaskState,
    TaskStatus,
    Transformer,
    report_submitted,
)
from .commands import DEFAULT_TIMEOUT, CommandResult, CommandRunner, run_collecting
from .follow import instance_status
from .records import InstanceRecords, logs_dir, records_dir
from .render import render_submission, unit_plans
from .scheduler import JobState, NativeStatus, Scheduler
from .standin import standin_faults

__all__ = ["BatchTransformer", "STANDIN"]

#: The stand-in scheduler's command prefix (``local`` mode).
STANDIN = [sys.executable, "-m", "jobspec_core.batch.standin"]
_VERBS = ("submit", "status", "cancel", "accounting", "explain", "validate")
_OPTIONAL = ("accounting", "explain", "validate")
#: the verbs a run's handles remember, so that another process follows the same scheduler
_FOLLOW = ("status", "cancel", "accounting", "explain")


class BatchTransformer(Transformer):
    """A transformer for a batch scheduler: subclasses set :attr:`name` and
    :attr:`scheduler` (see the module docstring)."""

    #: the scheduler's vocabulary (an instance).
    scheduler: ClassVar[Scheduler]
    capabilities: ClassVar[frozenset[str]] = frozenset(FEATURES)
    array_submissions: ClassVar[bool] = True
    #: seconds between two status queries against the real scheduler (be kind to it).
    poll_interval: ClassVar[float] = 5.0
    first_poll_interval: ClassVar[float | None] = 1.0
    #: seconds between two status queries against the stand-in scheduler.
    local_poll_interval: ClassVar[float] = 0.2
    #: ``native`` or ``local`` when neither the option nor the variable says.
    default_mode: ClassVar[str] = "native"
    #: the command shapes the stand-in scheduler speaks in ``local`` mode (``generic``,
    #: ``pbs``, ``lsf``, ``sge``: :mod:`jobspec_core.batch.standin`); ``None``: no local mode.
    standin: ClassVar[str | None] = None
    #: prefix of the override variables (default ``JOBSPEC_<NAME>``: never the scheduler's
    #: own namespace, such as ``SGE_*``).
    env_prefix: ClassVar[str | None] = None
    #: seconds a scheduler command may take before it counts as unreachable.
    command_timeout: ClassVar[float] = DEFAULT_TIMEOUT
    #: seconds a job the scheduler reports finished may take to show its instances' end
    #: records (a shared file system's caches) before they count as never recorded.
    record_grace: ClassVar[float] = 10.0
    #: the faults the conformance suite's fault cases ask for (``delete_behind``,
    #: ``force_error``, ``limit_behind``), caused on the stand-in in ``local`` mode. A
    #: backend offers native ones through the ``jobspec_conformance.faults`` entry point.
    conformance_faults = staticmethod(standin_faults)
    #: every command goes through :meth:`command_runner`: ``--remote`` works
    remote: ClassVar[bool] = True
    #: each job's handles are reported (report_submitted) as soon as it is accepted
    records_submissions: ClassVar[bool] = True

    # -- configuration ---------------------------------------------------------------
    @classmethod
    def variable_prefix(cls) -> str:
        return cls.env_prefix or "JOBSPEC_" + cls.name.upper().replace("-", "_")

    def scheduler_mode(self, context: RunContext | None = None) -> str:
        """``local`` or ``native``: the run option ``scheduler``, else
        ``JOBSPEC_<NAME>_SCHEDULER``, else :attr:`default_mode`."""
        options = context.options if context is not None else {}
        var = f"{self.variable_prefix()}_SCHEDULER"
        if is_remote(options):
            if options.get("scheduler", "native") != "native":
                raise BackendError(
                    f"{self.name}: the stand-in scheduler (scheduler=local) cannot run on a "
                    "remote host: a remote run uses the real commands"
                )
            return "native"
        mode = options.get("scheduler") or os.environ.get(var) or self.default_mode
        if mode not in ("local", "native"):
            raise BackendError(
                f"{var} (or option scheduler) is {mode!r}: expected 'local' (the stand-in "
                "scheduler on this machine) or 'native' (the real commands)"
            )
        return mode

    def commands(self, context: RunContext | None = None) -> dict[str, list[str] | None]:
        """Each verb's command for this run (see the module docstring); ``None`` for an
        optional one the scheduler lacks or that is disabled."""
        options = context.options if context is not None else {}
        stand_in = []
        if self.scheduler_mode(context) == "local":
            if self.standin is None:
                raise BackendError(f"{self.name} has no stand-in scheduler (local mode)")
            stand_in = [*STANDIN, "--kind", self.standin]
        out: dict[str, list[str] | None] = {}
        environ = {} if is_remote(options) else os.environ
        for verb in _VERBS:
            var = f"{self.variable_prefix()}_{verb.upper()}"
            text = options.get(verb, environ.get(var))
            if text is not None:
                words = shlex.split(text)
            else:
                native = getattr(self.scheduler, f"{verb}_command")
                words = stand_in + list(native) if native else []
            if not words and verb not in _OPTIONAL:
                raise BackendError(f"{self.name}: the {verb} command is empty ({var})")
            out[verb] = words or None
        return out

    def command_runner(self, context: RunContext) -> CommandRunner:
        """The runner of every scheduler command (the seam for remote submission): over
        SSH for a remote run, else local (:func:`jobspec_core.remote.runner_for`)."""
        return runner_for(context.options)

    def capacity(self, plan: Plan, context: RunContext) -> Capacity | None:
        return self.scheduler.largest_node()

    def poll_interval_for(self, context: RunContext) -> float:
        if self.scheduler_mode(context) == "local":
            return self.local_poll_interval
        return self.poll_interval

    def _run(
        self,
        verb: str,
        argv: Sequence[str],
        context: RunContext,
        stdin: bytes | None = None,
        collect: Path | None = None,
    ) -> CommandResult:
        runner = self.command_runner(context)
        try:
            if collect is not None:
                return run_collecting(
                    runner,
                    argv,
                    collect,
                    cwd=Path(context.run_dir),
                    stdin=stdin,
                    timeout=self.command_timeout,
                )
            return runner.run(
                argv, cwd=Path(context.run_dir), stdin=stdin, timeout=self.command_timeout
            )
        except BackendError as exc:
            raise BackendError(
                f"{self.name}: the {verb} command failed: {exc} "
                f"(set {self.variable_prefix()}_{verb.upper()} or the scheduler's {verb}_command)"
            ) from exc

    # -- render and submit -----------------------------------------------------------
    def render(self, plan: Plan, context: RunContext) -> Submission:
        check_capabilities(plan, self, nothing_was="rendered")
        capacity = (
            context.capacity if context.capacity is not None else self.capacity(plan, context)
        )
        return render_submission(
            plan,
            context,
            name=self.name,
            scheduler=self.scheduler,
            commands=self.commands(context),
            capacity=capacity,
        )

    def submit(self, plan: Plan, submission: Submission, context: RunContext) -> list[TaskHandle]:
        plans = unit_plans(submission)
        reach = {v: c for v, c in self.commands(context).items() if v in _FOLLOW}
        records, logs = records_dir(context.run_dir), logs_dir(context.run_dir)
        local_path(records).mkdir(parents=True, exist_ok=True)
        local_path(logs).mkdir(parents=True, exist_ok=True)

        def stdin_of(unit) -> bytes | None:
            if not plans[unit.node_id].stdin or unit.script is None:
                return None
            return submission.files[unit.script].content.encode("utf-8")

        for unit in submission.units:  # nothing is submitted unless every job would be taken
            check = plans[unit.node_id].validate
            if check:
                result = self._run("validate", check, context, stdin_of(unit))
                if result.returncode != 0:
                    raise SubmitError(
                        f"{self.name}: {self.scheduler.name} refuses {unit.node_id}; nothing "
                        f"was submitted: {result.describe()}",
                        [],
                    )
        ids: dict[str, str] = {}
        handles: list[TaskHandle] = []
        for unit in submission.units:
            try:
                argv = fill_placeholders(unit.argv, ids)
                result = self._run("submit", argv, context, stdin_of(unit))
                if result.returncode != 0:
                    raise BackendError(result.describe())
                job_id = self.scheduler.parse_submit(result)
            except (JobspecError, ValueError) as exc:
                self.cancel(handles, context)
                raise SubmitError(self._refusal(unit.node_id, len(ids), exc), handles) from exc
            ids[unit.node_id] = job_id
            up = plans[unit.node_id]
            first = len(handles)
            for task in up.tasks:
                for index in range(task.replicas):
                    native = job_id
                    if up.array:
                        native = self.scheduler.array_element_id(
                            job_id, self.scheduler.array_base + index
                        )
                    data: dict[str, Any] = {
                        "job": job_id,
                        "record": str(records / f"{task.slug}.{index}"),
                        "after": task.after,
                        "duration": task.duration,
                        "commands": reach,
                    }
                    handles.append(
                        TaskHandle(
                            task.id, index, native, str(logs / f"{task.slug}.{index}.out"), data
                        )
                    )
            report_submitted(context, handles[first:])  # recorded now: none is lost
        return handles

    def _refusal(self, node_id: str, submitted: int, exc: Exception) -> str:
        before = (
            "nothing was submitted"
            if not submitted
            else f"the {submitted} job(s) submitted before it were cancelled"
        )
        if self.scheduler.submit_validates:
            return f"{self.name}: {self.scheduler.name} refuses {node_id}; {before}: {exc}"
        return f"{self.name}: submitting {node_id} failed; {before}: {exc}"

    # -- following -------------------------------------------------------------------
    @staticmethod
    def _recorded(verb: str, handles: Sequence[TaskHandle]) -> list[str] | None:
        for handle in handles:
            commands = handle.data.get("commands", {})
            if verb in commands:
                return list(commands[verb]) if commands[verb] else None
        return None

    def _command(self, verb: str, handles: Sequence[TaskHandle], context: RunContext):
        """The command recorded in the handles at submission, else the current one."""
        recorded = self._recorded(verb, handles)
        return recorded if recorded is not None else self.commands(context)[verb]

    def _queue(self, job_ids, handles, context) -> dict[str, NativeStatus]:
        argv = self.scheduler.status_argv(self._command("status", handles, context), job_ids)
        result = self._run("status", argv, context, collect=records_dir(context.run_dir))
        try:
            return self.scheduler.parse_status(result, job_ids)
        except ValueError as exc:
            raise BackendError(f"{self.name}: cannot read {shlex.join(argv)}: {exc}") from exc

    def _accounting(self, job_ids, handles, context) -> dict[str, NativeStatus]:
        command = self._command("accounting", handles, context)
        if not job_ids or not command:
            return {}
        try:
            results = [
                self._run("accounting", argv, context)
                for argv in self.scheduler.accounting_argv(command, job_ids)
            ]
            return self.scheduler.parse_accounting(results, job_ids)
        except (BackendError, ValueError):
            return {}  # accounting is a second opinion: without it, the grace decides

    def _explain(self, job_of: dict, queue: dict[str, NativeStatus], handles, context) -> None:
        """Give every job ``queue`` shows in an error state without a reason the one the
        explain command reads (best effort: without it, the state word is the reason), and
        its elements' entries likewise."""
        command = self._command("explain", handles, context)
        if not command:
            return
        for job in sorted(set(job_of.values())):
            native = queue.get(job)
            if native is None or native.state is not JobState.ERROR or native.reason:
                continue
            argv = self.scheduler.explain_argv(command, job)
            try:
                reason = self.scheduler.parse_explain(self._run("explain", argv, context), job)
            except (BackendError, ValueError):
                continue
            native.reason = reason
            for handle in handles:
                element = queue.get(handle.native_id)
                if job_of[handle.key] == job and element is not None and not element.reason:
                    if element.state is JobState.ERROR:
                        element.reason = reason

    def status(
        self, handles: Sequence[TaskHandle], context: RunContext
    ) -> dict[tuple[str, int], TaskStatus]:
        """One status query for every job (and accounting for jobs that left the queue
        before recording every instance's end: an array element's own entry first, then its
        job's; the explain command for a job in an error state); then each instance as
        :func:`~jobspec_core.batch.follow.instance_status` says, dependencies first. A job
        still queued whose instances can all never run, and a job in an error state, are
        deleted."""
        if not handles:
            return {}
        job_of = {h.key: str(h.data.get("job", h.native_id)) for h in handles}
        job_ids = sorted(set(job_of.values()))
        queue = self._queue(job_ids, handles, context)
        self._explain(job_of, queue, handles, context)
        unfinished = {
            job_of[h.key] for h in handles if not self._rec(h).ended and not self._rec(h).cancelled
        }
        gone = [j for j in job_ids if j in unfinished and self._live(queue, j) is None]
        accounting = self._accounting(gone, handles, context)
        by_task: dict[str, list[TaskHandle]] = {}
        for handle in handles:
            by_task.setdefault(handle.task_id, []).append(handle)
        out: dict[tuple[str, int], TaskStatus] = {}
        delete: set[str] = set()

        def resolve(handle: TaskHandle, stack: frozenset[str]) -> TaskStatus:
            if handle.key in out:
                return out[handle.key]
            failed_dep = None
            for dep in handle.data.get("after", []):
                if dep in stack:  # cycles are refused by validation; never loop anyway
                    continue
                for other in by_task.get(dep, []):
                    dep_status = resolve(other, stack | {handle.task_id})
                    if dep_status.state.terminal and not dep_status.state.succeeded:
                        failed_dep = f"{dep}[{other.index}] ended {dep_status.state.value}"
            job = job_of[handle.key]
            native = (
                queue.get(handle.native_id)
                or self._live(queue, job)
                or accounting.get(handle.native_id)
                or accounting.get(job)
            )
            status = self._instance(handle, job, native, failed_dep, delete)
            out[handle.key] = status
            return status

        for handle in handles:
            resolve(handle, frozenset())
        for job in job_ids:  # a dependent of a failure still queued: never run, deleted
            mine = [h for h in handles if job_of[h.key] == job]
            native = queue.get(job)
            waiting = native is not None and native.state in (JobState.PENDING, JobState.HELD)
            if waiting and all(out[h.key].state is TaskState.NEVER_RUN for h in mine):
                for h in mine:
                    out[h.key] = self._rec(h).decide(out[h.key])
                delete.add(job)
        self._cancel_jobs(sorted(delete), handles, context)
        return out

    @staticmethod
    def _rec(handle: TaskHandle) -> InstanceRecords:
        return InstanceRecords(handle.data["record"])

    @staticmethod
    def _live(queue: dict[str, NativeStatus], job: str) -> NativeStatus | None:
        native = queue.get(job)
        return None if native is None or native.state is JobState.UNKNOWN else native

    def _instance(
        self,
        handle: TaskHandle,
        job: str,
        native: NativeStatus | None,
        failed_dep: str | None,
        delete: set[str],
    ) -> TaskStatus:
        return instance_status(
            self._rec(handle),
            job,
            native,
            failed_dep,
            delete,
            duration=handle.data.get("duration"),
            scheduler_name=self.scheduler.name,
            lost_grace=self.scheduler.lost_grace,
            record_grace=self.record_grace,
        )

    def _cancel_jobs(self, job_ids: list[str], handles, context: RunContext) -> None:
        if job_ids:
            argv = self.scheduler.cancel_argv(self._command("cancel", handles, context), job_ids)
            self._run("cancel", argv, context)  # a job that already ended is not an error

    def cancel(self, handles: Sequence[TaskHandle], context: RunContext) -> None:
        job_ids = set()
        for handle in handles:
            rec = self._rec(handle)
            if not rec.ended:
                rec.mark_cancelled()
                job_ids.add(str(handle.data.get("job", handle.native_id)))
        self._cancel_jobs(sorted(job_ids), handles, context)
