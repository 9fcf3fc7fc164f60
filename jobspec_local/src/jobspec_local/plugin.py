"""The plugin module named by the ``local`` entry point of the ``jobspec`` group."""

from __future__ import annotations

from jobspec_core import hookimpl

from .transformer import LocalTransformer

__all__ = ["jobspec_register_transformers", "jobspec_describe_site"]


@hookimpl
def jobspec_register_transformers(register):
    register(LocalTransformer)


@hookimpl
def jobspec_describe_site(transformer, context):
    """This machine, for the ``local`` transformer (:mod:`jobspec_local.describe`)."""
    if getattr(transformer, "name", None) != LocalTransformer.name:
        return None
    from .describe import describe_machine

    return [describe_machine(dict(getattr(context, "options", None) or {}))]
