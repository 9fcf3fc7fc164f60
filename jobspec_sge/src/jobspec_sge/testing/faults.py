"""Grid Engine's native conformance faults (the ``jobspec_conformance.faults`` entry point
``sge``): what the suite's fault cases ask for, done with Grid Engine's own commands.

* ``delete_behind``: ``qdel JOB``, as a user or an administrator would.
* ``force_error``: ``qalter -wd /nonexistent JOB`` then ``qmod -f -rj JOB``: the running
  job is rescheduled and cannot enter its working directory, so Grid Engine puts it into
  its error state (``Eqw``), as it does for a job whose directory vanished.
* ``limit_behind`` is not offered: Grid Engine applies ``qalter -l h_rt`` only to jobs
  that have not started (the case is then skipped, with that reason).

Needs a manager account (root on the test cluster) for ``qmod -f``.
"""

from __future__ import annotations

from pathlib import Path

from jobspec_core.transformer import RunContext, TaskHandle

__all__ = ["SgeFaults"]

MISSING = "/nonexistent/jobspec-conformance-force-error"


class SgeFaults:
    """Faults caused natively on the Grid Engine the transformer's commands reach."""

    def __init__(self, transformer) -> None:
        self.transformer = transformer

    def _run(self, argv: list[str], context: RunContext) -> None:
        result = self.transformer.command_runner(context).run(argv, cwd=Path(context.run_dir))
        if result.returncode != 0:
            raise RuntimeError(result.describe())

    @staticmethod
    def _job(handle: TaskHandle) -> str:
        return str(handle.data.get("job", handle.native_id))

    def delete_behind(self, handle: TaskHandle, context: RunContext) -> None:
        self._run(["qdel", self._job(handle)], context)

    def force_error(self, handle: TaskHandle, context: RunContext) -> None:
        self._run(["qalter", "-wd", MISSING, self._job(handle)], context)
        self._run(["qmod", "-f", "-rj", self._job(handle)], context)
