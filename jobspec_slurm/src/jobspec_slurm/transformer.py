"""The Slurm transformer: the :class:`~jobspec_core.transformer.Transformer` contract on top
of :mod:`.render` (scripts), :mod:`.submit` (sbatch), :mod:`.status` (squeue and records).

Options (``RunContext.options``, or ``JOBSPEC_SLURM_<NAME>`` in the environment):
``sbatch``, ``squeue``, ``scontrol``, ``scancel``, ``sinfo`` replace the executables
(a wrapper that counts calls, a site's own submit filter). Clients read ``SLURM_CONF``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from jobspec_core.errors import BackendError
from jobspec_core.plan import Plan
from jobspec_core.transformer import (
    RunContext,
    Submission,
    TaskHandle,
    TaskState,
    TaskStatus,
    Transformer,
)

from .render import render_plan
from .status import cancel_jobs, query_status
from .submit import submit_plan

__all__ = ["SlurmTransformer"]


class SlurmTransformer(Transformer):
    """Slurm: sbatch scripts, srun steps inside a group's allocation, job arrays, afterok."""

    name = "slurm"
    description = "Slurm (sbatch scripts, srun steps in allocations, job arrays, afterok)"
    capabilities = frozenset(
        {
            "tasks",
            "command",
            "portable-variables",
            "replicas",
            "depends_on",
            "groups",
            "groups.nested",
            "groups.depends_on",
            "local",
            "resources",
            "resources.named",
            "resources.alternatives",
            "resources.gpu",
            "attributes.duration",
            "attributes.environment",
            "attributes.cwd",
            "attributes.watch",
            "requires",
            "steps.stage",
            "steps.write",
            "passthrough",
        }
    )
    # attributes.watch: each instance's output file (handle.log) is written by Slurm while
    # the task runs, and `jobspec run` streams the files of watched tasks.
    poll_interval = 1.0
    #: replicas of a top-level task are one job array (one sbatch).
    array_submissions = True
    #: longest pause between two status attempts while the controller does not answer.
    max_backoff = 10.0

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

    def wait(
        self,
        handles: Sequence[TaskHandle],
        context: RunContext,
        timeout: float | None = None,
    ) -> dict[tuple[str, int], TaskStatus]:
        """Poll until every handle is terminal or ``timeout`` passes. While the controller
        does not answer, keep trying with a growing pause (up to :attr:`max_backoff`)
        and report the handles as ``unknown`` meanwhile; carry on when it is back."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = self.poll_interval
        statuses: dict[tuple[str, int], TaskStatus] = {}
        while True:
            try:
                statuses = self.status(handles, context)
                pause = self.poll_interval
            except BackendError as exc:
                statuses = {h.key: TaskStatus(TaskState.UNKNOWN, None, str(exc)) for h in handles}
                pause = min(pause * 2, self.max_backoff)
            else:
                if all(s.state.terminal for s in statuses.values()):
                    return statuses
            if deadline is not None and time.monotonic() >= deadline:
                return statuses
            if deadline is not None:
                time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
            else:
                time.sleep(pause)
