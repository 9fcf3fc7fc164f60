"""The transformer contract: what every backend (built-in or private) implements.

A transformer turns a :class:`~jobspec_core.plan.Plan` into submissions for one scheduler
and follows them. It is registered through the ``jobspec_register_transformers`` hook (see
:mod:`jobspec_core.hookspecs`) and found through the ``jobspec`` entry-point group, like
every plugin.

Life of a run (driven by :mod:`jobspec_core.runner`, never by the transformer itself):

0. ``capacity(plan, context)`` -> :class:`~jobspec_core.alternatives.Capacity` or ``None``,
   asked once; the runner puts the answer in ``context.capacity``.
1. ``render(plan, context)`` -> :class:`Submission`: files and commands, nothing executed.
   It must work with no scheduler installed (this is ``jobspec transform``). Resource
   alternatives are chosen here, from ``context.capacity``.
2. The runner writes ``submission.files`` into ``context.run_dir`` and carries out the
   plan's ``write`` steps (:func:`jobspec_core.workdirs.carry_out_writes`).
3. ``submit(plan, submission, context)`` -> one :class:`TaskHandle` per task instance
   (task id x replica index). It submits ``submission`` as rendered (reading
   :attr:`Submission.data` where it needs more than the units), never a new render, and
   writes no step files. If it fails part-way it cancels what it already submitted
   and raises :class:`~jobspec_core.errors.SubmitError` with those handles.
4. ``status(handles, context)`` -> :class:`TaskStatus` for each handle, in one query to the
   scheduler where the scheduler allows it. Handles come back from the run store, so
   status works from another process than the one that submitted.
5. ``cancel(handles, context)``: stop whatever has not finished.

States are the common model of :class:`TaskState`; each backend keeps an explicit map from
its scheduler's native states, with a comment naming the manual it follows.

Every backend provides the portable variables to each task instance: ``JOBSPEC_RUN_ID``,
``JOBSPEC_TASK_NAME`` (the task's plan id), ``JOBSPEC_TASK_INDEX`` (0-based replica index)
and ``JOBSPEC_TASK_COUNT`` (the number of replicas); see :func:`portable_environment`.
"""

from __future__ import annotations

import re
import shlex
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from .alternatives import Capacity
from .errors import BackendError
from .plan import Plan, PlanTask

__all__ = [
    "TaskState",
    "TERMINAL_STATES",
    "TaskStatus",
    "TaskHandle",
    "RenderedFile",
    "SubmissionUnit",
    "Submission",
    "RunContext",
    "Transformer",
    "portable_environment",
    "portable_exports",
    "array_index_expression",
    "report_submitted",
]


class TaskState(StrEnum):
    """The common state model of a task instance."""

    PENDING = "pending"  #: submitted, waiting for resources or dependencies
    RUNNING = "running"
    COMPLETED = "completed"  #: finished with exit code 0
    FAILED = "failed"  #: finished with a non-zero exit code, or the scheduler failed it
    TIMEOUT = "timeout"  #: killed at its duration limit
    CANCELLED = "cancelled"  #: cancelled by a user or by jobspec
    NEVER_RUN = "never_run"  #: not started because a dependency did not succeed
    LOST = "lost"  #: its fate can no longer be known (the process that followed it died)
    UNKNOWN = "unknown"  #: the scheduler could not be asked (transient)

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def succeeded(self) -> bool:
        return self is TaskState.COMPLETED


TERMINAL_STATES = frozenset(
    {
        TaskState.COMPLETED,
        TaskState.FAILED,
        TaskState.TIMEOUT,
        TaskState.CANCELLED,
        TaskState.NEVER_RUN,
        TaskState.LOST,
    }
)


@dataclass
class TaskStatus:
    """What is known of one task instance now.

    :ivar exit_code: the process's exit code once finished (``None`` while running or when
        the scheduler does not say).
    :ivar reason: a short explanation for non-success states (``DependencyNeverSatisfied``,
        ``killed at duration limit 5s``).
    :ivar started_at: / :ivar finished_at: Unix times, when known.
    """

    state: TaskState
    exit_code: int | None = None
    reason: str | None = None
    started_at: float | None = None
    finished_at: float | None = None


@dataclass
class TaskHandle:
    """How to find one task instance again, from any process: stored in the run store.

    :ivar task_id: the plan task's id.
    :ivar index: the replica index (0-based).
    :ivar native_id: the scheduler's id for what carries this instance (``123_4`` for a
        Slurm array element, a Flux job id, a group's allocation id for a task inside it).
    :ivar log: path of the instance's output file, when the backend knows it.
    :ivar data: backend-private details (JSON-serializable), handed back untouched.
    """

    task_id: str
    index: int
    native_id: str
    log: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int]:
        return (self.task_id, self.index)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskHandle:
        return cls(**dict(data))


