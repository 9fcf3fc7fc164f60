"""The scheduler's vocabulary: the :class:`Scheduler` protocol, the SDK's contract.

A batch transformer is :class:`~jobspec_core.batch.transformer.BatchTransformer` plus one
object that fills this protocol: the words of one scheduler (Grid Engine, PBS, LSF, a
site's wrapper). Everything else — the job script and its quoting, staging, per-instance
records, never-run propagation, rollback of a partial submission, log paths, polling — is
the layer's, and a site never copies it.

Most sites subclass :class:`BaseScheduler`, which gives a default for every member, and set
a dozen attributes and two or three parsing methods. The protocol is what the layer calls;
``isinstance(obj, Scheduler)`` checks the members are present.

Options.
    Every ``*_options`` method returns a list of **options**; an option is a list of argv
    words that belong together (``["-l", "h_rt=0:02:00"]``). The layer writes an option as
    one directive line (``#$ -l h_rt=0:02:00``) when the scheduler has a
    :attr:`~Scheduler.directive_prefix` and every word is safe in a directive line
    (:func:`jobspec_core.batch.naming.directive_safe`: no white space, quotes, backslash or
    ``#``); otherwise it passes the words on the submit command line, as argv, exactly.
    So a run directory whose path holds spaces or quotes still works, and nothing from a
    jobspec is ever parsed by a shell or by the scheduler's directive reader.

Job states.
    :meth:`~Scheduler.parse_status` and :meth:`~Scheduler.parse_accounting` report each
    job as a :class:`NativeStatus`: the scheduler's own word (``qw``, ``Eqw``, ``PEND``)
    and its :class:`JobState` (through :attr:`~Scheduler.state_map`). The layer combines
    it with the records the job script writes for each instance: the records decide how
    an instance ended; the job state decides everything else (waiting, held, in an error
    state, killed by the scheduler, deleted, lost).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import ClassVar, Protocol, runtime_checkable

from ..alternatives import Capacity
from ..plan import PlanTask
from .commands import CommandResult
from .jobs import DependencyKind, JobRequest, JobState, NativeStatus, Option

__all__ = [
    "JobState",
    "NativeStatus",
    "DependencyKind",
    "JobRequest",
    "Option",
    "Scheduler",
    "BaseScheduler",
]


@runtime_checkable
class Scheduler(Protocol):
    """The vocabulary of one batch scheduler: what the layer asks of a site.

    Attributes (class attributes on :class:`BaseScheduler` subclasses):

    * ``name``: the scheduler's name for messages (``Grid Engine``).
    * ``directive_prefix``: the start of a directive line (``#$``, ``#PBS``, ``#BSUB``),
      or ``None`` when every option goes on the submit command line.
    * ``script_on_stdin``: the submit command reads the script on standard input (LSF's
      ``bsub < script``) instead of as its last argument.
    * ``submit_command``, ``status_command``, ``cancel_command``: argv lists (``["qsub",
      "-terse"]``); job ids are appended to status (when ``status_takes_ids``) and cancel.
    * ``status_takes_ids``: the status command is given the job ids; when false it lists
      every job of the user (Grid Engine's ``qstat -xml``) and the layer picks its own.
    * ``accounting_command``: the command that reports finished jobs (``qacct``,
      ``sacct``, ``bhist``), or ``None``. Asked only about a job that left the queue
      before its script recorded every instance's end (killed, deleted, failed).
    * ``explain_command``: a command that says why a job is in an error state (Grid
      Engine's ``qstat -j ID``: its "error reason" line), or ``None``. Asked once about a
      job the status command reports in :attr:`JobState.ERROR` without a reason, before the
      layer deletes it; :meth:`parse_explain` reads the reason, which ends up in the failed
      instances' reason.
    * ``lost_grace``: seconds a job may be missing from both the queue and accounting
      (which can learn of a finished job late: ``qacct`` after about 15 s) before its
      unfinished instances are declared lost.
    * ``submit_validates``: the submit command itself refuses a request no queue can ever
      run, with the scheduler's reason (Grid Engine's ``qsub -w e``), instead of queueing
      it forever. The layer then runs no separate validation (``validate_command`` is not
      used), reports a refused submission as the scheduler's refusal and cancels the jobs
      of the run already submitted.
    * ``validate_command``: a command that checks a rendered submission without
      submitting it (``["qsub", "-w", "v"]``, ``["sbatch", "--test-only"]``), or ``None``;
      for a scheduler whose submit command does not validate. Run on every unit before the
      first real submission, so a request no queue can ever run is refused with the
      scheduler's reason and nothing submitted.
    * ``array_variable``: the variable holding an array element's index in the job
      (``SGE_TASK_ID``), or ``None`` when the scheduler has no arrays (the replicas then
      run in parallel inside one job). ``array_base``: the first index (0 or 1); the layer
      asks for ``array_base .. array_base + N - 1`` and derives the 0-based
      ``JOBSPEC_TASK_INDEX`` with :func:`~jobspec_core.transformer.array_index_expression`.
    * ``array_output_token``: what the scheduler expands to the element's index in an
      output path (``$TASK_ID``, ``%I``, ``^array_index^``), or ``None``.
    * ``dependency_kind``: :class:`DependencyKind` of :meth:`dependency_options`.
    * ``state_map``: native state word -> :class:`JobState`, with the error and held
      states (a comment naming the manual it follows). Words not in it are
      :attr:`JobState.UNKNOWN`.
    * ``job_name_max``: the longest job name accepted (``None``: no limit).
      ``job_name_first``: a regular-expression character class the first character must
      match (Grid Engine refuses a name starting with a digit: ``[A-Za-z_]``); the layer
      prefixes ``j`` otherwise. Names are otherwise made of ``[A-Za-z0-9_.-]``.
    * ``walltime_grace``: seconds added to a task's duration for the scheduler's limit.
    """

    name: str
    directive_prefix: str | None
    script_on_stdin: bool
    submit_command: Sequence[str]
    status_command: Sequence[str]
    status_takes_ids: bool
    cancel_command: Sequence[str]
    accounting_command: Sequence[str] | None
    explain_command: Sequence[str] | None
    lost_grace: float
    submit_validates: bool
    validate_command: Sequence[str] | None
    array_variable: str | None
    array_base: int
    array_output_token: str | None
    dependency_kind: DependencyKind
    state_map: Mapping[str, JobState]
    job_name_max: int | None
    job_name_first: str
    walltime_grace: int

    def largest_node(self) -> Capacity | None:
        """The largest node one job can be given, as a
        :class:`~jobspec_core.alternatives.Capacity` (``nodes``: how many there are, or
        ``None``), or ``None`` when unknown. ``a|b`` resource alternatives use the first that
        fits it; a request none of whose alternatives can ever fit is refused at render,
        before anything is submitted. Called at each render (it may read the environment or
        a site file)."""
        ...

    def name_options(self, name: str) -> list[Option]:
        """Options giving a job that is not an array its name (``[["-N", name]]``)."""
        ...

    def resource_options(self, request: JobRequest) -> list[Option]:
        """Options asking for ``request``'s slots, cores, gpus, memory and nodes."""
        ...

    def duration_options(self, seconds: int) -> list[Option]:
        """Options setting the scheduler's time limit to ``seconds`` (the walltime)."""
        ...

    def environment_options(self, environment: Mapping[str, str]) -> list[Option]:
        """Options making the scheduler set ``environment`` (:attr:`JobRequest.environment`)."""
        ...

    def cwd_options(self, path: str) -> list[Option]:
        """Options making the job start in the directory ``path``."""
        ...

    def output_options(self, path: str) -> list[Option]:
        """Options sending the job's standard output and error to the file ``path``."""
        ...

    def array_options(self, first: int, last: int, name: str) -> list[Option]:
        """Options making the job an array of elements ``first..last`` (inclusive) named
        ``name``: called instead of :meth:`name_options` for an array, since some
        schedulers name an array in the same option (LSF's ``-J "NAME[1-N]"``); Grid
        Engine returns ``[["-N", name], ["-t", "1-N"]]``."""
        ...

    def passthrough_options(self, options: Mapping[str, str]) -> list[Option]:
        """Options for this transformer's passthrough attributes (``queue: debug``)."""
        ...

    def dependency_options(self, job_ids: Sequence[str]) -> list[str]:
        """Submit-command words making the job wait for ``job_ids`` (``{id:NODE}``
        placeholders at render time, filled in at submission); ``[]`` when empty."""
        ...

    def launcher(self, task: PlanTask) -> list[str]:
        """Words put before each instance's command in the job script to place it on the
        allocation's nodes (``["mpiexec", "-n", "4"]``); ``[]``: run where the script runs."""
        ...

    def parse_submit(self, result: CommandResult) -> str:
        """The new job's id from a successful submit command's result (for an array: the
        id of the whole array). Raises :class:`ValueError` when there is none."""
        ...

    def parse_status(
        self, result: CommandResult, job_ids: Sequence[str]
    ) -> dict[str, NativeStatus]:
        """Each job's :class:`NativeStatus`, keyed by job id (an array element's own state
        may be keyed by :meth:`array_element_id`). Jobs it does not know are left out.
        Raises :class:`ValueError` when the output cannot be read (a transient error)."""
        ...

    def parse_accounting(
        self, results: Sequence[CommandResult], job_ids: Sequence[str]
    ) -> dict[str, NativeStatus]:
        """What accounting says of finished jobs (from :meth:`accounting_argv`'s commands),
        keyed by job id, and for an array also by element (:meth:`array_element_id`): an
        element's own entry is preferred to its job's. Jobs it does not know (yet) are left
        out."""
        ...

    def explain_argv(self, command: Sequence[str], job_id: str) -> list[str]:
        """The :attr:`explain_command` for job ``job_id`` (default: the id appended)."""
        ...

    def parse_explain(self, result: CommandResult, job_id: str) -> str | None:
        """Why job ``job_id`` is in its error state, from :meth:`explain_argv`'s result, or
        ``None`` when the output does not say."""
        ...

    def submit_argv(
        self,
        command: Sequence[str],
        options: Sequence[str],
        dependencies: Sequence[str],
        script: str,
    ) -> list[str]:
        """The whole submit command: ``command``, the options that did not go into
        directive lines, the dependency words, and the script (unless on stdin)."""
        ...

    def status_argv(self, command: Sequence[str], job_ids: Sequence[str]) -> list[str]:
        """The one status query for ``job_ids``."""
        ...

    def cancel_argv(self, command: Sequence[str], job_ids: Sequence[str]) -> list[str]:
        """The cancel command for ``job_ids`` (its exit code is ignored: cancelling a job
        that already ended is not an error)."""
        ...

    def accounting_argv(self, command: Sequence[str], job_ids: Sequence[str]) -> list[list[str]]:
        """The accounting commands for ``job_ids`` (one for all, or one per job)."""
        ...

    def array_element_id(self, job_id: str, element: int) -> str:
        """The scheduler's name of element ``element`` of array job ``job_id``
        (``12.3``, ``12[3]``): the handle's ``native_id``."""
        ...

    def notes(self, request: JobRequest) -> list[str]:
        """Things a user should know about how ``request`` is submitted."""
        ...


def _hms(seconds: int) -> str:
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class BaseScheduler:
    """A default for every member of :class:`Scheduler`; subclass it and set what differs.

    The defaults describe a scheduler with no directives, no arrays, no accounting, no
    explanation of error states and an unknown largest node, whose commands are
    ``submit``, ``status ID...`` and ``cancel ID...``; ``parse_submit`` reads the last line
    of output as the id. A subclass must at least set the commands,
    :attr:`state_map` and :meth:`parse_status`.
    """

    name: ClassVar[str] = "batch scheduler"
    directive_prefix: ClassVar[str | None] = None
    script_on_stdin: ClassVar[bool] = False
    submit_command: ClassVar[Sequence[str]] = ("submit",)
    status_command: ClassVar[Sequence[str]] = ("status",)
    status_takes_ids: ClassVar[bool] = True
    cancel_command: ClassVar[Sequence[str]] = ("cancel",)
    accounting_command: ClassVar[Sequence[str] | None] = None
    explain_command: ClassVar[Sequence[str] | None] = None
    lost_grace: ClassVar[float] = 60.0
    submit_validates: ClassVar[bool] = False
    validate_command: ClassVar[Sequence[str] | None] = None
    array_variable: ClassVar[str | None] = None
    array_base: ClassVar[int] = 1
    array_output_token: ClassVar[str | None] = None
    dependency_kind: ClassVar[DependencyKind] = DependencyKind.AFTER_OK
    state_map: ClassVar[Mapping[str, JobState]] = {}
    job_name_max: ClassVar[int | None] = None
    job_name_first: ClassVar[str] = "[A-Za-z0-9_]"
    walltime_grace: ClassVar[int] = 60

    def largest_node(self) -> Capacity | None:
        """Default ``None``: unknown (the first alternative is used, nothing is refused up
        front for its size)."""
        return None

    def name_options(self, name: str) -> list[Option]:
        return []

    def resource_options(self, request: JobRequest) -> list[Option]:
        return []

    def duration_options(self, seconds: int) -> list[Option]:
        return []

    def environment_options(self, environment: Mapping[str, str]) -> list[Option]:
        return []

    def cwd_options(self, path: str) -> list[Option]:
        return []

    def output_options(self, path: str) -> list[Option]:
        return []

    def array_options(self, first: int, last: int, name: str) -> list[Option]:
        return []

    def passthrough_options(self, options: Mapping[str, str]) -> list[Option]:
        """Default: ``KEY: VALUE`` gives ``-KEY VALUE`` for a one-letter key, else
        ``-l KEY=VALUE`` (the PBS and Grid Engine habit)."""
        out = []
        for key, value in options.items():
            out.append([f"-{key}", value] if len(key) == 1 else ["-l", f"{key}={value}"])
        return out

    def dependency_options(self, job_ids: Sequence[str]) -> list[str]:
        return []

    def launcher(self, task: PlanTask) -> list[str]:
        return []

    def parse_submit(self, result: CommandResult) -> str:
        lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        if not lines or " " in lines[-1]:
            raise ValueError(f"expected a job id on the last line, got {result.stdout!r}")
        return lines[-1]

    def parse_status(
        self, result: CommandResult, job_ids: Sequence[str]
    ) -> dict[str, NativeStatus]:
        raise NotImplementedError(f"{type(self).__name__}.parse_status")

    def parse_accounting(
        self, results: Sequence[CommandResult], job_ids: Sequence[str]
    ) -> dict[str, NativeStatus]:
        return {}

    def submit_argv(
        self,
        command: Sequence[str],
        options: Sequence[str],
        dependencies: Sequence[str],
        script: str,
    ) -> list[str]:
        tail = [] if self.script_on_stdin else [script]
        return [*command, *options, *dependencies, *tail]

    def status_argv(self, command: Sequence[str], job_ids: Sequence[str]) -> list[str]:
        return [*command, *job_ids] if self.status_takes_ids else list(command)

    def cancel_argv(self, command: Sequence[str], job_ids: Sequence[str]) -> list[str]:
        return [*command, *job_ids]

    def accounting_argv(self, command: Sequence[str], job_ids: Sequence[str]) -> list[list[str]]:
        return [[*command, *job_ids]] if job_ids else []

    def array_element_id(self, job_id: str, element: int) -> str:
        return f"{job_id}.{element}"

    def explain_argv(self, command: Sequence[str], job_id: str) -> list[str]:
        return [*command, job_id]

    def parse_explain(self, result: CommandResult, job_id: str) -> str | None:
        """Default: the last non-empty line of a successful command's output."""
        lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        return lines[-1] if result.returncode == 0 and lines else None

    def state(self, word: str) -> JobState:
        """:attr:`state_map`'s state for ``word`` (:attr:`JobState.UNKNOWN` if absent)."""
        return self.state_map.get(word, JobState.UNKNOWN)

    def notes(self, request: JobRequest) -> list[str]:
        if request.walltime is None:
            return []
        return [
            f"{request.node_id}: time limit {request.duration}s enforced by the job script; "
            f"the scheduler is asked for {_hms(request.walltime)} "
            f"({self.walltime_grace}s more, to let the script record it)"
        ]

    # -- helpers for subclasses ----------------------------------------------------------
    @staticmethod
    def hms(seconds: int) -> str:
        """``H:MM:SS`` (Grid Engine ``h_rt``, PBS ``walltime``)."""
        return _hms(seconds)

    @staticmethod
    def minutes(seconds: int) -> int:
        """Whole minutes, rounded up, at least 1 (LSF ``-W``, Slurm ``--time``)."""
        return max(1, math.ceil(seconds / 60))

    @staticmethod
    def valid_name(name: str) -> bool:
        """Whether ``name`` is made of ``[A-Za-z0-9_.-]`` only."""
        return re.fullmatch(r"[A-Za-z0-9_.-]+", name) is not None
