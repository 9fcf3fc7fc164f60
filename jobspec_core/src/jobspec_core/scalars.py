"""Building a value from one YAML scalar: the one place that says what each tag constructs.

The loader (:mod:`.yamlbuild`) resolves a plain scalar's tag as YAML 1.1 does (PyYAML's
resolver: ``yes`` is a boolean, ``017`` octal, ``1:30`` sexagesimal) and hands the tag
and the text to :func:`construct`. Contract: :func:`construct` is **total**: for every
tag and every text it either returns plain data (``str``, ``int``, ``float``, ``bool``,
``None``) or raises :class:`ScalarError` whose message says what was found and what was
expected; it never raises anything else, and its work is bounded by the length of the
text (no Python int-string limit, no quadratic conversion). PyYAML's own constructors
are not used: they raise ``IndexError``, ``KeyError`` or ``ValueError`` on texts such as
``!!int ''``, ``!!bool maybe`` or a 5,000-digit integer, and build integers of any size.

What each tag gives (``spec/spec.md``, "Documents", and Decisions 39-40):

* ``str``: the text. ``null``: ``None`` for ``~``, ``null``, ``Null``, ``NULL`` or nothing.
* ``bool``: YAML 1.1's ``true/false``, ``yes/no``, ``on/off`` (any case).
* ``int``: decimal, ``0b`` binary, ``0x`` hexadecimal, ``0`` octal and sexagesimal
  (``1:30`` is 90), underscores ignored, ASCII digits only, within :data:`INT_MIN` ...
  :data:`INT_MAX` (64-bit: what every scheduler, JSON reader and database column holds).
* ``float``: decimal forms with an optional exponent and sexagesimal ones; finite only
  (``.inf``, ``.nan`` and overflowing texts such as ``1.0e+400`` are refused: the plan is
  JSON).
* ``timestamp``: checked against YAML 1.1's two timestamp forms and kept as text (dates
  stay text in a plan).
* ``merge`` and ``value`` (``<<``, ``=`` outside a key's place): the text.
* anything else (``!!binary``, ``!!set``, ``!!python/...``, local ``!tags``):
  :class:`UnsupportedTag`.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .limits import INT_MAX, INT_MIN, MAX_NUMBER_TEXT

__all__ = [
    "construct",
    "ScalarError",
    "UnsupportedTag",
    "TAG_PREFIX",
    "INT_MIN",
    "INT_MAX",
    "MAX_NUMBER_TEXT",
    "shown",
]

TAG_PREFIX = "tag:yaml.org,2002:"


class ScalarError(ValueError):
    """A scalar whose tag says one thing and whose text another; the message says both."""


class _Unreadable(ScalarError):
    """``cannot read TEXT as KIND: expected ...``, its message made only when asked for (a
    document of a million different bad scalars lists 100 of them)."""

    def __init__(self, text: str, kind: str, expected: str):
        super().__init__(text, kind, expected)

    def __str__(self) -> str:
        text, kind, expected = self.args
        return f"cannot read {shown(text)} as {kind}: expected {expected}"


class UnsupportedTag(ScalarError):
    """A tag that JobSpec does not construct (``!!binary``, ``!!python/object``, ``!x``)."""


def shown(text: str, limit: int = 40) -> str:
    """``text`` quoted for a message, shortened when long (its length is said)."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[: limit - 10]!r}... ({len(text):,} characters)"


_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False}
_INT = re.compile(
    r"(?P<sign>[-+]?)(?:0b(?P<bin>[01]+)|0x(?P<hex>[0-9a-fA-F]+)|0(?P<oct>[0-7]+)"
    r"|(?P<dec>0|[1-9][0-9]*)|(?P<sex>[1-9][0-9]*(?::[0-5]?[0-9])+))",
    re.ASCII,
)
_FLOAT = re.compile(
    r"(?P<sign>[-+]?)(?:(?P<dec>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)"
    r"|(?P<sex>[0-9]+(?::[0-5]?[0-9])+\.[0-9]*)|(?P<special>\.inf|\.nan))",
    re.ASCII | re.IGNORECASE,
)
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?",
    re.ASCII,
)
_INT_FORMS = (
    "a whole number (decimal, 0b binary, 0x hexadecimal, 0 octal or sexagesimal 1:30) "
    "in ASCII digits"
)


