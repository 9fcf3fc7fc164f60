"""The Python API: load, validate, plan, and (through the runner) submit.

Services and meta-schedulers call these in a loop; none of them prints or exits.

>>> from jobspec_core import api
>>> plan = api.load_plan("job.yaml")          # raises InvalidJobspec with every problem
>>> problems = api.validate(api.load("job.yaml"))   # [] when valid
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import InvalidJobspec, Problem
from .loader import Document, load, load_text
from .plan import Plan
from .planner import build_plan

__all__ = ["load", "load_text", "validate", "plan", "load_plan", "plans", "Document"]

#: ``parameters`` arguments: name -> value (a plain value, or a
#: :class:`~jobspec_core.parameters.Given` naming where it came from).
Parameters = Mapping[str, Any] | None


def validate(document: Document, registry=None, parameters: Parameters = None) -> list[Problem]:
    """Every problem in ``document`` (parameters, schema, then semantic checks); ``[]``
    when valid.

    :param registry: the plugin registry whose step types are allowed (default: the
        process-wide one).
    :param parameters: values for the document's parameters (defaults fill the rest);
        the document is checked as it reads with them substituted.
    """
    from .substitution import apply_parameters
    from .validate import validate_document

    try:
        substituted, values = apply_parameters(document, parameters)
    except InvalidJobspec as exc:
        return exc.problems
    problems = validate_document(substituted, registry)
    if problems and substituted is not document:
        problems = _explained(problems, document, values, parameters)
    return problems


def plan(document: Document, registry=None, parameters: Parameters = None) -> Plan:
    """The plan of ``document`` with ``parameters`` (see :func:`validate`); raises
    :class:`InvalidJobspec` listing every problem. The plan's ``parameters`` holds the
    value of every parameter it was planned with."""
    from .substitution import apply_parameters
    from .validate import validate_document

    substituted, values = apply_parameters(document, parameters)
    problems = validate_document(substituted, registry)
    if problems:
        if substituted is not document:
            problems = _explained(problems, document, values, parameters)
        raise InvalidJobspec(problems)
    result = build_plan(substituted.data, substituted.filename, substituted.locate)
    result.parameters = values
    return result


def _explained(problems: list[Problem], document: Document, values, given) -> list[Problem]:
    """A problem of the substituted document at a reference says which value it was
    (``the value of ${{ nodes }}, nodes=0 from --set nodes=0``), as a hint."""
    from dataclasses import replace

    from .docpath import format_path
    from .parameters import given_mapping, text_of
    from .substitution import references

    sources = given_mapping(given)
    at: dict[str, list[str]] = {}
    for name, paths in references(document).items():
        for path in paths:
            at.setdefault(format_path(path), []).append(name)
    out = []
    for problem in problems:
        names = [n for n in dict.fromkeys(at.get(problem.path, ())) if n in values]
        if names and problem.hint is None:
            said = []
            for name in names:
                where = f" from {sources[name].source}" if name in sources else " (its default)"
                said.append(f"${{{{ {name} }}}}, {name}={text_of(values[name])}{where}")
            problem = replace(problem, hint="the value of " + "; ".join(said))
        out.append(problem)
    return out


def plans(document: Document, combinations: list[Mapping[str, Any]], registry=None) -> list[Plan]:
    """One plan per combination of values (a sweep), all or nothing: every combination
    is validated before any plan is returned, and :class:`InvalidJobspec` lists the
    problems of every invalid one, each message prefixed with its values
    (``[n=0 mode=a]``) when there are several."""
    from .substitution import describe_values

    out: list[Plan] = []
    problems: list[Problem] = []
    for combination in combinations:
        try:
            out.append(plan(document, registry, combination))
        except InvalidJobspec as exc:
            label = describe_values({k: getattr(v, "value", v) for k, v in combination.items()})
            for problem in exc.problems:
                if label and len(combinations) > 1:
                    problem = _labelled(problem, label)
                problems.append(problem)
    if problems:
        raise InvalidJobspec(problems)
    return out


def _labelled(problem: Problem, label: str) -> Problem:
    from dataclasses import replace

    return replace(problem, message=f"[{label}] {problem.message}")


def load_plan(path: str | Path, registry=None, parameters: Parameters = None) -> Plan:
    """Load, validate and plan a file in one call (raises :class:`InvalidJobspec`)."""
    return plan(load(path), registry, parameters)
