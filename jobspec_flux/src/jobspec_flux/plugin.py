"""The ``flux`` entry point of the ``jobspec`` group: registers :class:`FluxTransformer`."""

from __future__ import annotations

from jobspec_core import hookimpl

__all__ = ["jobspec_register_transformers"]


@hookimpl
def jobspec_register_transformers(register):
    from .transformer import FluxTransformer

    register(FluxTransformer)
