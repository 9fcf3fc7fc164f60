"""Status of a run's task instances: one ``squeue`` call for all of its jobs, then the
records the batch scripts wrote, then fallbacks for jobs Slurm has already forgotten.

Sources, in order:

1. ``squeue -h -r -t all -j ID,ID... -o '%i|%T|%r'``: every job and array element still
   known to the controller (finished jobs stay for ``MinJobAge`` seconds). One call.
2. The status records of the run (``slurm/status/<key>.<index>``, see ``lib.sh``): the exact
   exit code of each command, its timeout, the state of each step inside an allocation,
   and ``never_run`` for the dependents of a failure inside a group.
3. For jobs no longer in ``squeue``: ``scontrol -o show job`` (one call, all jobs) and,
   where ``JobCompType=jobcomp/filetxt`` is configured, the job completion file.

A job in an error state it never leaves by itself (``SPECIAL_EXIT``,
:data:`~jobspec_slurm.states.ERROR_STATES`) is reported FAILED with Slurm's word and
reason, and cancelled, so that its dependents end ``never_run`` (spec Decision 28). A job
``CANCELLED`` without jobspec's cancel says so in its reason.

A job pending with reason ``DependencyNeverSatisfied`` (its parent failed) would wait
forever: it is reported :attr:`~TaskState.NEVER_RUN` and cancelled here. One pending for
a reason saying its partition or nodes can never run it (``PartitionConfig``,
``PartitionNodeLimit``..., :data:`~jobspec_slurm.states.UNRUNNABLE_REASONS`) is reported
:attr:`~TaskState.FAILED` with Slurm's reason, and cancelled.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jobspec_core.errors import BackendError
from jobspec_core.remote import is_remote, local_path
from jobspec_core.transformer import RunContext, TaskHandle, TaskState, TaskStatus

from .commands import run_command, slurm_conf_in_use
from .states import ERROR_STATES, UNRUNNABLE_REASONS, map_state, state_word

__all__ = [
    "JobRow",
    "Record",
    "query_status",
    "cancel_jobs",
    "cancel_unrecorded",
    "jobcomp_file",
    "parse_squeue",
    "parse_records",
    "read_record",
    "combine",
]

_RECORD_STATES = {
    "completed": TaskState.COMPLETED,
    "failed": TaskState.FAILED,
    "timeout": TaskState.TIMEOUT,
    "never_run": TaskState.NEVER_RUN,
}
_FIELD = re.compile(r"(\w+)=(\S*)")


@dataclass
class JobRow:
    """What Slurm says about one job or array element (``123`` or ``123_4``)."""

    state: str
    reason: str | None = None
    exit_code: int | None = None
    source: str = "squeue"


def parse_squeue(text: str) -> dict[str, JobRow]:
    """Rows of ``squeue -o '%i|%T|%r'`` keyed by job id or ``ARRAYID_INDEX``."""
    rows = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) >= 3 and parts[0]:
            reason = parts[2].strip() or None
            rows[parts[0].strip()] = JobRow(parts[1].strip(), None if reason == "None" else reason)
    return rows


def parse_records(text: str, source: str) -> dict[str, JobRow]:
    """``Key=Value`` job lines (``scontrol -o show job``, jobcomp/filetxt) keyed like
    :func:`parse_squeue`; the exit code is the first number of ``ExitCode=N:S``."""
    rows = {}
    for line in text.splitlines():
        fields = dict(_FIELD.findall(line))
        job = fields.get("JobId")
        if not job or "JobState" not in fields:
            continue
        code = fields.get("ExitCode", "")
        exit_code = int(code.split(":")[0]) if code.split(":")[0].isdigit() else None
        reason = fields.get("Reason")
        row = JobRow(
            fields["JobState"], None if reason in (None, "None") else reason, exit_code, source
        )
        rows[job] = row
        array_job, index = fields.get("ArrayJobId"), fields.get("ArrayTaskId")
        if array_job and index and index.isdigit():
            rows[f"{array_job}_{index}"] = row
    return rows


@dataclass
class Record:
    """What a batch script recorded for one instance (see ``templates/lib.sh``)."""

    state: str
    exit_code: int | None = None
    started_at: float | None = None
    finished_at: float | None = None


def _number(words: list[str], i: int, kind=float):
    try:
        return kind(words[i])
    except (IndexError, ValueError):
        return None


def read_record(path: str | None) -> Record | None:
    """The record a batch script wrote at ``path``, or ``None``."""
    if not path:
        return None
    try:
        words = local_path(path).read_text(encoding="utf-8").split()
    except OSError:
        return None
    if not words:
        return None
    return Record(words[0], _number(words, 1, int), _number(words, 2), _number(words, 3))


def combine(kind: str, row: JobRow | None, record: Record | None) -> TaskStatus:
    """The status of one instance from the job's row and the instance's record.

    ``kind`` is ``job``/``array`` (the job runs this instance) or ``step`` (the job is a
    group's allocation and the instance one of the steps inside it).
    """
    if record and record.state in _RECORD_STATES:
        state = _RECORD_STATES[record.state]
        reason = {
            TaskState.NEVER_RUN: "a task it depends on did not succeed",
            TaskState.TIMEOUT: "killed at its duration limit",
        }.get(state)
        if state is TaskState.FAILED:
            reason = f"exit code {record.exit_code}"
        return TaskStatus(state, record.exit_code, reason, record.started_at, record.finished_at)
    if row is None:
        return TaskStatus(
            TaskState.LOST, None, "unknown to squeue, scontrol and the job completion records"
        )
    slurm = map_state(row.state, row.reason)
    started = bool(record and record.state == "running")
    started_at = record.started_at if record else None
    if slurm is TaskState.NEVER_RUN:
        return TaskStatus(TaskState.NEVER_RUN, None, f"{row.reason}: a dependency failed")
    if slurm is TaskState.FAILED and row.reason in UNRUNNABLE_REASONS:
        why = UNRUNNABLE_REASONS.get(row.reason or "", "")
        return TaskStatus(TaskState.FAILED, None, f"Slurm will never run it: {row.reason} ({why})")
    if kind == "step":
        if slurm is TaskState.RUNNING:
            return TaskStatus(
                TaskState.RUNNING if started else TaskState.PENDING, started_at=started_at
            )
        if slurm in (TaskState.PENDING, TaskState.UNKNOWN):
            return TaskStatus(slurm)
        if slurm in (TaskState.CANCELLED, TaskState.TIMEOUT):
            why = "while it ran" if started else "before it started"
            return TaskStatus(slurm, None, f"allocation ended {row.state} {why}", started_at)
        return TaskStatus(
            TaskState.FAILED, None, f"allocation ended {row.state} without recording this step"
        )
    reason = row.reason if slurm in (TaskState.FAILED, TaskState.CANCELLED) else None
    if state_word(row.state) in ERROR_STATES:
        why = f" ({row.reason})" if row.reason else ""
        reason = f"in Slurm's error state {state_word(row.state)}{why}"
    elif slurm is TaskState.CANCELLED and not reason:
        reason = "cancelled in Slurm outside jobspec (scancel or an administrator)"
    if slurm is TaskState.TIMEOUT:
        reason = "killed by Slurm at its --time limit"
    return TaskStatus(slurm, row.exit_code if slurm.terminal else None, reason, started_at)


def _squeue(
    job_ids: list[str], options: Mapping[str, str], records: str | None = None
) -> dict[str, JobRow]:
    args = ["-h", "-r", "-t", "all", "-j", ",".join(job_ids), "-o", "%i|%T|%r"]
    result = run_command("squeue", args, options, collect=records)
    if result.ok:
        return parse_squeue(result.stdout)
    if "invalid job id" in result.message().lower():
        return {}  # every job has left squeue (MinJobAge)
    raise BackendError(f"squeue failed ({slurm_conf_in_use()}): {result.message()}")


def _scontrol_all(options: Mapping[str, str]) -> dict[str, JobRow]:
    result = run_command("scontrol", ["-o", "show", "job"], options)
    return parse_records(result.stdout, "scontrol") if result.ok else {}


def jobcomp_file() -> Path | None:
    """The jobcomp/filetxt file named by the slurm.conf clients use, if configured."""
    conf = Path(os.environ.get("SLURM_CONF") or "/etc/slurm/slurm.conf")
    try:
        lines = conf.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    settings = {}
    for line in lines:
        key, eq, value = line.split("#", 1)[0].strip().partition("=")
        if eq:
            settings[key.strip().lower()] = value.strip()
    if settings.get("jobcomptype", "").lower() != "jobcomp/filetxt":
        return None
    location = settings.get("jobcomploc")
    return Path(location) if location else None


def _jobcomp(options: Mapping[str, str]) -> dict[str, JobRow]:
    # the slurm.conf of a remote cluster is not on this machine
    path = None if is_remote(options) else jobcomp_file()
    if path is None:
        return {}
    try:
        return parse_records(path.read_text(encoding="utf-8", errors="replace"), "jobcomp")
    except OSError:
        return {}


def _job_of(handle: TaskHandle) -> str:
    return str(handle.data.get("job") or handle.native_id.split("_")[0])


def _recorded_final(handle: TaskHandle) -> bool:
    record = read_record(handle.data.get("record"))
    return bool(record and record.state in _RECORD_STATES)


def _records_dir(handles: Sequence[TaskHandle]) -> str | None:
    record = next((h.data["record"] for h in handles if h.data.get("record")), None)
    return str(Path(record).parent) if record else None


def _row_key(handle: TaskHandle) -> str:
    return _job_of(handle) if handle.data.get("kind") == "step" else handle.native_id


def query_status(
    handles: Sequence[TaskHandle], context: RunContext
) -> dict[tuple[str, int], TaskStatus]:
    """The status of every handle (see the module docstring); cancels jobs that can never
    run. Raises :class:`BackendError` when squeue cannot be asked."""
    if not handles:
        return {}
    options = context.options
    jobs = sorted({_job_of(h) for h in handles}, key=lambda j: (len(j), j))
    # the records come back with squeue's answer on a remote run: one command per poll
    rows = _squeue(jobs, options, _records_dir(handles))
    missing = [h for h in handles if _row_key(h) not in rows]
    if any(not _recorded_final(h) for h in missing):
        found = _scontrol_all(options)
        for key, row in found.items():
            rows.setdefault(key, row)
        if any(_row_key(h) not in rows for h in missing):
            for key, row in _jobcomp(options).items():
                rows.setdefault(key, row)
    statuses = {}
    never: set[str] = set()
    for handle in handles:
        row = rows.get(_row_key(handle))
        status = combine(
            str(handle.data.get("kind", "job")), row, read_record(handle.data.get("record"))
        )
        if row is not None and state_word(row.state) in ERROR_STATES:
            never.add(_job_of(handle))  # held forever otherwise, its dependents with it
            status.reason = f"{status.reason}; cancelled by jobspec"
        elif (
            status.state in (TaskState.NEVER_RUN, TaskState.FAILED)
            and row is not None
            and map_state(row.state) is TaskState.PENDING
        ):
            never.add(_job_of(handle))
            if status.state is TaskState.NEVER_RUN:
                status.reason = f"{row.reason}: a dependency failed"
            status.reason += "; cancelled by jobspec"
        statuses[handle.key] = status
    if never:
        run_command("scancel", sorted(never), options)
    return statuses


def cancel_unrecorded(handles: Sequence[TaskHandle], context: RunContext) -> list[str]:
    """``scancel`` the jobs whose batch script lies in this run's directory but that no
    handle names (sbatch accepted them as the submitter was killed); their ids. One
    ``squeue`` of this user's unfinished jobs (``%o`` is a batch job's script path)."""
    known = {_job_of(h) for h in handles}
    prefix = str(context.run_dir).rstrip("/") + "/"
    user = ["--me"] if is_remote(context.options) else ["-u", str(os.getuid())]
    args = ["-h", *user, "-t", "PD,R,CG,S,CF,RQ", "-o", "%i|%o"]
    result = run_command("squeue", args, context.options)
    if not result.ok:
        raise BackendError(f"squeue failed ({slurm_conf_in_use()}): {result.message()}")
    strays = []
    for line in result.stdout.splitlines():
        job, _, script = line.strip().partition("|")
        job = job.split("_")[0]
        if script.startswith(prefix) and job not in known and job not in strays:
            strays.append(job)
    if strays:
        run_command("scancel", strays, context.options)
    return strays


def cancel_jobs(handles: Sequence[TaskHandle], context: RunContext) -> None:
    """``scancel`` every job carrying ``handles`` (whole allocations for steps, array
    elements one by one); already finished jobs are ignored."""
    targets = sorted({_row_key(h) if h.data.get("kind") != "step" else _job_of(h) for h in handles})
    if not targets:
        return
    result = run_command("scancel", targets, context.options)
    if (
        not result.ok
        and "already completed" not in result.message().lower()
        and "invalid job id" not in result.message().lower()
    ):
        raise BackendError(f"scancel failed ({slurm_conf_in_use()}): {result.message()}")
