"""The Slurm transformer: the :class:`~jobspec_core.transformer.Transformer` contract on top
of :mod:`.render` (scripts), :mod:`.submit` (sbatch), :mod:`.status` (squeue and records).

Options (``RunContext.options``, or ``JOBSPEC_SLURM_<NAME>`` in the environment):
``sbatch``, ``squeue``, ``scontrol``, ``scancel``, ``sinfo`` replace the executables
(a wrapper that counts calls, a site's own submit filter). Clients read ``SLURM_CONF``.
"""

from __future__ import annotations

from collections.abc import Sequence

from jobspec_core.alternatives import Capacity
from jobspec_core.features import FEATURES
from jobspec_core.plan import Plan
from jobspec_core.transformer import (
    RunContext,
    Submission,
    TaskHandle,
    TaskStatus,
    Transformer,
)

from .render import render_plan
from .status import cancel_jobs, cancel_unrecorded, query_status
from .submit import cluster_capacity, submit_plan

__all__ = ["SlurmTransformer"]


class SlurmTransformer(Transformer):
    """Slurm: sbatch scripts, srun steps inside a group's allocation, job arrays, afterok."""

    name = "slurm"
    description = "Slurm (sbatch scripts, srun steps in allocations, job arrays, afterok)"
    capabilities = frozenset(FEATURES)  # every feature of JobSpec v1
    # attributes.watch: each instance's output file (handle.log) is written by Slurm while
    # the task runs, and `jobspec run` streams the files of watched tasks.
    poll_interval = 1.0
    #: replicas of a top-level task are one job array (one sbatch).
    array_submissions = True
    #: each job is reported (report_submitted) as soon as sbatch has accepted it.
    records_submissions = True
    #: every command goes through :func:`jobspec_slurm.commands.run_command`, which runs
    #: it through the core's runner of a remote run: ``--remote`` works.
    remote = True

    def capacity(self, plan: Plan, context: RunContext) -> Capacity | None:
        """The cluster from one ``sinfo``, only when the plan has resource alternatives;
        see :func:`jobspec_slurm.submit.cluster_capacity`."""
        return cluster_capacity(plan, context.options)

    def render(self, plan: Plan, context: RunContext) -> Submission:
        """Scripts for every top-level node; see :mod:`jobspec_slurm.render`."""
        return render_plan(plan, context)

    def submit(self, plan: Plan, submission: Submission, context: RunContext) -> list[TaskHandle]:
        """``sbatch --parsable`` each unit in order; see :mod:`jobspec_slurm.submit`."""
        return submit_plan(plan, submission, context)

    def status(
        self, handles: Sequence[TaskHandle], context: RunContext
    ) -> dict[tuple[str, int], TaskStatus]:
        """One squeue call plus the run's records; see :mod:`jobspec_slurm.status`."""
        return query_status(handles, context)

    def cancel(self, handles: Sequence[TaskHandle], context: RunContext) -> None:
        """scancel the jobs carrying ``handles`` (a step's whole allocation)."""
        cancel_jobs(handles, context)

    def cancel_run(self, handles: Sequence[TaskHandle], context: RunContext) -> list[str]:
        """:meth:`cancel`, then any job of the run no handle names
        (:func:`~jobspec_slurm.status.cancel_unrecorded`); the ids of those."""
        if handles:
            cancel_jobs(handles, context)
        return cancel_unrecorded(handles, context)
