"""The scheduler this transformer talks to: PBS (the shapes of PBS Pro / OpenPBS). FILL THIS IN.

Everything scheduler-specific lives here: the commands, the ``#PBS`` directive lines, the
arguments of a submission, and how to read ``qsub`` and ``qstat``. The transformer
(``transformer.py``) and the script template (``templates/job.sh.tmpl``) stay the same.

Shapes used (check them against your site's PBS manual, ``man qsub`` and ``man qstat``):

* ``qsub [-W depend=afterok:ID[:ID]...] SCRIPT`` prints the new job id (``123.server``);
* ``qstat -x -f -F json ID...`` prints ``{"Jobs": {ID: {"job_state": ..., "Exit_status": N}}}``
  (``-x`` includes finished jobs); an unknown id is reported on standard error;
* ``qdel ID...`` deletes jobs.

Torque's ``qstat`` has no JSON output (``qstat -f -x`` prints XML): change
:data:`NATIVE_COMMANDS` and :func:`parse_status` for it.

Until you change :data:`DEFAULT_MODE`, every command runs through the stand-in scheduler
``localsched.py``, which accepts these shapes and runs the script with the local shell.
"""

from __future__ import annotations

import json
import os

from jobspec_core.plan import PlanTask

from .native import JobRequest, JobState, NativeStatus, NodeShape, walltime_seconds

__all__ = [
    "KIND",
    "DEFAULT_MODE",
    "LARGEST_NODE",
    "NATIVE_COMMANDS",
    "SCRIPT_ON_STDIN",
    "STATE_MAP",
    "directives",
    "launcher",
    "submit_args",
    "parse_submit",
    "parse_status",
    "notes",
]

KIND = "pbs"

#: ``local``: run every command through the stand-in (``python -m <package>.localsched``
#: followed by the command below); ``native``: run the commands below as they are.
#: Overridden per run by the ``<NAME>_SCHEDULER`` environment variable.
DEFAULT_MODE = "local"

#: The scheduler's commands, as argv lists; job ids are appended to status and cancel,
#: :func:`submit_args` and the script to submit. Each can be overridden by an environment
#: variable (``<NAME>_SUBMIT``, ``<NAME>_STATUS``, ``<NAME>_CANCEL``, split like a shell).
NATIVE_COMMANDS: dict[str, list[str]] = {
    "submit": ["qsub"],
    "status": ["qstat", "-x", "-f", "-F", "json"],
    "cancel": ["qdel"],
}

#: The largest node of the cluster: ``a|b`` resource alternatives use the first that fits.
#: As generated it is this machine (right for the stand-in scheduler): set your nodes'.
LARGEST_NODE = NodeShape(cores=os.cpu_count() or 1, gpus=0, memory=0)

#: True when the scheduler reads the script on standard input instead of as an argument.
SCRIPT_ON_STDIN = False

#: PBS ``job_state`` letters -> ours (PBS Professional Reference Guide, "Job States").
STATE_MAP: dict[str, JobState] = {
    "Q": JobState.PENDING,  # queued
    "H": JobState.PENDING,  # held (a dependency not yet satisfied, or a hold)
    "W": JobState.PENDING,  # waiting for its start time
    "T": JobState.PENDING,  # in transit
    "M": JobState.PENDING,  # moved to another server
    "S": JobState.RUNNING,  # suspended
    "U": JobState.RUNNING,  # suspended (workstation busy)
    "R": JobState.RUNNING,  # running
    "B": JobState.RUNNING,  # array job: at least one subjob started
    "E": JobState.RUNNING,  # exiting
    "F": JobState.FINISHED,  # finished (shown with qstat -x)
    "X": JobState.FINISHED,  # subjob finished
}


def _hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def directives(request: JobRequest) -> list[str]:
    """The ``#PBS`` lines of ``request``'s script (right after ``#!/bin/sh``)."""
    chunk = f"select={request.slots}:ncpus={request.cores_per_slot}"
    if request.gpus_per_slot:
        chunk += f":ngpus={request.gpus_per_slot}"
    if request.memory_per_slot:
        chunk += f":mem={request.memory_per_slot}mb"
    lines = [f"#PBS -N {request.name[:15]}", f"#PBS -l {chunk}"]
    walltime = walltime_seconds(request)
    if walltime is not None:
        lines.append(f"#PBS -l walltime={_hms(walltime)}")
    if request.output:
        lines += [f"#PBS -o {request.output}", "#PBS -j oe"]
    for key, value in request.passthrough.items():
        # mysite.q: debug -> "#PBS -q debug"; mysite.place: scatter -> "#PBS -l place=scatter"
        lines.append(f"#PBS -{key} {value}" if len(key) == 1 else f"#PBS -l {key}={value}")
    return lines


def launcher(task: PlanTask) -> list[str]:
    """Words put before each task instance's command inside the job script, to place the
    instance on the allocation's nodes: for example ``["mpiexec", "-n", str(slots)]``,
    with ``slots = task.resources.preferred.slots``.

    Empty (the default): every instance runs on the node where the job script runs, which
    is right for single-node jobs and for commands that launch themselves (``mpirun``).
    """
    return []


def submit_args(request: JobRequest, after: list[str]) -> list[str]:
    """The arguments of ``qsub`` for ``request``, the script last.

    :param after: ids of the jobs it must wait for (``{id:NODE}`` placeholders at render
        time, replaced by the real ids when submitting).
    """
    args: list[str] = []
    if after:
        args += ["-W", "depend=afterok:" + ":".join(after)]
    return args + [request.script]


def parse_submit(stdout: str) -> str:
    """The new job's id from ``qsub``'s standard output (``123.server``).

    :raises ValueError: when there is none.
    """
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    if not lines or " " in lines[-1]:
        raise ValueError(f"expected a job id such as 123.server, got {stdout!r}")
    return lines[-1]


def parse_status(
    stdout: str, stderr: str, returncode: int, ids: list[str]
) -> dict[str, NativeStatus]:
    """Each known id's :class:`NativeStatus` from ``qstat -x -f -F json ID...``.

    ``qstat`` exits non-zero when one of the ids is unknown but still prints the others;
    ids it leaves out are unknown.

    :raises ValueError: when there is no readable JSON at all.
    """
    if not stdout.strip():
        if returncode != 0 and "Unknown Job Id" not in stderr:
            raise ValueError(f"qstat exited with {returncode}: {stderr.strip()}")
        return {}
    try:
        jobs = json.loads(stdout).get("Jobs", {})
    except (ValueError, AttributeError) as exc:
        raise ValueError(f"qstat printed no readable JSON: {stdout[:200]!r}") from exc
    found: dict[str, NativeStatus] = {}
    for job_id, info in jobs.items():
        letter = str(info.get("job_state", "?"))
        state = STATE_MAP.get(letter, JobState.UNKNOWN)
        code = info.get("Exit_status")
        found[job_id] = NativeStatus(state, int(code) if code is not None else None, letter)
    return found


def notes(request: JobRequest) -> list[str]:
    """Things a user should know about how ``request`` is submitted."""
    out = []
    if request.duration is not None:
        out.append(
            f"{request.name}: time limit {request.duration}s enforced by the job script; "
            f"#PBS -l walltime={_hms(walltime_seconds(request))} leaves it time to record it"
        )
    if len(request.name) > 15:
        out.append(f"{request.name}: job name cut to 15 characters for #PBS -N")
    return out
