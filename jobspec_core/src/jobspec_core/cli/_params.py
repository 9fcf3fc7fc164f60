"""The parameter options every command that plans a jobspec shares.

``add_parameter_arguments(parser)`` adds ``--set NAME=VALUE`` (repeatable),
``--params FILE`` and, unless ``sweep=False``, ``--sweep NAME=V1,V2,...`` (repeatable: the
cross product); :func:`parameter_input` turns the parsed arguments into a
:class:`~jobspec_core.paramsources.ParameterInput` (``.combinations()`` is one mapping of
values per run, for ``api.plan(..., parameters=...)``). Building the parser imports
nothing, so ``jobspec validate`` starts as fast as before.
"""

from __future__ import annotations

import argparse

__all__ = ["add_parameter_arguments", "parameter_input", "combination_label"]


def add_parameter_arguments(parser: argparse.ArgumentParser, sweep: bool = True) -> None:
    """Add ``--set``, ``--params`` and (with ``sweep``) ``--sweep`` to ``parser``."""
    group = parser.add_argument_group("parameters")
    group.add_argument(
        "--set",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        dest="parameter_set",
        help="a value for a parameter of the jobspec (repeatable); `jobspec params FILE` "
        "lists them",
    )
    group.add_argument(
        "--params",
        metavar="FILE",
        dest="parameter_file",
        help="a YAML file of parameter values (NAME: VALUE), with an optional 'sweep:' "
        "section (NAME: [V1, V2]); --set and --sweep override it",
    )
    if sweep:
        group.add_argument(
            "--sweep",
            metavar="NAME=V1,V2",
            action="append",
            default=[],
            dest="parameter_sweep",
            help="one run per value (repeatable: one run per combination of the values)",
        )


def parameter_input(args: argparse.Namespace):
    """The :class:`~jobspec_core.paramsources.ParameterInput` the arguments ask for
    (:class:`~jobspec_core.errors.UsageError` or
    :class:`~jobspec_core.errors.InvalidJobspec` for a bad item or params file)."""
    params = getattr(args, "parameter_file", None)
    sets = getattr(args, "parameter_set", None) or ()
    sweeps = getattr(args, "parameter_sweep", None) or ()
    if not (params or sets or sweeps):
        return _NO_VALUES  # (imports nothing: most commands give no values)
    from ..paramsources import parameter_input as combine

    return combine(params, sets, sweeps)


class _NoValues:
    """What :func:`parameter_input` returns when no value is given (the
    :class:`~jobspec_core.paramsources.ParameterInput` interface, empty)."""

    values: dict = {}
    sweep: dict = {}
    is_sweep = False

    def combinations(self) -> list[dict]:
        return [{}]


_NO_VALUES = _NoValues()


def combination_label(values: dict) -> str:
    """``nodes=4 mode=fast`` for a plan's parameter values (``""`` when none)."""
    from ..substitution import describe_values

    return describe_values(values)
