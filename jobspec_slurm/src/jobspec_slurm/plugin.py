"""The ``slurm`` plugin: registers :class:`~jobspec_slurm.transformer.SlurmTransformer`
through the ``jobspec`` entry-point group (``slurm = "jobspec_slurm.plugin"``)."""

from __future__ import annotations

from jobspec_core import hookimpl

__all__ = ["jobspec_register_transformers"]


@hookimpl
def jobspec_register_transformers(register):
    from .transformer import SlurmTransformer

    register(SlurmTransformer)
