"""jobspec-slurm: the Slurm backend of JobSpec v1.

A top-level task is one ``sbatch`` script (replicas: one job array), a group is one
allocation whose tasks run as ``srun`` steps, ``depends_on`` is ``afterok`` on the ids
``sbatch --parsable`` returned. See :mod:`jobspec_slurm.transformer`.
"""

from __future__ import annotations

from .transformer import SlurmTransformer

__all__ = ["SlurmTransformer"]
