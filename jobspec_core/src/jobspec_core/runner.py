"""The runner: check, record, render, write, submit, follow.

:class:`Runner` drives a transformer through the life of a run (see
:mod:`jobspec_core.transformer`) and keeps the run store in step:

1. ``submit``: refuse a plan that uses a feature the transformer lacks (nothing is recorded
   or submitted, :func:`~jobspec_core.capabilities.check_capabilities`), record the run and
   one row per task instance, ask the transformer's capacity, render, write the
   submission's files into the run directory, carry out the plan's ``write`` steps
   (:func:`~jobspec_core.workdirs.carry_out_writes`), submit, store the handles.
   A render error forgets the run (nothing was submitted). A
   :class:`~jobspec_core.errors.SubmitError` records the handles the transformer had
   submitted (and cancelled) as cancelled, marks the run failed and is re-raised.
2. ``status`` / ``wait`` / ``cancel`` read the handles back from the store and ask the
   transformer, so they work from another process than the submitter; every answer is
   recorded.

A remote run (its options made by :func:`jobspec_core.remote.remote_options`) is the same
life on another host: the transformer is handed the remote run directory, the local run
directory is its mirror (written, then copied over before the first command of the
submission), ``write`` steps must stay inside the remote run directory, and logs are read
over the connection. A submission that fails part-way on a remote run is also asked to
cancel jobs nobody recorded (:meth:`~jobspec_core.transformer.Transformer.cancel_run`): the
answer of a job the scheduler accepted may have been lost with the connection.

The default transformer is ``$JOBSPEC_TRANSFORMER``, else ``local``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .capabilities import check_capabilities
from .errors import (
    BackendError,
    JobspecError,
    StoreError,
    SubmitError,
    UsageError,
)
from .liveness import identity, process_alive
from .logs import log_chunks, select_instances
from .plan import Plan
from .plugins import Registry, get_registry
from .remote import (
    REMOTE,
    REMOTE_HOME,
    is_remote,
    local_path,
    register_mirror,
    remote_run_dir,
    runner_for,
)
from .store import RunRecord, RunStore, TaskRecord
from .transformer import RunContext, TaskHandle, TaskState, TaskStatus, Transformer
from .workdirs import carry_out_writes

__all__ = [
    "Runner",
    "RunStatus",
    "default_transformer",
    "TRANSFORMER_ENV",
    "PLAN_FILE",
    "SOURCE_FILE",
    "instances_of",
]

TRANSFORMER_ENV = "JOBSPEC_TRANSFORMER"
#: what a run directory keeps of the plan, so that ``jobspec graph RUN`` draws the run as
#: submitted even after its file changed: a copy of the source file (the planner is
#: deterministic, and a copy costs a millisecond where the plan as JSON costs 0.15 s per
#: 1,000 tasks), or, for a plan that has no source file, the plan as JSON
SOURCE_FILE = "jobspec-source.yaml"
PLAN_FILE = "jobspec-plan.json"


def default_transformer() -> str:
    """``$JOBSPEC_TRANSFORMER``, else ``local``."""
    return os.environ.get(TRANSFORMER_ENV) or "local"


def instances_of(plan: Plan) -> list[tuple[str, int]]:
    """Every task instance ``(task_id, index)`` of ``plan``, in plan order."""
    return [(t.id, i) for t in plan.tasks() for i in range(t.replicas)]


@dataclass
class RunStatus:
    """A run and its task instances, as last recorded."""

    run: RunRecord
    tasks: list[TaskRecord]

    @property
    def finished(self) -> bool:
        """Every instance is in a terminal state (or the run failed before submitting)."""
        if self.run.state == "failed" and not any(t.handle for t in self.tasks):
            return True
        return all(t.state.terminal for t in self.tasks)

    @property
    def succeeded(self) -> bool:
        """Finished and every instance completed."""
        return (
            self.finished
            and self.run.state != "failed"
            and all(t.state is TaskState.COMPLETED for t in self.tasks)
        )

    def counts(self) -> dict[str, int]:
        """Number of instances per state, states in :class:`TaskState` order."""
        out = {s.value: 0 for s in TaskState}
        for t in self.tasks:
            out[t.state.value] += 1
        return {k: v for k, v in out.items() if v}

    def to_dict(self) -> dict:
        return {
            "run": self.run.to_dict(),
            "finished": self.finished,
            "succeeded": self.succeeded,
            "counts": self.counts(),
            "tasks": [t.to_dict() for t in self.tasks],
        }

    @classmethod
    def from_dict(cls, data: dict) -> RunStatus:
        """The status :meth:`to_dict` gave (as a service answers it)."""
        return cls(
            RunRecord.from_dict(data["run"]), [TaskRecord.from_dict(t) for t in data["tasks"]]
        )


def _keep_plan(plan: Plan, run_dir: Path) -> None:
    """Keep what :meth:`Runner.plan_of` reads back (see :data:`SOURCE_FILE`)."""
    if plan.source:
        try:
            shutil.copyfile(plan.source, run_dir / SOURCE_FILE)
            return
        except OSError:
            pass  # gone since it was read: keep the plan itself
    (run_dir / PLAN_FILE).write_text(json.dumps(plan.to_dict()), "utf-8")


def _writes_inside(plan: Plan, context: RunContext) -> None:
    """A remote run's ``write`` steps go into its remote run directory (through the
    mirror): one outside it is refused before anything is recorded or submitted."""
    from .errors import StepError
    from .workdirs import planned_writes

    root = str(context.run_dir).rstrip("/") + "/"
    for node, _, target in planned_writes(plan, context):
        if not (str(target) + "/").startswith(root):
            raise StepError(
                f"{node.id}: a write step of a remote run must stay inside the remote run "
                f"directory {context.run_dir}, not {target} (nothing was submitted)"
            )


def _final_state(tasks: list[TaskRecord], cancelled: bool) -> str:
    if all(t.state is TaskState.COMPLETED for t in tasks):
        return "completed"
    if cancelled or any(t.state is TaskState.CANCELLED for t in tasks):
        return "cancelled"
    return "failed"


class Runner:
    """Submit plans and follow runs, recording everything in a :class:`RunStore`.

    :param store: the run store (default: :func:`~jobspec_core.store.open_store` location).
    :param registry: where transformers come from (default: the process-wide registry).
    """

    def __init__(self, store: RunStore | None = None, registry: Registry | None = None):
        self.store = store if store is not None else RunStore()
        self.registry = registry if registry is not None else get_registry()
        self._backends: dict[str, Transformer] = {}
        self._handle_cache: dict[str, list[TaskHandle]] = {}

    # -- helpers --------------------------------------------------------------------
    def _transformer(self, name: str) -> Transformer:
        # one instance per name for this runner's life: a transformer may cache what it
        # read (the local one reads its event log incrementally while a run is followed)
        if name not in self._backends:
            self._backends[name] = self.registry.transformer(name)
        return self._backends[name]

    def _handles(self, status: RunStatus) -> list[TaskHandle]:
        """The run's handles; cached once submitted, since they never change after."""
        run_id = status.run.run_id
        cached = self._handle_cache.get(run_id)
        if cached is None:
            cached = [t.handle for t in status.tasks if t.handle is not None]
            if status.run.state != "submitting":
                self._handle_cache[run_id] = cached
        return cached

    #: the host of remote runs instead of the recorded one (``--remote``), or ``None``
    remote_target: str | None = None
    #: ``--remote`` was given explicitly: a run that is not remote is then refused
    remote_explicit: bool = False

    def _context(self, run: RunRecord) -> RunContext:
        options = dict(run.options)
        if not is_remote(options):
            if self.remote_explicit:
                raise UsageError(
                    f"run {run.run_id} was not submitted with --remote: it runs on this "
                    "machine (leave --remote out)"
                )
            return RunContext(run.run_id, Path(run.run_dir), Path(run.workdir), options)
        if self.remote_target:
            options[REMOTE] = self.remote_target
        # the transformer works with the remote paths; its files go through the mirror
        remote = Path(str(remote_run_dir(options, run.run_id)))
        register_mirror(remote, Path(run.run_dir))
        home = Path(options.get(REMOTE_HOME) or "/")
        return RunContext(run.run_id, remote, remote, options, home=home)

    def _record(
        self,
        run_id: str,
        statuses: dict[tuple[str, int], TaskStatus],
        tasks: list[TaskRecord] | None = None,
    ) -> RunStatus:
        if tasks is None:
            tasks = self.store.tasks(run_id)
        self.store.update_tasks(run_id, statuses, tasks)
        run = self.store.get_run(run_id)
        if not run.finished and run.state != "submitting" and all(t.state.terminal for t in tasks):
            self.store.set_run_state(run_id, _final_state(tasks, False))
            run = self.store.get_run(run_id)
        return RunStatus(run, tasks)

    # -- the API --------------------------------------------------------------------
    def submit(
        self,
        plan: Plan,
        transformer: str | None = None,
        *,
        workdir: Path | None = None,
        options: dict[str, str] | None = None,
        owner: str | None = None,
        remote: dict[str, str] | None = None,
        check_requirements: bool = True,
        subsystems: str | None = None,
    ) -> str:
        """Submit ``plan`` through ``transformer`` (default :func:`default_transformer`);
        return the run id at once, without waiting for the tasks.

        A plan with requirements is first checked against the site
        (:func:`jobspec_core.site.describe_site` with ``subsystems``, a JGF directory,
        default ``$JOBSPEC_SUBSYSTEMS``): unmet ones raise
        :class:`~jobspec_core.errors.RequirementsNotMet` (nothing recorded), and resource
        alternatives whose requirements are not met are dropped from ``plan`` before it is
        rendered. ``check_requirements=False`` skips this.

        Raises :class:`~jobspec_core.errors.UnsupportedFeature` (nothing recorded) when the
        transformer lacks a feature the plan uses, the transformer's errors from render
        (nothing recorded) and :class:`~jobspec_core.errors.SubmitError` (run recorded as
        failed) from submit.

        ``remote``: the options of a remote run
        (:func:`~jobspec_core.remote.remote_options`). Option names starting with ``_`` are
        jobspec's own and refused in ``options`` (a service's client cannot make the
        service log in somewhere).
        """
        reserved = sorted(k for k in (options or {}) if k.startswith("_"))
        if reserved:
            raise UsageError(
                f"option {reserved[0]!r}: names starting with '_' are jobspec's own; "
                "nothing was submitted"
            )
        if remote:
            options = {**(options or {}), **remote}
        name = transformer or default_transformer()
        backend = self._transformer(name)
        check_capabilities(plan, backend, name=name)
        if is_remote(options) and not backend.remote:
            raise UsageError(
                f"the {name} transformer cannot submit to a remote host (--remote): its "
                "commands do not go through jobspec's command runner; nothing was submitted"
            )
        workdir = Path(workdir or os.getcwd()).resolve()
        run = self.store.create_run(
            name=plan.name,
            transformer=name,
            source=str(Path(plan.source).resolve()) if plan.source else None,
            workdir=workdir,
            options=options,
            instances=instances_of(plan),
            submitter=identity(),
            owner=owner,
            parameters=plan.parameters,
        )
        context = self._context(run)
        over_ssh = is_remote(options)
        try:
            if check_requirements:
                self._check_requirements(plan, backend, context, subsystems)
            _keep_plan(plan, Path(run.run_dir))
            if over_ssh:
                _writes_inside(plan, context)
            context.capacity = backend.capacity(plan, context)
            submission = backend.render(plan, context)
            submission.write(local_path(context.run_dir))
        except BaseException:
            self.store.delete_run(run.run_id)
            shutil.rmtree(run.run_dir, ignore_errors=True)
            raise
        # each job recorded the moment the scheduler accepts it: a submitter killed
        # part-way leaves every job it started known, and so cancellable (see record())
        reported: set[tuple[str, int]] = set()

        def on_submitted(done: list[TaskHandle]) -> None:
            self.store.set_handles(run.run_id, done)
            reported.update(h.key for h in done)

        context.on_submitted = on_submitted
        try:
            carry_out_writes(plan, context)
            if over_ssh:  # the mirror goes over right before the first remote command
                stage = runner_for(options).stage  # type: ignore[attr-defined]
                stage(Path(run.run_dir), str(context.run_dir))
            handles = backend.submit(plan, submission, context)
        except SubmitError as exc:
            if exc.submitted:
                self.store.set_handles(run.run_id, exc.submitted, TaskState.CANCELLED)
            said = str(exc) + (self._sweep(backend, exc.submitted, context) if over_ssh else "")
            self._not_submitted(run.run_id, said)
            if over_ssh:
                raise SubmitError(said, exc.submitted) from exc
            raise
        except BaseException as exc:
            said = f"submission failed: {exc}"
            if over_ssh and isinstance(exc, JobspecError):
                known = [t.handle for t in self.store.tasks(run.run_id) if t.handle is not None]
                said += self._sweep(backend, known, context)
                if known:
                    self.store.set_handles(run.run_id, known, TaskState.CANCELLED)
                self._not_submitted(run.run_id, said)
                raise SubmitError(said, known) from exc
            self._not_submitted(run.run_id, said)
            raise
        context.on_submitted = None
        rest = [h for h in handles if h.key not in reported]
        if rest:
            self.store.set_handles(run.run_id, rest)
        self.store.set_run_state(run.run_id, "running")
        return run.run_id

    @staticmethod
    def _sweep(backend: Transformer, submitted: list[TaskHandle], context: RunContext) -> str:
        """After a remote submission failed part-way: cancel every job of the run, those
        nobody recorded included (a job whose answer was lost with the connection); what
        was done, for the message (``""`` when nothing needed saying)."""
        try:
            strays = backend.cancel_run(submitted, context)
        except JobspecError as exc:
            jobs = sorted({h.native_id for h in submitted})
            return (
                f"; cancelling the run's jobs on the remote host FAILED ({exc}): jobs recorded "
                f"as submitted: {', '.join(jobs) or 'none'}; jobs whose answer was lost may "
                f"exist too: see `jobspec cancel {context.run_id}` once the host answers"
            )
        if strays:
            return (
                f"; also cancelled job(s) {', '.join(strays)} the scheduler had accepted "
                "but whose answer was lost"
            )
        if strays is None:  # the transformer cannot look for jobs nobody recorded
            jobs = sorted({h.native_id for h in submitted})
            return (
                f"; jobs recorded as submitted (cancelled): {', '.join(jobs) or 'none'}; a job "
                "whose answer was lost with the connection cannot be looked for by the "
                f"{backend.name} transformer: check the scheduler's queue on the remote host"
            )
        return "; no other job of the run exists on the remote host"

    def _check_requirements(self, plan: Plan, backend, context, subsystems) -> None:
        """Refuse ``plan`` when ``backend``'s site cannot meet its requirements
        (:func:`jobspec_core.satisfy.check_for_submission` narrows the alternatives)."""
        from .satisfy import refuse_unmet

        refuse_unmet(plan, backend, registry=self.registry, context=context, subsystems=subsystems)

    def _not_submitted(self, run_id: str, error: str) -> None:
        """A failed submission: instances without a handle never will run."""
        statuses = {
            t.key: TaskStatus(TaskState.CANCELLED, reason=f"not submitted: {error}")
            for t in self.store.tasks(run_id)
            if t.handle is None
        }
        self.store.update_tasks(run_id, statuses)
        self.store.set_run_state(run_id, "failed", error=error)

    def record(self, run_id: str) -> RunStatus:
        """The run as recorded, without asking the transformer.

        A run still ``submitting`` whose submitting process is gone was interrupted
        part-way: it is recorded as failed and what it had submitted is cancelled (a part
        of a run is not what was asked for), see :meth:`_interrupted`.
        """
        run_id = self.store.resolve(run_id)
        run = self.store.get_run(run_id)
        if run.state == "submitting" and run.submitter:
            if not process_alive(run.submitter.get("pid"), run.submitter.get("start")):
                self._interrupted(run)
                run = self.store.get_run(run_id)
        return RunStatus(run, self.store.tasks(run_id))

    def _interrupted(self, run: RunRecord) -> None:
        """The submitter of ``run`` died during submission: cancel every job it had
        recorded (transformers that :attr:`~Transformer.records_submissions` record each
        one as the scheduler accepts it) and record them ``cancelled``; an instance with no
        handle was never submitted (``cancelled``), or, for a transformer that does not
        record as it goes, is ``lost`` (what was started cannot be known)."""
        pid = (run.submitter or {}).get("pid")
        error = f"the submitting process (pid {pid}) ended during submission"
        tasks = self.store.tasks(run.run_id)
        backend = self._transformer(run.transformer)
        submitted = [t.handle for t in tasks if t.handle is not None and not t.state.terminal]
        statuses: dict[tuple[str, int], TaskStatus] = {}
        try:
            backend.cancel_run(submitted, self._context(run))
        except JobspecError as exc:  # they stay unfinished: status keeps asking
            error += f"; cancelling what it had submitted failed: {exc}"
        else:
            why = f"{error}; cancelled with the rest of the submission"
            statuses.update({h.key: TaskStatus(TaskState.CANCELLED, reason=why) for h in submitted})
            error += f"; the {len(submitted)} instance(s) it had submitted were cancelled"
        for t in tasks:
            if t.handle is None and not t.state.terminal:
                if backend.records_submissions:
                    statuses[t.key] = TaskStatus(
                        TaskState.CANCELLED,
                        reason=f"not submitted (or its job was cancelled unrecorded): {error}",
                    )
                else:
                    statuses[t.key] = TaskStatus(
                        TaskState.LOST, reason=f"{error}; what it had started is not known"
                    )
        self.store.update_tasks(run.run_id, statuses)
        self.store.set_run_state(run.run_id, "failed", error=error)

    def _correct_lost(self, current: RunStatus) -> RunStatus:
        """A finished run with instances recorded ``lost``: ask the transformer again.

        ``lost`` is the one final state that is a conclusion from missing evidence (nobody
        recorded the end), so it is revised when the evidence turns up: an instance the
        transformer now reports in another terminal state is recorded so, and the run's
        state is derived again from its instances.
        """
        lost = [t.handle for t in current.tasks if t.state is TaskState.LOST and t.handle]
        if not lost:
            return current
        run = current.run
        try:
            statuses = self._transformer(run.transformer).status(lost, self._context(run))
        except BackendError:  # the record stands until the scheduler can be asked
            return current
        found = {
            key: st
            for key, st in statuses.items()
            if st.state.terminal and st.state is not TaskState.LOST
        }
        if not found:
            return current
        tasks = current.tasks
        self.store.update_tasks(run.run_id, found, tasks)
        if all(t.state.terminal for t in tasks):
            self.store.set_run_state(run.run_id, _final_state(tasks, run.state == "cancelled"))
        return RunStatus(self.store.get_run(run.run_id), tasks)

    def status(self, run_id: str) -> RunStatus:
        """Ask the transformer for the state of every instance, record it, return it.

        A run whose instances are all terminal is answered from the store alone, except
        for instances recorded ``lost``, which are asked again (see :meth:`_correct_lost`).
        """
        current = self.record(run_id)
        if current.finished:
            return self._correct_lost(current)
        handles = self._handles(current)
        if not handles:
            return current
        backend = self._transformer(current.run.transformer)
        statuses = backend.status(handles, self._context(current.run))
        return self._record(current.run.run_id, statuses, current.tasks)

    def wait(self, run_id: str, timeout: float | None = None) -> RunStatus:
        """Block until every instance is terminal or ``timeout`` seconds pass; the last status."""
        current = self.record(run_id)
        if current.finished:
            return self._correct_lost(current)
        handles = self._handles(current)
        backend = self._transformer(current.run.transformer)
        statuses = backend.wait(handles, self._context(current.run), timeout)
        return self._record(current.run.run_id, statuses, current.tasks)

    def cancel(self, run_id: str) -> RunStatus:
        """Cancel whatever has not finished; returns the status once the transformer has
        acted (instances it could not stop yet may still show as running)."""
        current = self.record(run_id)
        if current.finished:
            return current
        run = current.run
        handles = self._handles(current)
        backend = self._transformer(run.transformer)
        context = self._context(run)
        statuses: dict[tuple[str, int], TaskStatus] = {}
        backend.cancel_run(handles, context)
        if handles:
            statuses = backend.wait(handles, context, timeout=10.0)
        # Instances never submitted will never run now.
        for t in current.tasks:
            if t.handle is None and not t.state.terminal:
                statuses[t.key] = TaskStatus(TaskState.CANCELLED, reason="run cancelled")
        self.store.update_tasks(run.run_id, statuses)
        tasks = self.store.tasks(run.run_id)
        if all(t.state.terminal for t in tasks):
            self.store.set_run_state(run.run_id, _final_state(tasks, True))
        return self.record(run.run_id)

    def resolve(self, ref: str | None) -> str:
        """The run id ``ref`` names: an id, a unique prefix, or ``None``/``latest``."""
        return self.store.resolve(ref)

    def logs(self, run_id: str, task: str | None = None) -> Iterator[bytes]:
        """The logs of the run's instances (all, a task's, or ``ID.INDEX``), in chunks;
        :class:`~jobspec_core.errors.StoreError` listing the run's tasks when ``task``
        names none."""
        tasks = self.store.tasks(run_id)
        chosen = select_instances(tasks, task)
        if not chosen:
            names = sorted({t.task_id for t in tasks})
            raise StoreError(
                f"run {run_id} has no task {task!r}; its tasks: {', '.join(names) or '(none)'}"
            )
        options = self._context(self.store.get_run(run_id)).options
        if is_remote(options):
            return log_chunks(chosen, runner_for(options).read_file)  # type: ignore[attr-defined]
        return log_chunks(chosen)

    def plan_of(self, run_id: str) -> Plan:
        """The plan a run was submitted with, from what its run directory kept
        (:data:`SOURCE_FILE` or :data:`PLAN_FILE`).

        A run recorded before plans were kept is planned again from its source file, when
        that still exists; otherwise :class:`~jobspec_core.errors.StoreError`.
        """
        from . import api

        run = self.store.get_run(self.store.resolve(run_id))
        run_dir = Path(run.run_dir)
        if (run_dir / SOURCE_FILE).is_file():
            # planned under the original file's name, so positions name that file, and
            # with the parameter values the run was planned with
            text = (run_dir / SOURCE_FILE).read_bytes()
            document = api.load_text(text, run.source or str(run_dir / SOURCE_FILE))
            return api.plan(document, parameters=run.parameters)
        path = run_dir / PLAN_FILE
        try:
            return Plan.from_dict(json.loads(path.read_text("utf-8")))
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"the plan of run {run.run_id} ({path}) is unreadable: {exc}") from exc
        if run.source and Path(run.source).is_file():
            return api.load_plan(run.source, parameters=run.parameters)
        raise StoreError(
            f"run {run.run_id} kept no plan (no {SOURCE_FILE} or {PLAN_FILE} in {run_dir}) "
            f"and its source {run.source or '(none)'} is gone"
        )

    def list_runs(self, limit: int = 50, owner: str | None = None) -> list[RunRecord]:
        """The most recent runs first (only ``owner``'s when given)."""
        return self.store.list_runs(limit, owner)
