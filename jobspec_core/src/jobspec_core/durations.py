"""Durations: a number is seconds; a string is a number with a unit ``s``, ``m``, ``h`` or ``d``.

The plan holds whole seconds; a fraction of a second is rounded up (a limit is never
shortened). ``0`` and negative durations are invalid.
"""

from __future__ import annotations

import math
import re

__all__ = ["parse_duration", "DurationError", "UNITS"]

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([smhd]?)\s*$")


class DurationError(ValueError):
    """The value is not a valid duration; the message says what is expected."""


def parse_duration(value: object) -> int:
    """Whole seconds for ``value`` (``300``, ``"300s"``, ``"5m"``, ``"1.5h"``, ``"2d"``).

    Raises :class:`DurationError` for anything else: booleans, zero, negatives, unknown
    units (``"5 minutes"``), empty strings.
    """
    if isinstance(value, bool):
        raise DurationError(
            "expected a duration (seconds or '10s', '5m', '2h', '1d'), "
            f"got {'true' if value else 'false'}"
        )
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _PATTERN.match(value)
        if not match:
            raise DurationError(
                f"expected a number of seconds or a number with unit s, m, h or d "
                f"('300s', '5m', '2h', '1d'), got {value!r}"
            )
        seconds = float(match.group(1)) * UNITS[match.group(2) or "s"]
    else:
        raise DurationError(
            f"expected a duration (seconds or '10s', '5m', '2h', '1d'), got {value!r}"
        )
    if not math.isfinite(seconds):
        raise DurationError(f"expected a finite duration, got {value!r}")
    if seconds <= 0:
        raise DurationError(f"a duration must be greater than zero, got {value!r}")
    return math.ceil(seconds)
