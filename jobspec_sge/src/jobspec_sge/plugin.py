"""The ``sge`` plugin: registers :class:`~jobspec_sge.transformer.SgeTransformer` through
the ``jobspec`` entry-point group (``sge = "jobspec_sge.plugin"``)."""

from __future__ import annotations

from jobspec_core import hookimpl

__all__ = ["jobspec_register_transformers"]


@hookimpl
def jobspec_register_transformers(register):
    from .transformer import SgeTransformer

    register(SgeTransformer)
