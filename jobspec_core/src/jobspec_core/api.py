"""The Python API: load, validate, plan, and (through the runner) submit.

Services and meta-schedulers call these in a loop; none of them prints or exits.

>>> from jobspec_core import api
>>> plan = api.load_plan("job.yaml")          # raises InvalidJobspec with every problem
>>> problems = api.validate(api.load("job.yaml"))   # [] when valid
"""

from __future__ import annotations

from pathlib import Path

from .errors import InvalidJobspec, Problem
from .loader import Document, load, load_text
from .plan import Plan
from .planner import build_plan

__all__ = ["load", "load_text", "validate", "plan", "load_plan", "Document"]


def validate(document: Document, registry=None) -> list[Problem]:
    """Every problem in ``document`` (schema, then semantic checks); ``[]`` when valid.

    :param registry: the plugin registry whose step types are allowed (default: the
        process-wide one).
    """
    from .validate import validate_document

    return validate_document(document, registry)


def plan(document: Document, registry=None) -> Plan:
    """The plan of ``document``; raises :class:`InvalidJobspec` listing every problem."""
    problems = validate(document, registry)
    if problems:
        raise InvalidJobspec(problems)
    return build_plan(document.data, document.filename, document.locate)


def load_plan(path: str | Path, registry=None) -> Plan:
    """Load, validate and plan a file in one call (raises :class:`InvalidJobspec`)."""
    return plan(load(path), registry)
