"""Names and text the layer puts into scripts and commands, made safe in one place.

* :func:`node_slugs`: a file-name-safe, unique slug per plan node (records, logs, scripts).
* :func:`job_name`: a slug made valid under a scheduler's job-name rules.
* :func:`directive_safe`: whether a word may appear in a directive line as it is.
* :func:`comment`: text for a script comment: one line, printable, shell-quoted.
* :func:`problem`: a user error about a plan node, with where it was written.
"""

from __future__ import annotations

import re
import shlex

from ..errors import InvalidJobspec, Problem
from ..plan import Plan, PlanNode

__all__ = ["node_slugs", "job_name", "directive_safe", "comment", "problem", "ENV_NAME"]

#: A shell variable name (environment keys are checked against it).
# (\Z, not $: Python's $ also matches before a final newline)
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DIRECTIVE_WORD = re.compile(r"[A-Za-z0-9_@%+=:,./^$\[\]()|&!~*<>-]+\Z")


def node_slugs(plan: Plan) -> dict[str, str]:
    """Every node id -> a unique name made of ``[A-Za-z0-9_.-]`` for files and jobs."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for node, _ in plan.walk():
        slug = base = re.sub(r"[^A-Za-z0-9_.-]", "_", node.id).lstrip(".-") or "node"
        n = 1
        while slug in used:
            n += 1
            slug = f"{base}-{n}"
        used.add(slug)
        out[node.id] = slug
    return out


def job_name(slug: str, first: str = "[A-Za-z0-9_]", max_length: int | None = None) -> str:
    """``slug`` as a job name: prefixed with ``j`` when its first character does not match
    the character class ``first`` (Grid Engine refuses a leading digit), then cut to
    ``max_length``."""
    name = slug if re.match(first, slug[:1] or "-") else "j" + slug
    return name[:max_length] if max_length else name


def directive_safe(word: str) -> bool:
    """Whether ``word`` may stand in a directive line as it is: only letters, digits and
    ``_@%+=:,./^$[]()|&!~*<>-`` (no white space, quotes, backslash or ``#``, which
    schedulers' directive readers treat in their own ways, or refuse)."""
    return _DIRECTIVE_WORD.match(word) is not None


def comment(text: str) -> str:
    """``text`` for a script comment: control and non-ASCII characters become ``?`` (a
    newline must never start a script line), then quoted with :func:`shlex.quote`."""
    return shlex.quote(re.sub(r"[^\x20-\x7e]", "?", text))


def problem(node: PlanNode, message: str) -> InvalidJobspec:
    """A user error about ``node``, with where it is in the document."""
    src = node.source
    return InvalidJobspec([Problem(message, src.path, src.file, src.line, src.column)])
