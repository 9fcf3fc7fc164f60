"""Slurm's conformance faults: what the conformance suite's fault cases ask Slurm to do
natively, behind jobspec's back (the contract: ``jobspec_conformance.faults``).

Registered through the entry point ``slurm`` in the group ``jobspec_conformance.faults``.
Each action works on the Slurm job carrying the instance (an array element ``123_4``, or a
group's allocation for a task inside it) with Slurm's own client commands, as an
administrator would; the commands are found as the backend finds them
(:func:`jobspec_slurm.commands.run_command`: ``SLURM_CONF``, ``-o scancel=...``).
"""

from __future__ import annotations

import math

from jobspec_core.errors import BackendError
from jobspec_core.transformer import RunContext, TaskHandle

from ..commands import run_command

__all__ = ["SlurmFaults"]


def carrying_job(handle: TaskHandle) -> str:
    """The Slurm job id carrying ``handle``: its group's job for a step inside an allocation,
    else its own id (``123`` or the array element ``123_4``)."""
    if handle.data.get("kind") == "step" and handle.data.get("job"):
        return str(handle.data["job"])
    return handle.native_id


class SlurmFaults:
    """Faults caused with scancel and scontrol; constructed with the transformer (unused)."""

    def __init__(self, transformer: object = None) -> None:
        self.transformer = transformer

    def _run(self, name: str, args: list[str], context: RunContext) -> None:
        result = run_command(name, args, context.options)
        if result.returncode != 0:
            raise BackendError(
                f"{name} {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}"
            )

    def delete_behind(self, handle: TaskHandle, context: RunContext) -> None:
        """``scancel JOB``: the job is deleted as its owner or an administrator would."""
        self._run("scancel", [carrying_job(handle)], context)

    def force_error(self, handle: TaskHandle, context: RunContext) -> None:
        """``scontrol requeuehold State=SpecialExit JOB``: the job is stopped and held in
        Slurm's SPECIAL_EXIT state (it would wait there until released)."""
        self._run("scontrol", ["requeuehold", "State=SpecialExit", carrying_job(handle)], context)

    def limit_behind(self, handle: TaskHandle, context: RunContext, seconds: int) -> None:
        """``scontrol update JobId=JOB TimeLimit=M``: Slurm counts whole minutes, so the
        limit is ``seconds`` rounded up to minutes."""
        minutes = max(1, math.ceil(seconds / 60))
        job = carrying_job(handle)
        self._run("scontrol", ["update", f"JobId={job}", f"TimeLimit={minutes}"], context)
