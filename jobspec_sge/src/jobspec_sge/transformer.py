"""The ``sge`` transformer: jobspec-core's batch layer speaking Grid Engine."""

from __future__ import annotations

from jobspec_core.batch import BatchTransformer

from .scheduler import GridEngine

__all__ = ["SgeTransformer"]


class SgeTransformer(BatchTransformer):
    """Runs jobspecs on Grid Engine (``qsub``/``qstat``/``qacct``/``qdel`` on PATH).

    ``JOBSPEC_SGE_SCHEDULER=local`` runs it on the layer's stand-in scheduler instead
    (Grid Engine's command shapes, no Grid Engine needed).
    """

    name = "sge"
    description = "Grid Engine: qsub job scripts, array jobs (-t), -hold_jid, h_rt, -pe smp"
    scheduler = GridEngine()
    standin = "sge"