def _sexagesimal(parts: list[str], convert) -> Any:
    value = convert(0)
    for part in parts:
        value = value * 60 + convert(part)
    return value


def _out_of_range(text: str) -> ScalarError:
    return ScalarError(
        f"the integer {shown(text)} is out of range: expected a whole number from "
        f"{INT_MIN} to {INT_MAX} (quote it if it is meant as text)"
    )


def _int(text: str) -> int:
    if len(text) <= 18 and text.isdigit() and text.isascii() and (text[0] != "0" or text == "0"):
        return int(text)  # the usual case, and always in range
    digits = text.replace("_", "")
    if len(digits) > MAX_NUMBER_TEXT:
        raise _out_of_range(text)
    match = _INT.fullmatch(digits)
    if match is None:
        raise _Unreadable(text, "an integer", _INT_FORMS)
    if match["bin"] is not None:
        value = int(match["bin"], 2)
    elif match["hex"] is not None:
        value = int(match["hex"], 16)
    elif match["oct"] is not None:
        value = int(match["oct"], 8)
    elif match["dec"] is not None:
        value = int(match["dec"])
    else:
        value = _sexagesimal(match["sex"].split(":"), int)
    if match["sign"] == "-":
        value = -value
    if not INT_MIN <= value <= INT_MAX:
        raise _out_of_range(text)
    return value


def _float(text: str) -> float:
    digits = text.replace("_", "")
    if len(digits) > MAX_NUMBER_TEXT:
        raise ScalarError(
            f"cannot read {shown(text)} as a number: {len(digits):,} characters; expected at "
            f"most {MAX_NUMBER_TEXT} (quote it if it is meant as text)"
        )
    match = _FLOAT.fullmatch(digits)
    if match is None:
        raise _Unreadable(
            text, "a number", "a decimal number such as 1.5, 2.0e+3 or 1:30.5 in ASCII digits"
        )
    if match["special"] is not None:
        raise ScalarError(
            f"{shown(text)} is not a finite number: a JobSpec holds JSON values, which have no "
            "infinity or NaN (quote it if it is meant as text)"
        )
    if match["dec"] is not None:
        value = float(match["dec"])
    else:
        value = _sexagesimal(match["sex"].split(":"), float)
    if not math.isfinite(value):
        raise ScalarError(
            f"{shown(text)} is too large for a number: expected a finite number (at most "
            "about 1.8e+308; quote it if it is meant as text)"
        )
    return -value if match["sign"] == "-" else value


def construct(tag: str, text: str) -> Any:
    """The value of a scalar with resolved ``tag`` (a full ``tag:yaml.org,2002:`` tag or a
    local one) and ``text``; raises :class:`ScalarError` (see the module contract)."""
    name = tag[len(TAG_PREFIX) :] if tag.startswith(TAG_PREFIX) else None
    if name in ("str", "merge", "value"):
        return text
    if name == "null":
        if text in _NULLS:
            return None
        raise ScalarError(
            f"cannot read {shown(text)} as null: expected ~, null or nothing (quote it, or drop "
            "the !!null tag, if it is meant as text)"
        )
    if name == "bool":
        value = _BOOLS.get(text.lower()) if len(text) <= 5 else None
        if value is None:
            raise ScalarError(
                f"cannot read {shown(text)} as a boolean: expected true or false (YAML 1.1 also "
                "reads yes/no and on/off)"
            )
        return value
    if name == "int":
        return _int(text)
    if name == "float":
        return _float(text)
    if name == "timestamp":
        if _TIMESTAMP.fullmatch(text) is None:
            raise ScalarError(
                f"cannot read {shown(text)} as a timestamp: expected a date (2001-12-14) or a "
                "date and time (2001-12-14t21:59:43.10-05:00)"
            )
        return text  # dates stay text: the plan is JSON
    raise UnsupportedTag(
        f"unsupported YAML tag {tag!r}: only plain strings, numbers, booleans, null, "
        "mappings and lists are allowed"
    )
