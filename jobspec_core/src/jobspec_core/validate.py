"""Validation of a loaded document: schema, then semantic checks.

(Skeleton: the schema and semantic checks are to be completed.)
"""

from __future__ import annotations

from .errors import Problem
from .loader import Document

__all__ = ["validate_document"]


def validate_document(document: Document, registry=None) -> list[Problem]:
    """Every problem in ``document``, sorted by position; ``[]`` when it is valid."""
    problems: list[Problem] = []
    data = document.data
    if not isinstance(data, dict):
        return [document.problem((), "expected a mapping at the top of the document")]
    if "version" not in data:
        problems.append(document.problem((), "missing 'version': add 'version: 1' at the top"))
    return problems
