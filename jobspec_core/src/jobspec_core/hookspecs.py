"""The hooks of jobspec. Each hook's docstring is its contract.

Plugins implement them with ``@jobspec_core.hookimpl`` in a module named by an entry point
of the ``jobspec`` group (see :mod:`jobspec_core.plugins`). Built-in transformers and steps
are plugins of exactly this kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .steps import StepType
    from .transformer import Transformer

__all__ = [
    "hookspec",
    "hookimpl",
    "PROJECT_NAME",
    "jobspec_register_transformers",
    "jobspec_register_steps",
]

PROJECT_NAME = "jobspec"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def jobspec_register_transformers(register: Callable[[type[Transformer]], None]) -> None:
    """Register transformer classes.

    :param register: call it once per class: ``register(MyTransformer)``. The class must
        subclass :class:`jobspec_core.transformer.Transformer` and set ``name``,
        ``description`` and ``capabilities``. Registering a name twice is an error reported
        against the second plugin; the first registration stays.
    :return: nothing; every implementation is called.
    """


@hookspec
def jobspec_register_steps(register: Callable[[type[StepType]], None]) -> None:
    """Register step types (what may appear under ``steps:``).

    :param register: call it once per class: ``register(MyStep)``. The class must subclass
        :class:`jobspec_core.steps.StepType` and set ``name`` and ``options_schema``. A step
        name that no plugin registers is a validation error in every document using it.
    :return: nothing; every implementation is called.
    """
