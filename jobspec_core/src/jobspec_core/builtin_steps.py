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

        problem = cwd_problem(options["path"])
        return [("path", problem)] if problem else []


def write_target_problem(path: str) -> str | None:
    """Why ``path`` may not be a ``write`` target, or ``None`` when it is fine.

    It must be relative, non-empty, without ``..`` components, NUL bytes or a trailing
    slash: the file lands inside the staging directory and never outside it.
    """
    if not path or path.strip() != path:
        return "must be a non-empty relative file name without surrounding spaces"
    if "\x00" in path:
        return "must not contain a NUL byte"
    if path.endswith("/"):
        return "must name a file, not a directory"
    pure = PurePosixPath(path)
    if pure.is_absolute():
        return "must be relative to the staging directory, not absolute"
    if ".." in pure.parts:
        return "must not contain '..': the file may not escape the staging directory"
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
