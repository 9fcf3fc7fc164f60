"""Typed parameters of a jobspec: their definitions, and the values given for them.

A document may declare ``parameters:``, a mapping of names to definitions
(``{type, default, minimum, maximum, choices, description}``; see ``spec/spec.md``,
"Parameters"). This module reads those definitions (:func:`read_definitions`) and turns a
value given for a parameter into the value a document is planned with
(:meth:`Parameter.coerce`). It knows nothing of where references are written; that is
:mod:`jobspec_core.substitution`.

Values are given as :class:`Given`: the value (text from ``--set``, or YAML/JSON data from a
params file or the API) and its **source**, the words a message names it by
(``--set nodes=4``, ``params.yaml:3``). One rule for every source: a value is either of the
parameter's type, or text that reads as one (``"4"`` is an integer).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .docpath import DocPath
from .durations import DurationError, parse_duration
from .errors import Problem
from .limits import INT_MAX, INT_MIN, MAX_NUMBER_TEXT

__all__ = [
    "TYPES",
    "NAME_PATTERN",
    "RESERVED_NAMES",
    "Given",
    "Parameter",
    "ValueProblem",
    "read_definitions",
    "text_of",
    "given_mapping",
]

#: The parameter types, in the order the spec lists them.
TYPES = ("integer", "number", "string", "boolean", "duration", "choice")
#: Parameter names: shell-variable words, so a reference reads like one.
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: ``sweep`` names the sweep section of a params file, so no parameter may be called so.
RESERVED_NAMES = frozenset({"sweep"})

_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_TRUE = {"true", "yes", "on"}
_FALSE = {"false", "no", "off"}
_MISSING = object()


class ValueProblem(ValueError):
    """A value does not fit its parameter; the message says what was expected."""


@dataclass(frozen=True)
class Given:
    """A value given for a parameter, and where it came from.

    :ivar value: text (``--set``), or plain data (a params file, the API).
    :ivar source: how messages name where it came from: ``--set nodes=4``,
        ``params.yaml:3``, ``the API``.
    """

    value: Any
    source: str = "the API"


def given_mapping(values: Mapping[str, Any] | None, source: str = "the API") -> dict[str, Given]:
    """``values`` with every value that is not already a :class:`Given` wrapped in one
    naming ``source`` (what the API and the service are handed: a plain mapping)."""
    out: dict[str, Given] = {}
    for name, value in (values or {}).items():
        out[str(name)] = value if isinstance(value, Given) else Given(value, source)
    return out


def text_of(value: Any) -> str:
    """The text a value stands for inside a longer string: ``true``/``false``, integers
    in decimal, other numbers as Python writes them (``1.5``, ``1e+20``), text as is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return str(value)


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return text_of(value)


