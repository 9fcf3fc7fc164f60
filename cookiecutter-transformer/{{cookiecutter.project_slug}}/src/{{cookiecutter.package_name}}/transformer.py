"""The ``{{ cookiecutter.transformer_name }}`` transformer: JobSpec plans onto the site's scheduler
({{ cookiecutter.scheduler_kind }} starting point).

How it works (the contract is ``jobspec_core.transformer.Transformer``):

* ``render``: one job script per top-level task (``render.py``, ``templates/job.sh.tmpl``)
  and one submit command per job, in dependency order.
* ``submit``: runs the submit commands in order, replacing ``{id:NODE}`` by the ids
  captured from earlier submissions; one :class:`TaskHandle` per task instance. A failure
  part-way cancels what was submitted.
* ``status``: one status query for all jobs, combined with what the job scripts recorded
  for each instance (exit code, start, timeout) in the run directory.
* ``cancel``: marks the instances cancelled, then runs the cancel command.

The scheduler's commands come from ``scheduler.py``. Override them without editing code
with environment variables (a command line each, split like a shell):

* ``{{ cookiecutter.__env_prefix }}_SCHEDULER``: ``local`` (the stand-in) or ``native`` (the real commands);
* ``{{ cookiecutter.__env_prefix }}_SUBMIT``,
* ``{{ cookiecutter.__env_prefix }}_STATUS``,
* ``{{ cookiecutter.__env_prefix }}_CANCEL``;

or with the same keys (``scheduler``, ``submit``, ``status``, ``cancel``) in the run's options.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from jobspec_core.errors import BackendError, JobspecError, SubmitError
from jobspec_core.plan import Plan
from jobspec_core.transformer import (
    RunContext,
    Submission,
    TaskHandle,
    TaskState,
    TaskStatus,
    Transformer,
)

from . import scheduler
from .capabilities import CAPABILITIES
from .native import JobState, NativeStatus
from .render import jobs, render_submission
from .script import TIMEOUT_CODES, logs_dir, records_dir

__all__ = ["{{ cookiecutter.__class_name }}", "ENV_PREFIX", "commands", "scheduler_mode"]

ENV_PREFIX = "{{ cookiecutter.__env_prefix }}"
#: Seconds a scheduler command may take before it counts as unreachable.
COMMAND_TIMEOUT = 120.0
_VERBS = ("submit", "status", "cancel")


def scheduler_mode(context: RunContext | None = None) -> str:
    """``local`` (the stand-in scheduler) or ``native`` (the real commands): the run option
    ``scheduler``, else ``{{ cookiecutter.__env_prefix }}_SCHEDULER``, else ``scheduler.DEFAULT_MODE``."""
    options = context.options if context is not None else {}
    mode = (
        options.get("scheduler")
        or os.environ.get(f"{ENV_PREFIX}_SCHEDULER")
        or scheduler.DEFAULT_MODE
    )
    if mode not in ("local", "native"):
        raise BackendError(
            f"{ENV_PREFIX}_SCHEDULER (or option scheduler) is {mode!r}: expected 'local' "
            "(the stand-in scheduler on this machine) or 'native' (the real commands)"
        )
    return mode


def commands(context: RunContext | None = None) -> dict[str, list[str]]:
    """The submit, status and cancel commands for this run, as argv lists.

    Per command, the first of: the run option (``submit``...), the environment variable
    (``{{ cookiecutter.__env_prefix }}_SUBMIT``...), or ``scheduler.NATIVE_COMMANDS``, prefixed by the stand-in
    (``python -m {{ cookiecutter.package_name }}.localsched``) in ``local`` mode.
    """
    options = context.options if context is not None else {}
    local = scheduler_mode(context) == "local"
    stand_in = [sys.executable, "-m", f"{__package__}.localsched"] if local else []
    out = {}
    for verb in _VERBS:
        text = options.get(verb) or os.environ.get(f"{ENV_PREFIX}_{verb.upper()}")
        out[verb] = shlex.split(text) if text else stand_in + scheduler.NATIVE_COMMANDS[verb]
        if not out[verb]:
            raise BackendError(f"the {verb} command is empty ({ENV_PREFIX}_{verb.upper()})")
    return out


def _read_record(path: Path) -> dict[str, str] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    return dict(part.split("=", 1) for part in text.split() if "=" in part)


class {{ cookiecutter.__class_name }}(Transformer):
    """Runs each top-level task as one job of the site's scheduler (see the module doc)."""

    name = "{{ cookiecutter.transformer_name }}"
    description = "the site's {{ cookiecutter.scheduler_kind }} scheduler: one job per top-level task or group"
    capabilities = CAPABILITIES
    #: seconds between two status queries against the real scheduler (be kind to it).
    poll_interval = 5.0
    #: seconds between two status queries against the stand-in scheduler.
    local_poll_interval = 0.2
    array_submissions = True  # all replicas of a top-level task are one job

    # -- rendering -------------------------------------------------------------------
    def render(self, plan: Plan, context: RunContext) -> Submission:
        return render_submission(
            plan,
            context,
            name=self.name,
            capabilities=self.capabilities,
            scheduler=scheduler,
            submit_command=commands(context)["submit"],
        )

    # -- talking to the scheduler ----------------------------------------------------
    def _run(
        self, verb: str, argv: list[str], context: RunContext, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess:
        """Run one scheduler command in the run directory; BackendError if it cannot run."""
        try:
            return subprocess.run(
                argv,
                cwd=context.run_dir,
                input=stdin if stdin is not None else b"",
                capture_output=True,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
        except FileNotFoundError as exc:
            raise BackendError(
                f"{self.name}: cannot run the {verb} command {argv[0]!r}: not found "
                f"(set {ENV_PREFIX}_{verb.upper()} or edit scheduler.NATIVE_COMMANDS)"
            ) from exc
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BackendError(
                f"{self.name}: the {verb} command {shlex.join(argv)} failed: {exc}"
            ) from exc

    def submit(self, plan: Plan, submission: Submission, context: RunContext) -> list[TaskHandle]:
        ids: dict[str, str] = {}
        # status and cancel may run in another process, with another environment: the
        # handles remember the commands that reach the scheduler these jobs went to.
        reach = {verb: commands(context)[verb] for verb in ("status", "cancel")}
        handles: list[TaskHandle] = []
        by_node = {job.node.id: job for job in jobs(plan)}
        records, logs = records_dir(context.run_dir), logs_dir(context.run_dir)
        records.mkdir(parents=True, exist_ok=True)
        logs.mkdir(parents=True, exist_ok=True)
        for unit in submission.units:
            argv = []
            for word in unit.argv:
                for node_id, job_id in ids.items():
                    word = word.replace("{id:" + node_id + "}", job_id)
                argv.append(word)
            stdin = None
            if scheduler.SCRIPT_ON_STDIN and unit.script:
                stdin = (Path(context.run_dir) / unit.script).read_bytes()
            try:
                done = self._run("submit", argv, context, stdin)
                if done.returncode != 0:
                    raise BackendError(
                        f"{shlex.join(argv)} exited with {done.returncode}: "
                        + done.stderr.decode(errors="replace").strip()
                    )
                job_id = scheduler.parse_submit(done.stdout.decode(errors="replace"))
            except (JobspecError, ValueError) as exc:
                self.cancel(handles, context)
                raise SubmitError(
                    f"{self.name}: submitting {unit.node_id} failed after {len(ids)} job(s) "
                    f"were submitted (now cancelled): {exc}",
                    handles,
                ) from exc
            ids[unit.node_id] = job_id
            job = by_node[unit.node_id]
            for task, after in job.tasks:
                slug = job.slugs[task.id]
                for index in range(task.replicas):
                    handles.append(
                        TaskHandle(
                            task_id=task.id,
                            index=index,
                            native_id=job_id,
                            log=str(logs / f"{slug}.{index}.out"),
                            data={
                                "record": str(records / f"{slug}.{index}"),
                                "after": after,
                                "duration": task.attributes.duration,
                                "commands": reach,
                            },
                        )
                    )
        return handles

    @staticmethod
    def _command(verb: str, handles: Sequence[TaskHandle], context: RunContext) -> list[str]:
        """The ``verb`` command recorded in the handles at submission (else the current one)."""
        for handle in handles:
            recorded = handle.data.get("commands", {}).get(verb)
            if recorded:
                return list(recorded)
        return commands(context)[verb]

    def _query(
        self, job_ids: list[str], handles: Sequence[TaskHandle], context: RunContext
    ) -> dict[str, NativeStatus]:
        argv = self._command("status", handles, context) + job_ids
        done = self._run("status", argv, context)
        try:
            return scheduler.parse_status(
                done.stdout.decode(errors="replace"),
                done.stderr.decode(errors="replace"),
                done.returncode,
                job_ids,
            )
        except ValueError as exc:
            raise BackendError(f"{self.name}: cannot read {shlex.join(argv)}: {exc}") from exc

    # -- following -------------------------------------------------------------------
    def status(
        self, handles: Sequence[TaskHandle], context: RunContext
    ) -> dict[tuple[str, int], TaskStatus]:
        job_ids = sorted({h.native_id for h in handles})
        native = self._query(job_ids, handles, context) if job_ids else {}
        by_task: dict[str, list[TaskHandle]] = {}
        for handle in handles:
            by_task.setdefault(handle.task_id, []).append(handle)
        out: dict[tuple[str, int], TaskStatus] = {}

        def resolve(handle: TaskHandle, stack: frozenset[str]) -> TaskStatus:
            # Dependencies first: an instance whose dependency ended badly can never run.
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
            status = self._instance_status(handle, native.get(handle.native_id), failed_dep)
            out[handle.key] = status
            return status

        for handle in handles:
            resolve(handle, frozenset())
        # A job whose dependency failed waits forever in most schedulers: cancel it. Only a
        # job still pending with nothing left to run: a running group job decides itself.
        stuck = []
        for job_id in job_ids:
            mine = [h for h in handles if h.native_id == job_id]
            pending = native.get(job_id, NativeStatus(JobState.UNKNOWN)).state is JobState.PENDING
            if pending and all(out[h.key].state is TaskState.NEVER_RUN for h in mine):
                stuck.append(job_id)
        self._cancel_jobs(stuck, handles, context)
        return out

    def _instance_status(
        self, handle: TaskHandle, job: NativeStatus | None, failed_dep: str | None
    ) -> TaskStatus:
        base = Path(handle.data["record"])
        end = _read_record(base.with_name(base.name + ".exit"))
        start = _read_record(base.with_name(base.name + ".start"))
        if end is not None and end.get("code") == "never":
            return TaskStatus(TaskState.NEVER_RUN, None, "something it depends on did not succeed")
        if end is not None:
            code = int(end.get("code", "1"))
            started, finished = float(end.get("started", 0)), float(end.get("finished", 0))
            duration = handle.data.get("duration")
            timed_out = code in TIMEOUT_CODES and finished - started >= (duration or 0) - 1
            if duration is not None and timed_out:
                reason = f"killed at duration limit {duration}s"
                return TaskStatus(TaskState.TIMEOUT, code, reason, started, finished)
            state = TaskState.COMPLETED if code == 0 else TaskState.FAILED
            reason = None if code == 0 else f"exit code {code}"
            return TaskStatus(state, code, reason, started, finished)
        if failed_dep is not None and start is None:
            return TaskStatus(TaskState.NEVER_RUN, None, f"dependency {failed_dep}")
        if base.with_name(base.name + ".cancelled").exists():
            return TaskStatus(TaskState.CANCELLED, None, "cancelled")
        started_at = float(start["started"]) if start and "started" in start else None
        if job is None or job.state is JobState.UNKNOWN:
            return TaskStatus(
                TaskState.LOST,
                None,
                f"the scheduler does not know job {handle.native_id} and no end was recorded",
                started_at,
            )
        if job.state is JobState.PENDING:
            return TaskStatus(TaskState.PENDING, None, f"job {handle.native_id} is {job.native}")
        if job.state is JobState.RUNNING:
            state = TaskState.RUNNING if start is not None else TaskState.PENDING
            return TaskStatus(state, None, None, started_at)
        return TaskStatus(
            TaskState.FAILED,
            job.exit_code,
            f"job {handle.native_id} ended ({job.native}, exit {job.exit_code}) "
            "without recording this instance's end",
            started_at,
        )

    def poll_interval_for(self, context: RunContext) -> float:
        """Poll the stand-in scheduler often (its status is a file read), a real one gently."""
        local = scheduler_mode(context) == "local"
        return self.local_poll_interval if local else self.poll_interval

    def _cancel_jobs(
        self, job_ids: list[str], handles: Sequence[TaskHandle], context: RunContext
    ) -> None:
        if job_ids:
            # Cancelling a job that already ended is not an error for us: ignore the code.
            argv = self._command("cancel", handles, context) + job_ids
            self._run("cancel", argv, context)

    def cancel(self, handles: Sequence[TaskHandle], context: RunContext) -> None:
        job_ids = set()
        for handle in handles:
            base = Path(handle.data["record"])
            if not base.with_name(base.name + ".exit").exists():
                base.parent.mkdir(parents=True, exist_ok=True)
                base.with_name(base.name + ".cancelled").touch()
                job_ids.add(handle.native_id)
        self._cancel_jobs(sorted(job_ids), handles, context)
