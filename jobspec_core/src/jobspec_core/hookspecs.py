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
    "jobspec_describe_site",
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


@hookspec
def jobspec_describe_site(transformer, context) -> list | None:
    """Describe what the target of ``transformer`` offers, for evaluating requirements.

    Called by ``jobspec satisfy`` and by ``jobspec run`` before submitting a plan that has
    requirements. An implementation answers for the transformers it provides (compare
    ``transformer.name``) and returns ``None`` for any other.

    :param transformer: the :class:`jobspec_core.transformer.Transformer` instance the plan
        would be submitted through.
    :param context: the :class:`jobspec_core.transformer.RunContext` of the run about to be
        submitted (its ``options`` are the ``-O`` options), or ``None`` when no run is
        being submitted (``jobspec satisfy``): describe the target as configured by the
        environment then.
    :return: a list of :class:`jobspec_core.site.Subsystem` (the local backend returns one
        named ``system``: CPU target, cores, memory, GPUs), or ``None``. Every
        implementation is called and the lists are combined; subsystems read from JGF
        files (``--subsystems DIR``) are added to them.
    """