@dataclass
class RenderedFile:
    """A file of a submission: ``content`` written at its relative name under the run dir."""

    content: str
    executable: bool = False


@dataclass
class SubmissionUnit:
    """One submission to the scheduler, in the order they are made.

    :ivar node_id: the plan node (task or group) it submits.
    :ivar kind: ``job`` (one instance), ``array`` (all replicas of a task in one
        submission), ``jobs`` (replicas as separate submissions), ``allocation`` (a group).
    :ivar argv: the exact command, as an argv list; ids captured from earlier submissions
        appear as ``{id:NODE_ID}`` placeholders.
    :ivar script: name of the file in :attr:`Submission.files` it submits, if any.
    :ivar depends_on: node ids whose ids it needs.
    :ivar instances: task instances it carries (replicas; for an allocation, all inside).
    """

    node_id: str
    kind: str
    argv: list[str]
    script: str | None = None
    depends_on: list[str] = field(default_factory=list)
    instances: int = 1


@dataclass
class Submission:
    """What a transformer would submit: files, then units in order, plus notes.

    :ivar notes: things the user should know (``duration 90s rounded up to 2 minutes``).
    :ivar data: transformer-private details of what to submit (JSON-serializable), for
        ``submit`` to read back: ``submit`` submits this submission, never a new render,
        so ``jobspec transform`` shows what runs. Shown by ``jobspec transform --json``.
    """

    transformer: str
    units: list[SubmissionUnit] = field(default_factory=list)
    files: dict[str, RenderedFile] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def write(self, directory: Path) -> list[Path]:
        """Write :attr:`files` under ``directory`` (created); returns the paths written.

        File names are relative; a name escaping ``directory`` is refused (ValueError).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        root = directory.resolve()
        written = []
        for name, rendered in self.files.items():
            target = (directory / name).resolve()
            if root != target and root not in target.parents:
                raise ValueError(f"rendered file name {name!r} escapes {directory}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(rendered.content, encoding="utf-8")
            if rendered.executable:
                target.chmod(0o755)
            written.append(target)
        return written

    def to_dict(self) -> dict[str, Any]:
        return {
            "transformer": self.transformer,
            "units": [asdict(u) for u in self.units],
            "files": {k: asdict(v) for k, v in self.files.items()},
            "notes": list(self.notes),
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Submission:
        """The inverse of :meth:`to_dict`."""
        return cls(
            transformer=data["transformer"],
            units=[SubmissionUnit(**u) for u in data.get("units", [])],
            files={k: RenderedFile(**v) for k, v in data.get("files", {}).items()},
            notes=list(data.get("notes", [])),
            data=dict(data.get("data", {})),
        )


@dataclass
class RunContext:
    """Where and as what a run happens; handed to every transformer call.

    :ivar run_id: the run's id (``RUN_ID`` placeholder when only rendering).
    :ivar run_dir: a directory private to this run (scripts, logs, status files). Absolute.
    :ivar workdir: the directory the run was submitted from: the default working
        directory of tasks and the staging directory for ``write`` steps. Absolute.
    :ivar options: transformer options from the command line or configuration
        (``{"cores": "4"}``), strings.
    :ivar home: the home directory of the submitting user: what ``~`` in a ``cwd`` means
        on every backend (see :mod:`jobspec_core.workdirs`).
    :ivar capacity: what one job can be given, as :meth:`Transformer.capacity` said before
        rendering (``None``: unknown, e.g. ``jobspec transform`` with no scheduler); render
        chooses resource alternatives with it (:mod:`jobspec_core.alternatives`).
    :ivar on_submitted: set by the runner for the time of :meth:`Transformer.submit`: call
        it (:func:`report_submitted`) with the handles of each job as soon as the scheduler
        has accepted it, so that a submitter killed part-way leaves every job it started
        recorded, and so cancellable (see :attr:`Transformer.records_submissions`).
    """

    run_id: str
    run_dir: Path
    workdir: Path
    options: dict[str, str] = field(default_factory=dict)
    home: Path = field(default_factory=Path.home)
    capacity: Capacity | None = None
    on_submitted: Callable[[list[TaskHandle]], None] | None = field(
        default=None, repr=False, compare=False
    )


def report_submitted(context: RunContext, handles: list[TaskHandle]) -> None:
    """Tell the runner (if one is listening) that ``handles`` were just submitted."""
    if context.on_submitted is not None and handles:
        context.on_submitted(handles)


def portable_environment(run_id: str, task: PlanTask, index: int | str | None) -> dict[str, str]:
    """The portable variables for one instance of ``task``, in this order:
    ``JOBSPEC_RUN_ID``, ``JOBSPEC_TASK_NAME``, ``JOBSPEC_TASK_INDEX``, ``JOBSPEC_TASK_COUNT``.

    ``index`` may be a string for backends that take it from the scheduler at run time
    (:func:`array_index_expression` in a script); then the caller renders it unquoted.
    ``None`` leaves ``JOBSPEC_TASK_INDEX`` out, for a caller that sets it per instance
    itself.
    """
    out = {"JOBSPEC_RUN_ID": run_id, "JOBSPEC_TASK_NAME": task.id}
    if index is not None:
        out["JOBSPEC_TASK_INDEX"] = str(index)
    out["JOBSPEC_TASK_COUNT"] = str(task.replicas)
    return out


def portable_exports(run_id: str, task: PlanTask, index: int | str) -> list[str]:
    """The portable variables as POSIX shell ``export`` lines: every value quoted with
    :func:`shlex.quote`, except an index given as text (an :func:`array_index_expression`
    or a positional parameter such as ``"${1}"``), which is written as is so the shell
    expands it."""
    lines = []
    for key, value in portable_environment(run_id, task, index).items():
        raw = key == "JOBSPEC_TASK_INDEX" and isinstance(index, str)
        lines.append(f"export {key}={value if raw else shlex.quote(value)}")
    return lines


_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def array_index_expression(variable: str, base: int) -> str:
    """The POSIX shell expression giving the 0-based instance index from a scheduler's
    array variable whose first value is ``base``: ``${SLURM_ARRAY_TASK_ID}`` (base 0),
    ``$((SGE_TASK_ID - 1))`` (base 1). Written unquoted in a script (it expands to digits).
    """
    if not isinstance(variable, str) or not _VARIABLE.fullmatch(variable):
        raise ValueError(f"array index variable {variable!r}: expected a shell variable name")
    if isinstance(base, bool) or not isinstance(base, int) or base < 0:
        raise ValueError(f"array index base {base!r}: expected a whole number >= 0")
    if base == 0:
        return f"${{{variable}}}"
    return f"$(({variable} - {base}))"


class Transformer(ABC):
    """Base class of every transformer. Subclasses set :attr:`name`, :attr:`capabilities`
    and implement the abstract methods; the docstring of each is its contract.

    A transformer is constructed with no arguments; per-run settings arrive in
    :class:`RunContext`. Instances must not keep state between calls that another
    process would need: everything needed later goes into :class:`TaskHandle`.
    """

    #: the name users pass to ``-t`` (lower case, ``[a-z][a-z0-9_-]*``).
    name: ClassVar[str]
    #: one line shown by ``jobspec transformers``.
    description: ClassVar[str] = ""
    #: features (names from :data:`jobspec_core.features.FEATURES`) this transformer supports.
    capabilities: ClassVar[frozenset[str]] = frozenset()
    #: seconds between two status queries in :meth:`wait`.
    poll_interval: ClassVar[float] = 1.0
    #: first pause of :meth:`wait` when shorter than :attr:`poll_interval` (``None``: start
    #: at the poll interval); the pause then grows by half each round up to the interval.
    first_poll_interval: ClassVar[float | None] = None
    #: longest pause of :meth:`wait` while the scheduler cannot be asked (backoff cap).
    max_backoff: ClassVar[float] = 10.0
    #: seconds of uninterrupted scheduler errors after which :meth:`wait` gives up and
    #: raises the last :class:`~jobspec_core.errors.BackendError`.
    error_budget: ClassVar[float] = 600.0
    #: the replicas of one top-level task are one submission (a job array, ``flux submit
    #: --cc``): the conformance suite's render mode then expects one ``array`` unit for them.
    array_submissions: ClassVar[bool] = False
    #: :meth:`submit` calls :func:`report_submitted` for every job the moment it is
    #: accepted. The runner then knows, after a submitter was killed part-way, that an
    #: instance with no recorded handle was never submitted (else it is ``lost``).
    records_submissions: ClassVar[bool] = False
    #: every scheduler command and file of a run goes through the core's command runner
    #: (:func:`jobspec_core.remote.runner_for`) and :func:`jobspec_core.remote.local_path`,
    #: so ``--remote`` submits over SSH (the batch layer and Slurm do).
    remote: ClassVar[bool] = False

    @abstractmethod
    def render(self, plan: Plan, context: RunContext) -> Submission:
        """Render ``plan`` into a :class:`Submission`. Pure: executes nothing, needs no
        scheduler. The same plan and context always render the same submission."""

    @abstractmethod
    def submit(self, plan: Plan, submission: Submission, context: RunContext) -> list[TaskHandle]:
        """Submit a rendered submission whose files are already in ``context.run_dir`` (and
        whose ``write`` steps the runner has carried out), exactly as rendered.

        Returns one handle per task instance of the plan (``local`` tasks included).
        On failure part-way: cancel everything already submitted, then raise
        :class:`~jobspec_core.errors.SubmitError` carrying the submitted handles.
        A scheduler that cannot be reached raises :class:`~jobspec_core.errors.BackendError`
        naming it.
        """

    @abstractmethod
    def status(
        self, handles: Sequence[TaskHandle], context: RunContext
    ) -> dict[tuple[str, int], TaskStatus]:
        """The status of each handle, keyed by :attr:`TaskHandle.key`.

        One query to the scheduler for all handles where possible. A handle the scheduler
        no longer knows and whose end cannot be found is :attr:`TaskState.LOST`. Raises
        :class:`~jobspec_core.errors.BackendError` when the scheduler cannot be asked.
        A dependent that can never run is reported :attr:`TaskState.NEVER_RUN` (and the
        transformer cancels it so it does not sit in the queue forever).
        """

    @abstractmethod
    def cancel(self, handles: Sequence[TaskHandle], context: RunContext) -> None:
        """Cancel every handle that has not finished. Cancelling a finished one is a no-op."""

    def cancel_run(self, handles: Sequence[TaskHandle], context: RunContext) -> list[str] | None:
        """Cancel the whole run: every handle (:meth:`cancel`) and, where the scheduler can
        tell, jobs of this run that no handle names (a submitter killed between the
        scheduler's answer and :func:`report_submitted`, or an answer lost with a remote
        connection). The runner cancels runs with it. Returns the native ids of such
        unrecorded jobs it cancelled (``None`` or ``[]``: none, or it cannot tell).
        Default: :meth:`cancel` of ``handles``."""
        if handles:
            self.cancel(handles, context)
        return None

    def capacity(self, plan: Plan, context: RunContext) -> Capacity | None:
        """What one job of ``plan`` can be given on this backend now, or ``None`` when
        unknown or not needed. The runner (and ``jobspec transform``, best effort) asks it
        once before rendering and hands the answer to :meth:`render` as
        :attr:`RunContext.capacity`; render chooses resource alternatives with it and may
        refuse a node no alternative of which can ever fit. May ask the scheduler (raise
        :class:`~jobspec_core.errors.BackendError` when it cannot be asked). Default:
        ``None``."""
        return None

    def poll_interval_for(self, context: RunContext) -> float:
        """Seconds between two status queries of :meth:`wait` for this run.

        :attr:`poll_interval` unless overridden (a transformer whose commands are cheap in
        some mode, such as a stand-in scheduler, may poll faster there)."""
        return self.poll_interval

    def wait(
        self,
        handles: Sequence[TaskHandle],
        context: RunContext,
        timeout: float | None = None,
    ) -> dict[tuple[str, int], TaskStatus]:
        """Block until every handle is terminal (or ``timeout`` seconds pass); return the
        last statuses. The one wait loop: backends do not override it.

        Polls :meth:`status` every :meth:`poll_interval_for` (starting at
        :attr:`first_poll_interval` when set), never sleeping past the timeout. A
        :class:`~jobspec_core.errors.BackendError` is taken as transient: the handles are
        reported :attr:`TaskState.UNKNOWN` meanwhile and the pause doubles, up to
        :attr:`max_backoff`; after :attr:`error_budget` seconds of nothing but errors the
        last error is raised. When the timeout passes during errors, the ``unknown``
        statuses are returned.
        """
        interval = self.poll_interval_for(context)
        pause = min(self.first_poll_interval or interval, interval)
        deadline = None if timeout is None else time.monotonic() + timeout
        failing_since: float | None = None
        ended: dict[tuple[str, int], TaskStatus] = {}  # first terminal status of each
        while True:
            waiting = [h for h in handles if h.key not in ended]
            try:
                statuses = self.status(waiting, context) if waiting else {}
            except BackendError as exc:
                now = time.monotonic()
                if failing_since is None:
                    failing_since = now
                elif now - failing_since >= self.error_budget:
                    raise
                statuses = {h.key: TaskStatus(TaskState.UNKNOWN, reason=str(exc)) for h in waiting}
                pause = min(max(pause, interval) * 2, max(self.max_backoff, interval))
            else:
                if failing_since is not None:
                    failing_since, pause = None, interval
                elif pause < interval:
                    pause = min(pause * 1.5, interval)
                ended.update((key, st) for key, st in statuses.items() if st.state.terminal)
                if all(h.key in ended for h in handles):
                    return {h.key: ended[h.key] for h in handles}
            current = {**statuses, **ended}
            if deadline is None:
                time.sleep(pause)
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return current
            time.sleep(min(pause, left))

    @classmethod
    def version(cls) -> str:
        """The version of the distribution providing this transformer (``unknown`` if none)."""
        from importlib import metadata

        module = cls.__module__.split(".")[0]
        try:
            dists = metadata.packages_distributions().get(module, [])
            return metadata.version(dists[0]) if dists else "unknown"
        except metadata.PackageNotFoundError:
            return "unknown"
