"""The scheduler this transformer talks to: a generic batch scheduler. FILL THIS IN.

Everything scheduler-specific lives here: the commands, the script's directive lines, the
arguments of a submission, and how to read the scheduler's answers. The transformer
(``transformer.py``) and the script template (``templates/job.sh.tmpl``) stay the same.

The generic scheduler is driven by three commands that speak this small protocol (write
thin wrappers around your site's tools, or change the functions below to speak theirs):

``submit [--after ID]... [--name NAME] [--time SECONDS] [--slots N] [--cores-per-slot N]
[--gpus-per-slot N] [--memory-per-slot MIB] [--nodes N] [--option KEY=VALUE]... SCRIPT``
    Queue ``SCRIPT`` (run it with ``/bin/sh``); start it only after every ``--after`` job
    ended with exit code 0. Print the new job's id as the last line of standard output.
``status ID...``
    Print one line per known id: ``ID STATE EXIT`` where STATE is one of ``queued held
    running done cancelled`` and EXIT is the exit code or ``-``. Unknown ids are left out.
``cancel ID...``
    Stop those jobs (queued or running); ids that already ended are ignored.

Until you change :data:`DEFAULT_MODE`, every command runs through the stand-in scheduler
``localsched.py``, which implements this protocol with the local shell.
"""

from __future__ import annotations

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

KIND = "generic"

#: ``local``: run every command through the stand-in (``python -m <package>.localsched``
#: followed by the command below); ``native``: run the commands below as they are.
#: Overridden per run by the ``<NAME>_SCHEDULER`` environment variable.
DEFAULT_MODE = "local"

#: The scheduler's commands, as argv lists; job ids are appended to status and cancel,
#: :func:`submit_args` and the script to submit. Each can be overridden by an environment
#: variable (``<NAME>_SUBMIT``, ``<NAME>_STATUS``, ``<NAME>_CANCEL``, split like a shell).
NATIVE_COMMANDS: dict[str, list[str]] = {
    "submit": ["submit"],
    "status": ["status"],
    "cancel": ["cancel"],
}

#: The largest node of the cluster: ``a|b`` resource alternatives use the first that fits.
#: As generated it is this machine (right for the stand-in scheduler): set your nodes'.
LARGEST_NODE = NodeShape(cores=os.cpu_count() or 1, gpus=0, memory=0)

#: True when the scheduler reads the script on standard input instead of as an argument.
SCRIPT_ON_STDIN = False

#: The protocol's states -> ours.
STATE_MAP: dict[str, JobState] = {
    "queued": JobState.PENDING,
    "held": JobState.PENDING,
    "running": JobState.RUNNING,
    "done": JobState.FINISHED,
    "cancelled": JobState.FINISHED,
}


def directives(request: JobRequest) -> list[str]:
    """Lines placed right after ``#!/bin/sh`` in the job script. The generic protocol takes
    everything as ``submit`` arguments, so these are comments for a person reading it."""
    return [f"# job {request.name}: {request.slots} slot(s) of {request.cores_per_slot} core(s)"]


def launcher(task: PlanTask) -> list[str]:
    """Words put before each task instance's command inside the job script, to place the
    instance on the allocation's nodes: for example ``["mpiexec", "-n", str(slots)]``,
    with ``slots = task.resources.preferred.slots``.

    Empty (the default): every instance runs on the node where the job script runs, which
    is right for single-node jobs and for commands that launch themselves (``mpirun``).
    """
    return []


def submit_args(request: JobRequest, after: list[str]) -> list[str]:
    """The arguments of ``submit`` for ``request``, the script last.

    :param after: ids of the jobs it must wait for (``{id:NODE}`` placeholders at render
        time, replaced by the real ids when submitting).
    """
    args: list[str] = []
    for job_id in after:
        args += ["--after", job_id]
    args += ["--name", request.name]
    walltime = walltime_seconds(request)
    if walltime is not None:
        args += ["--time", str(walltime)]
    args += ["--slots", str(request.slots), "--cores-per-slot", str(request.cores_per_slot)]
    if request.gpus_per_slot:
        args += ["--gpus-per-slot", str(request.gpus_per_slot)]
    if request.memory_per_slot:
        args += ["--memory-per-slot", str(request.memory_per_slot)]
    if request.nodes:
        args += ["--nodes", str(request.nodes)]
    for key, value in request.passthrough.items():  # mysite.queue: debug -> --option queue=debug
        args += ["--option", f"{key}={value}"]
    return args + [request.script]


def parse_submit(stdout: str) -> str:
    """The new job's id from ``submit``'s standard output (its last non-empty line).

    :raises ValueError: when there is none.
    """
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    if not lines or " " in lines[-1]:
        raise ValueError(f"expected a job id on the last line, got {stdout!r}")
    return lines[-1]


def parse_status(
    stdout: str, stderr: str, returncode: int, ids: list[str]
) -> dict[str, NativeStatus]:
    """Each known id's :class:`NativeStatus` from ``status ID...``; ids left out are unknown.

    :raises ValueError: when the command failed or printed something unreadable.
    """
    if returncode != 0:
        raise ValueError(f"status exited with {returncode}: {stderr.strip() or stdout.strip()}")
    found: dict[str, NativeStatus] = {}
    for line in stdout.splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3 or parts[1] not in STATE_MAP:
            raise ValueError(
                f"expected 'ID STATE EXIT' with STATE one of {sorted(STATE_MAP)}, got {line!r}"
            )
        job_id, state, code = parts
        exit_code = int(code) if code.lstrip("-").isdigit() else None
        found[job_id] = NativeStatus(STATE_MAP[state], exit_code, state)
    return found


def notes(request: JobRequest) -> list[str]:
    """Things a user should know about how ``request`` is submitted."""
    if request.duration is None:
        return []
    return [
        f"{request.name}: time limit {request.duration}s enforced by the job script; "
        f"the scheduler is asked for {walltime_seconds(request)}s"
    ]
