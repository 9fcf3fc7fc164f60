"""The plugin module named by the ``local`` entry point of the ``jobspec`` group."""

from __future__ import annotations

from jobspec_core import hookimpl

from .transformer import LocalTransformer

__all__ = ["jobspec_register_transformers"]


@hookimpl
def jobspec_register_transformers(register):
    register(LocalTransformer)