@dataclass(frozen=True)
class Parameter:
    """One parameter as defined under ``parameters:``.

    :ivar path: where it is defined (``("parameters", NAME)``), for messages.
    :ivar default: the default value (coerced), or absent: see :attr:`required`.
    """

    name: str
    type: str
    path: DocPath
    default: Any = _MISSING
    minimum: Any = None
    maximum: Any = None
    choices: tuple = ()
    description: str = ""

    @property
    def required(self) -> bool:
        """A parameter without a default must be given a value."""
        return self.default is _MISSING

    @property
    def has_default(self) -> bool:
        return self.default is not _MISSING

    def coerce(self, value: Any) -> Any:
        """The value ``value`` stands for, or :class:`ValueProblem` saying what was expected.

        integer: an integer (not a boolean), or its decimal text; number: an integer or a
        finite number, or its text; string: text (a YAML number must be quoted);
        boolean: true/false (also yes/no/on/off, any case); duration: anything
        ``attributes.duration`` accepts (kept as given: the plan converts it); choice: a
        listed value, compared as text (the listed value is returned). Bounds are checked.
        """
        kind = self.type
        result: Any
        if kind == "integer":
            result = _integer(value)
        elif kind == "number":
            result = _number(value)
        elif kind == "string":
            if not isinstance(value, str):
                raise ValueProblem(
                    f"expected text, got {_shown(value)}; quote it in YAML ('{text_of(value)}')"
                )
            result = value
        elif kind == "boolean":
            result = _boolean(value)
        elif kind == "duration":
            result = _duration(value)
        else:  # choice
            wanted = text_of(value) if not isinstance(value, dict | list) else None
            for choice in self.choices:
                if text_of(choice) == wanted:
                    return choice
            listed = ", ".join(_shown(c) for c in self.choices)
            raise ValueProblem(f"expected one of {listed}, got {_shown(value)}")
        self._check_bounds(result)
        return result

    def _check_bounds(self, value: Any) -> None:
        if self.minimum is None and self.maximum is None:
            return
        seconds = parse_duration if self.type == "duration" else (lambda v: v)
        amount = seconds(value)
        if self.minimum is not None and amount < seconds(self.minimum):
            raise ValueProblem(f"expected at least {text_of(self.minimum)}, got {_shown(value)}")
        if self.maximum is not None and amount > seconds(self.maximum):
            raise ValueProblem(f"expected at most {text_of(self.maximum)}, got {_shown(value)}")

    def to_dict(self) -> dict[str, Any]:
        """The definition as ``jobspec params --json`` prints it."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "required": self.required}
        if self.has_default:
            out["default"] = self.default
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.choices:
            out["choices"] = list(self.choices)
        out["description"] = self.description
        return out


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        if isinstance(value, float) and value.is_integer():
            raise ValueProblem(f"expected an integer, got {_shown(value)}; write it without '.0'")
        raise ValueProblem(f"expected an integer, got {_shown(value)}")
    if isinstance(value, str):
        text = value.strip()
        if not _INTEGER.match(text):
            raise ValueProblem(f"expected an integer, got {_shown(value)}")
        value = _integer_text(text)
    return _in_64_bits(value)


def _integer_text(text: str) -> int:
    """``int(text)`` of text already matched as an integer, its length bounded first (the
    loader's rule for integers in documents: :data:`.limits.MAX_NUMBER_TEXT` digits)."""
    if len(text) > MAX_NUMBER_TEXT:
        raise ValueProblem(
            f"expected an integer, got one of {len(text):,} characters; at most "
            f"{MAX_NUMBER_TEXT} are read"
        )
    return int(text)


def _in_64_bits(value: int) -> int:
    """``value`` when a 64-bit signed integer holds it (as every integer of a document)."""
    if not INT_MIN <= value <= INT_MAX:
        raise ValueProblem(
            f"expected an integer of at most 64 bits, got one of {value.bit_length()} bits"
        )
    return value


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueProblem(f"expected a number, got {_shown(value)}")
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_NUMBER_TEXT:
            raise ValueProblem(
                f"expected a number, got one of {len(text):,} characters; at most "
                f"{MAX_NUMBER_TEXT} are read"
            )
        if _INTEGER.match(text):
            return _in_64_bits(int(text))
        if not _NUMBER.match(text):
            raise ValueProblem(f"expected a number, got {_shown(value)}")
        value = float(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueProblem(f"expected a finite number, got {_shown(value)}")
    return value


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueProblem(f"expected true or false, got {_shown(value)}")


def _duration(value: Any) -> Any:
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        value = _number(value)  # "300" is 300 seconds, as the number 300 is
    try:
        parse_duration(value)
    except DurationError as exc:
        raise ValueProblem(str(exc)) from None
    return value


def read_definitions(document) -> tuple[dict[str, Parameter], list[Problem]]:
    """The parameters ``document`` defines, and the problems of their definitions.

    Structure (a mapping of names to ``{type, ...}`` mappings) is the schema's to report;
    a definition it would refuse is skipped here without a problem. What the schema cannot
    say is reported: a reserved name, a default that does not fit its type or bounds,
    bounds on a type without them or that do not read as the type, ``minimum`` above
    ``maximum``, ``choices`` missing on a choice or present on another type.
    A parameter whose definition has a problem is left out of the result.
    """
    section = document.data.get("parameters") if isinstance(document.data, dict) else None
    out: dict[str, Parameter] = {}
    problems: list[Problem] = []
    if not isinstance(section, dict):
        return out, problems
    for name, spec in section.items():
        path: DocPath = ("parameters", name)
        if not isinstance(name, str) or not NAME_PATTERN.match(name) or not isinstance(spec, dict):
            continue  # the schema says why
        kind = spec.get("type")
        if kind not in TYPES:
            continue
        found: list[Problem] = []

        def add(where: DocPath, message: str, code: str = "bad-parameter") -> None:
            found.append(document.problem(where, f"parameter '{name}': {message}", code=code))  # noqa: B023

        if name in RESERVED_NAMES:
            add(path, f"'{name}' is reserved (it names the sweep section of a params file)")
        choices = spec.get("choices")
        if kind == "choice":
            if not isinstance(choices, list) or not choices:
                add(path, "a choice lists its values: add 'choices: [a, b, ...]'")
                choices = None
            elif len({text_of(c) for c in choices}) != len(choices):
                add(path + ("choices",), "a value is listed twice in 'choices'")
        elif choices is not None:
            add(path + ("choices",), f"'choices' is for type choice, not {kind}")
        bounds: dict[str, Any] = {}
        for key in ("minimum", "maximum"):
            if key not in spec:
                continue
            bound = spec[key]
            if kind not in ("integer", "number", "duration"):
                add(path + (key,), f"'{key}' is for integer, number and duration, not {kind}")
                continue
            try:
                bounds[key] = (
                    _duration(bound)
                    if kind == "duration"
                    else _integer(bound)
                    if kind == "integer"
                    else _number(bound)
                )
            except ValueProblem as exc:
                add(path + (key,), f"'{key}': {exc}")
        if "minimum" in bounds and "maximum" in bounds:
            low, high = bounds["minimum"], bounds["maximum"]
            if kind == "duration":
                low, high = parse_duration(low), parse_duration(high)
            if low > high:
                add(path + ("minimum",), "'minimum' is greater than 'maximum'")
        if found:
            problems.extend(found)
            continue
        parameter = Parameter(
            name=name,
            type=kind,
            path=path,
            minimum=bounds.get("minimum"),
            maximum=bounds.get("maximum"),
            choices=tuple(choices or ()),
            description=_text_or_empty(spec.get("description")),
        )
        if "default" in spec:
            try:
                default = parameter.coerce(spec["default"])
            except ValueProblem as exc:
                problems.append(
                    document.problem(
                        path + ("default",),
                        f"parameter '{name}': the default does not fit: {exc}",
                        code="bad-parameter",
                    )
                )
                continue
            parameter = Parameter(**{**parameter.__dict__, "default": default})
        out[name] = parameter
    return out, problems


def _text_or_empty(value: object) -> str:
    """``value`` when it is text, else ``""`` (a non-text description is reported elsewhere)."""
    return value if isinstance(value, str) else ""
