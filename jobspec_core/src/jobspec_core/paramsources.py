"""Where parameter values come from: ``--set``, ``--sweep`` and params files.

:class:`ParameterInput` is what a user asked for: fixed values (name ->
:class:`~jobspec_core.parameters.Given`) and sweep axes (name -> list of them). Its
:meth:`~ParameterInput.combinations` is the cross product, one mapping per run, in a
stable order (the first axis varies slowest).

A **params file** is a YAML mapping of parameter names to values, with an optional
``sweep:`` mapping of names to non-empty lists of values::

    nodes: 4
    mode: fast
    sweep:
      size: [1, 2, 4]

Precedence, per name: a default < the params file < the command line (``--set`` or
``--sweep``). One name may not be both set and swept on the command line. Every value
keeps its source for messages: ``--set nodes=4``, ``--sweep n=1,2`` or ``FILE:LINE``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InvalidJobspec, UsageError
from .parameters import NAME_PATTERN, Given

__all__ = [
    "MAX_COMBINATIONS",
    "ParameterInput",
    "read_params_file",
    "parse_set",
    "parse_sweep",
    "parameter_input",
]

#: Most runs one sweep may make: more is almost always a mistake (a typo in a list).
MAX_COMBINATIONS = 1000


@dataclass
class ParameterInput:
    """Values and sweep axes for a document's parameters."""

    values: dict[str, Given] = field(default_factory=dict)
    sweep: dict[str, list[Given]] = field(default_factory=dict)

    @property
    def is_sweep(self) -> bool:
        return bool(self.sweep)

    def combinations(self) -> list[dict[str, Given]]:
        """One mapping per run: the fixed values plus one value of every sweep axis
        (``[values]`` without a sweep). Raises :class:`UsageError` beyond
        :data:`MAX_COMBINATIONS`."""
        if not self.sweep:
            return [dict(self.values)]
        count = 1
        for axis in self.sweep.values():
            count *= len(axis)
        if count > MAX_COMBINATIONS:
            sizes = " x ".join(f"{len(v)} ({k})" for k, v in self.sweep.items())
            raise UsageError(
                f"the sweep makes {count:,} runs ({sizes}); at most {MAX_COMBINATIONS:,} are "
                "allowed in one sweep"
            )
        names = list(self.sweep)
        out = []
        for picked in itertools.product(*(self.sweep[n] for n in names)):
            combination = dict(self.values)
            combination.update(zip(names, picked, strict=True))
            out.append(combination)
        return out


def _check_name(name: str, where: str) -> None:
    if not NAME_PATTERN.match(name):
        raise UsageError(
            f"{where}: {name!r} is not a parameter name (letters, digits and '_', not "
            "starting with a digit)"
        )


def parse_set(items: Iterable[str]) -> dict[str, Given]:
    """``["nodes=4"]`` -> ``{"nodes": Given("4", "--set nodes=4")}``; the value is text
    (everything after the first ``=``). A malformed item is a :class:`UsageError`."""
    out: dict[str, Given] = {}
    for item in items:
        name, eq, value = item.partition("=")
        name = name.strip()
        if not eq:
            raise UsageError(f"--set {item!r}: expected NAME=VALUE, for example --set nodes=4")
        _check_name(name, f"--set {item!r}")
        out[name] = Given(value, f"--set {item}")
    return out


def parse_sweep(items: Iterable[str]) -> dict[str, list[Given]]:
    """``["n=1,2,4"]`` -> ``{"n": [Given("1", "--sweep n=1,2,4"), ...]}``; values are
    separated by commas (a value holding a comma goes in a params file's ``sweep:``)."""
    out: dict[str, list[Given]] = {}
    for item in items:
        name, eq, values = item.partition("=")
        name = name.strip()
        if not eq or not values:
            raise UsageError(
                f"--sweep {item!r}: expected NAME=V1,V2,..., for example --sweep nodes=1,2,4"
            )
        _check_name(name, f"--sweep {item!r}")
        if name in out:
            raise UsageError(f"--sweep {item!r}: '{name}' is swept twice; list all its values once")
        out[name] = [Given(v, f"--sweep {item}") for v in values.split(",")]
    return out


def read_params_file(path: str | Path) -> ParameterInput:
    """The values and sweep of a params file; :class:`InvalidJobspec` with the file's own
    line for anything it cannot hold (it is read by the jobspec loader, with its limits)."""
    from .loader import load
    from .schema import describe

    document = load(path)  # a YAML mapping, or InvalidJobspec saying why not
    name = str(path)
    problems = list(document.problems)
    result = ParameterInput()

    def where(doc_path: tuple) -> str:
        ref = document.locate(doc_path)
        return f"{name}:{ref.line}" if ref.line else name

    for key, value in document.data.items():
        if key == "sweep":
            continue
        if not NAME_PATTERN.match(str(key)):
            problems.append(
                document.problem(
                    (key,),
                    f"{key!r} is not a parameter name (letters, digits and '_', not starting "
                    "with a digit)",
                    code="bad-name",
                )
            )
        elif isinstance(value, dict | list) or value is None:
            problems.append(
                document.problem(
                    (key,),
                    f"a parameter value is one scalar (text, number, true/false), got "
                    f"{describe(value)}",
                    hint="a list of values to run one after another goes under 'sweep:'"
                    if isinstance(value, list)
                    else None,
                    code="type",
                )
            )
        else:
            result.values[key] = Given(value, where((key,)))
    sweep = document.data.get("sweep")
    if sweep is not None:
        if not isinstance(sweep, dict):
            problems.append(
                document.problem(
                    ("sweep",),
                    f"'sweep' maps parameter names to lists of values, got {describe(sweep)}",
                    code="type",
                )
            )
        else:
            for key, values in sweep.items():
                at = ("sweep", key)
                if not NAME_PATTERN.match(str(key)):
                    problems.append(
                        document.problem(at, f"{key!r} is not a parameter name", code="bad-name")
                    )
                elif not isinstance(values, list) or not values:
                    problems.append(
                        document.problem(
                            at,
                            f"a sweep axis is a non-empty list of values, got {describe(values)}",
                            code="type",
                        )
                    )
                elif any(isinstance(v, dict | list) or v is None for v in values):
                    problems.append(
                        document.problem(at, "each swept value is one scalar", code="type")
                    )
                elif key in result.values:
                    problems.append(
                        document.problem(
                            at,
                            f"'{key}' has a value ({where((key,))}) and a sweep; give one",
                            code="duplicate-key",
                        )
                    )
                else:
                    result.sweep[key] = [Given(v, where(at + (i,))) for i, v in enumerate(values)]
    if problems:
        raise InvalidJobspec(problems)
    return result


def parameter_input(
    params_file: str | Path | None = None,
    sets: Iterable[str] = (),
    sweeps: Iterable[str] = (),
) -> ParameterInput:
    """What the command line asks for: the params file, then ``--set`` and ``--sweep``
    over it (see the module's precedence)."""
    result = read_params_file(params_file) if params_file else ParameterInput()
    fixed = parse_set(sets)
    swept = parse_sweep(sweeps)
    both = sorted(set(fixed) & set(swept))
    if both:
        raise UsageError(f"'{both[0]}' is given both --set and --sweep; give one")
    for key, value in fixed.items():
        result.sweep.pop(key, None)
        result.values[key] = value
    for key, values in swept.items():
        result.values.pop(key, None)
        result.sweep[key] = values
    return result
