"""The scheduler this transformer talks to: IBM Spectrum LSF. FILL THIS IN.

Everything scheduler-specific lives here: the commands, the ``#BSUB`` directive lines, the
arguments of a submission, and how to read ``bsub`` and ``bjobs``. The transformer
(``transformer.py``) and the script template (``templates/job.sh.tmpl``) stay the same.

Shapes used (check them against your site's LSF manual, ``man bsub`` and ``man bjobs``):

* ``bsub [-w "done(ID) && done(ID)"] < SCRIPT``: the script is given on standard input,
  because LSF reads ``#BSUB`` lines only from a script it is fed that way; it prints
  ``Job <123> is submitted to queue <normal>.``;
* ``bjobs -noheader -o "jobid stat exit_code delimiter=','" ID...`` prints ``123,DONE,-``
  per job; an unknown id is reported on standard error (``Job <123> is not found``);
* ``bkill ID...`` kills jobs.

LSF's ``-W`` run limit counts minutes: durations are rounded up (and a note says so).

Until you change :data:`DEFAULT_MODE`, every command runs through the stand-in scheduler
``localsched.py``, which accepts these shapes and runs the script with the local shell.
"""

from __future__ import annotations

import math
import os
import re

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

KIND = "lsf"

#: ``local``: run every command through the stand-in (``python -m <package>.localsched``
#: followed by the command below); ``native``: run the commands below as they are.
#: Overridden per run by the ``<NAME>_SCHEDULER`` environment variable.
DEFAULT_MODE = "local"

#: The scheduler's commands, as argv lists; job ids are appended to status and cancel,
#: :func:`submit_args` to submit. Each can be overridden by an environment variable
#: (``<NAME>_SUBMIT``, ``<NAME>_STATUS``, ``<NAME>_CANCEL``, split like a shell).
NATIVE_COMMANDS: dict[str, list[str]] = {
    "submit": ["bsub"],
    "status": ["bjobs", "-noheader", "-o", "jobid stat exit_code delimiter=','"],
    "cancel": ["bkill"],
}

#: The largest node of the cluster: ``a|b`` resource alternatives use the first that fits.
#: As generated it is this machine (right for the stand-in scheduler): set your nodes'.
LARGEST_NODE = NodeShape(cores=os.cpu_count() or 1, gpus=0, memory=0)

#: True when the scheduler reads the script on standard input instead of as an argument.
SCRIPT_ON_STDIN = True

#: ``bjobs`` STAT values -> ours (IBM Spectrum LSF command reference, "bjobs", job states).
STATE_MAP: dict[str, JobState] = {
    "PEND": JobState.PENDING,  # pending (dependencies, resources)
    "WAIT": JobState.PENDING,  # chunk job member waiting
    "PSUSP": JobState.PENDING,  # suspended while pending
    "RUN": JobState.RUNNING,
    "USUSP": JobState.RUNNING,  # suspended by its owner while running
    "SSUSP": JobState.RUNNING,  # suspended by LSF while running
    "DONE": JobState.FINISHED,  # exit code 0
    "EXIT": JobState.FINISHED,  # non-zero exit, killed, or never run
    "ZOMBI": JobState.FINISHED,  # killed while its host was unreachable
    "UNKWN": JobState.UNKNOWN,  # the host is unreachable
}


def _minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


def directives(request: JobRequest) -> list[str]:
    """The ``#BSUB`` lines of ``request``'s script (right after ``#!/bin/sh``)."""
    lines = [f"#BSUB -J {request.name}", f"#BSUB -n {request.slots}"]
    if request.cores_per_slot > 1:
        lines.append(f'#BSUB -R "affinity[core({request.cores_per_slot})]"')
    if request.gpus_per_slot:
        lines.append(f'#BSUB -gpu "num={request.gpus_per_slot}"')
    if request.memory_per_slot:
        lines.append(f'#BSUB -R "rusage[mem={request.memory_per_slot}MB]"')
    walltime = walltime_seconds(request)
    if walltime is not None:
        lines.append(f"#BSUB -W {_minutes(walltime)}")
    if request.output:
        lines.append(f"#BSUB -o {request.output}")
    for key, value in request.passthrough.items():  # mysite.q: debug -> "#BSUB -q debug"
        lines.append(f"#BSUB -{key} {value}")
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
    """The arguments of ``bsub`` for ``request`` (the script goes on standard input).

    :param after: ids of the jobs it must wait for (``{id:NODE}`` placeholders at render
        time, replaced by the real ids when submitting).
    """
    if not after:
        return []
    return ["-w", " && ".join(f"done({job_id})" for job_id in after)]


_SUBMITTED = re.compile(r"Job <([^>]+)> is submitted")


def parse_submit(stdout: str) -> str:
    """The new job's id from ``bsub``'s ``Job <123> is submitted to queue <normal>.``

    :raises ValueError: when there is none.
    """
    match = _SUBMITTED.search(stdout)
    if not match:
        raise ValueError(f"expected 'Job <ID> is submitted ...', got {stdout!r}")
    return match.group(1)


def parse_status(
    stdout: str, stderr: str, returncode: int, ids: list[str]
) -> dict[str, NativeStatus]:
    """Each known id's :class:`NativeStatus` from ``bjobs -o "jobid stat exit_code"``.

    ``bjobs`` exits non-zero when an id is unknown but still prints the others; ids it
    leaves out are unknown.

    :raises ValueError: when a line cannot be read.
    """
    if not stdout.strip() and returncode != 0 and "not found" not in stderr:
        raise ValueError(f"bjobs exited with {returncode}: {stderr.strip()}")
    found: dict[str, NativeStatus] = {}
    for line in stdout.splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3:
            raise ValueError(f"expected 'JOBID,STAT,EXIT_CODE', got {line!r}")
        job_id, stat, code = parts
        exit_code = int(code) if code.lstrip("-").isdigit() else None
        if stat == "DONE" and exit_code is None:
            exit_code = 0
        found[job_id] = NativeStatus(STATE_MAP.get(stat, JobState.UNKNOWN), exit_code, stat)
    return found


def notes(request: JobRequest) -> list[str]:
    """Things a user should know about how ``request`` is submitted."""
    if request.duration is None:
        return []
    walltime = walltime_seconds(request)
    return [
        f"{request.name}: time limit {request.duration}s enforced by the job script; "
        f"#BSUB -W {_minutes(walltime)} (minutes, rounded up) leaves it time to record it"
    ]
