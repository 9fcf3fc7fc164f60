"""Validation of a loaded document: every problem, from loading, the schema and semantics.

:func:`validate_document` is the one entry point (``api.validate`` calls it). It never
stops at the first problem: findings from loading (duplicate keys...), the JSON Schema
(:mod:`jobspec_core.schema`) and the semantic checks (:mod:`jobspec_core.semantics`) are
reported together, sorted by position, so a user fixes everything in one go; past
:data:`.limits.MAX_PROBLEMS` the rest are counted in one last problem (the search for
them stops early, so a document of 200,000 mistakes costs little).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from .builtin_steps import StageStep, WriteStep
from .errors import Problem
from .limits import MAX_PROBLEMS
from .loader import Document
from .planner import gc_paused
from .requirements import constraint_hint
from .schema import schema_problems
from .semantics import semantic_problems
from .steps import StepType

__all__ = ["validate_document", "step_types", "BUILTIN_STEPS"]

#: The built-in step types, always available even when plugins are not installed.
BUILTIN_STEPS: dict[str, type[StepType]] = {StageStep.name: StageStep, WriteStep.name: WriteStep}


def _step_names(data: object) -> set[str]:
    names: set[str] = set()
    if not isinstance(data, dict):
        return names
    nodes = []
    for key in ("tasks", "groups"):
        if isinstance(data.get(key), list):
            nodes.extend(data[key])
    for group in data.get("groups") or [] if isinstance(data.get("groups"), list) else []:
        if isinstance(group, dict) and isinstance(group.get("tasks"), list):
            nodes.extend(group["tasks"])
    for node in nodes:
        if isinstance(node, dict) and isinstance(node.get("steps"), list):
            for step in node["steps"]:
                if isinstance(step, dict) and isinstance(step.get("name"), str):
                    names.add(step["name"])
    return names


def step_types(registry=None, needed: set[str] | None = None) -> Mapping[str, type[StepType]]:
    """The step types a document may use: the registry's plus the built-in ones.

    Without a ``registry``, plugins are loaded (``get_registry()``) only when ``needed``
    names a step that is not built in, which keeps ``jobspec validate`` quick to start.
    """
    if registry is None and needed is not None and needed <= set(BUILTIN_STEPS):
        return BUILTIN_STEPS
    if registry is None:
        from .plugins import get_registry

        registry = get_registry()
    types = dict(BUILTIN_STEPS)
    types.update(getattr(registry, "steps", {}) or {})
    return types


def _position(problem: Problem) -> tuple:
    return (
        problem.line if problem.line is not None else 0,
        problem.column if problem.column is not None else 0,
        problem.path,
        problem.message,
    )


def validate_document(document: Document, registry=None) -> list[Problem]:
    """Every problem in ``document``, sorted by position; ``[]`` when it is valid.

    :param registry: a :class:`jobspec_core.plugins.Registry` whose step types are allowed
        (the built-in ``stage`` and ``write`` always are); default: the process-wide one.
    """
    data = document.data
    if not isinstance(data, dict):
        return [
            document.problem((), "expected a mapping at the top of the document", code="top-level")
        ]
    problems = list(document.problems)
    with gc_paused():
        later = schema_problems(document, limit=MAX_PROBLEMS)
        cut_short = len(later) > MAX_PROBLEMS  # the schema search stopped early
        steps = step_types(registry, _step_names(data))
        semantic = semantic_problems(document, steps)
        later.extend(semantic)
    unlisted = document.unlisted + getattr(semantic, "unlisted", 0)
    # A scalar the loader could not read (``!!int ''``) stays text; what the schema or the
    # semantic checks then say about that text at the same place is an echo, not news.
    unread = {p.path for p in document.problems if p.code == "bad-scalar"}
    problems.extend(p for p in later if p.path not in unread)
    unique: dict[tuple, Problem] = {}
    for problem in problems:
        if problem.hint is None and "requires" in problem.path:
            hint = constraint_hint(problem.path, problem.code)
            if hint:
                problem = dataclasses.replace(problem, hint=hint)
        unique.setdefault((problem.line, problem.column, problem.path, problem.message), problem)
    found = sorted(unique.values(), key=_position)
    if len(found) <= MAX_PROBLEMS and not unlisted and not cut_short:
        return found
    return found[:MAX_PROBLEMS] + [_more(found[MAX_PROBLEMS:], unlisted, cut_short, document)]


def _more(rest: list[Problem], unlisted: int, cut_short: bool, document: Document) -> Problem:
    """The last line of a long list: how many problems were not listed, placed where the
    first of them is."""
    count = len(rest) + unlisted
    if cut_short:  # the schema's search stopped: how many more is not known
        words = "more problems"
    else:
        words = f"{count:,} more problem{'s' if count != 1 else ''}"
    first = rest[0] if rest else None
    return Problem(
        f"{words} not listed from here on: jobspec lists the first {MAX_PROBLEMS} problems "
        "of a document (fix these and validate again)",
        first.path if first else "",
        document.filename,
        first.line if first else None,
        first.column if first else None,
        code="more-problems",
    )
