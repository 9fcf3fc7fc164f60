"""The built-in steps, ``stage`` and ``write``, registered as a plugin through the
``jobspec`` entry-point group like any other."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from .hookspecs import hookimpl
from .steps import StepType

__all__ = ["StageStep", "WriteStep", "write_target_problem"]


class StageStep(StepType):
    """``stage``: make ``path`` (a file or directory) present on every node of the task.
    ``path`` is relative to the task's working directory (``~`` is the submitting user's
    home; ``~user`` is refused, as in ``cwd``)."""

    name = "stage"
    description = "make a path present on every node before the task runs"
    options_schema = {
        "type": "object",
        "properties": {"path": {"type": "string", "minLength": 1}},
        "required": ["path"],
        "additionalProperties": False,
    }

    def check(self, options: dict[str, Any]) -> list[tuple[str, str]]:
        from .workdirs import cwd_problem

        problem = cwd_problem(options["path"], stage=True)
        return [("path", problem)] if problem else []


def write_target_problem(path: str) -> str | None:
    """Why ``path`` may not be a ``write`` target, or ``None`` when it is fine: the one rule,
    checked at validation and again by :func:`.workdirs.safe_write` when writing.

    It must be relative and name a file: non-empty, no surrounding spaces, no NUL or other
    control character, no trailing slash, and no empty, ``.`` or ``..`` component
    (``.``, ``a//b`` and ``./x`` are refused: a path is written as it is spelt), so the file
    lands inside the staging directory and never outside it.
    """
    if not path or path.strip() != path:
        return "must be a non-empty relative file name without surrounding spaces"
    if "\x00" in path:
        return "must not contain a NUL byte"
    if any(char < " " or char == "\x7f" for char in path):
        return "must not contain control characters (a newline, a tab...)"
    if path.endswith("/"):
        return "must name a file, not a directory"
    if PurePosixPath(path).is_absolute():
        return "must be relative to the staging directory, not absolute"
    parts = path.split("/")
    if ".." in parts:
        return "must not contain '..': the file may not escape the staging directory"
    if "" in parts or "." in parts:
        return (
            "must name a file below the staging directory: no empty or '.' component "
            "(write 'a/b', not '.', './a' or 'a//b')"
        )
    return None


class WriteStep(StepType):
    """``write``: write ``content`` to ``path`` inside the staging directory before the task."""

    name = "write"
    description = "write a file with the given content into the staging directory"
    options_schema = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "minLength": 1},
            "content": {"type": "string"},
            "executable": {"type": "boolean"},
        },
        "required": ["path", "content"],
        "additionalProperties": False,
    }

    def check(self, options: dict[str, Any]) -> list[tuple[str, str]]:
        problem = write_target_problem(options["path"])
        return [("path", f"{options['path']!r} {problem}")] if problem else []


@hookimpl
def jobspec_register_steps(register):
    register(StageStep)
    register(WriteStep)
