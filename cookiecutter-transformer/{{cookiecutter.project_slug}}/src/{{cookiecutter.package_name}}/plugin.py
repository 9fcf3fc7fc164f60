"""The plugin module named by the ``jobspec`` entry point in ``pyproject.toml``.

jobspec loads it through that entry point only, and calls the hook below to learn the
transformer (see ``jobspec_core.hookspecs`` for the contract of each hook).
"""

from __future__ import annotations

from jobspec_core import hookimpl

from .transformer import {{ cookiecutter.__class_name }}

__all__ = ["jobspec_register_transformers"]


@hookimpl
def jobspec_register_transformers(register):
    register({{ cookiecutter.__class_name }})
