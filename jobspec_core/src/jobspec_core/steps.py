"""Step types: what may appear under ``steps:`` and how its options are checked.

A step type declares its options as a JSON Schema fragment and may add checks a schema
cannot express. What a step *does* is up to each transformer, which declares the
``steps.<name>`` feature when it supports it.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = ["StepType"]


class StepType:
    """Base class of step types.

    :cvar name: the value of ``name:`` in a step entry.
    :cvar description: one line for documentation.
    :cvar options_schema: JSON Schema (draft 2020-12) of the entry's keys other than
        ``name`` (an ``object`` schema; ``additionalProperties`` false is recommended).
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    options_schema: ClassVar[dict[str, Any]] = {"type": "object"}

    def check(self, options: dict[str, Any]) -> list[tuple[str, str]]:
        """Checks beyond the schema, run on schema-valid options.

        :return: a list of ``(option key, message)``; empty when the options are fine.
        """
        return []
