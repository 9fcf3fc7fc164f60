"""Submission order and dependency placeholders: one rule for every backend.

* :func:`submission_order`: siblings in document order, except that a node comes after
  every sibling it depends on (a stable topological order). Dependencies on nodes that
  are not siblings are ignored here (validation allows only siblings); the plan is
  acyclic, and should a cycle reach here anyway, the rest keeps document order.
* :func:`placeholder` / :func:`fill_placeholders`: a submission unit's argv names the id an
  earlier submission will be given as ``{id:NODE}``; at submission the ids are filled in.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Mapping, Sequence
from typing import TypeVar

from .errors import SubmitError
from .plan import PlanNode

__all__ = ["submission_order", "placeholder", "fill_placeholders", "PLACEHOLDER"]

#: A ``{id:NODE}`` placeholder; group 1 is the node id.
PLACEHOLDER = re.compile(r"\{id:([^{}]+)\}")

N = TypeVar("N", bound=PlanNode)


def submission_order(nodes: Sequence[N]) -> list[N]:
    """``nodes`` (siblings) in the order they are submitted; see the module docstring.
    Linear in the number of nodes and dependencies."""
    position = {node.id: i for i, node in enumerate(nodes)}
    waiting = [0] * len(nodes)
    dependents: list[list[int]] = [[] for _ in nodes]
    for i, node in enumerate(nodes):
        for dep in dict.fromkeys(node.depends_on):
            j = position.get(dep)
            if j is not None and j != i:
                waiting[i] += 1
                dependents[j].append(i)
    ready = [i for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    out: list[N] = []
    done = [False] * len(nodes)
    while len(out) < len(nodes):
        if not ready:  # a cycle (cannot pass validation): the rest in document order
            out.extend(n for i, n in enumerate(nodes) if not done[i])
            break
        i = heapq.heappop(ready)
        done[i] = True
        out.append(nodes[i])
        for j in dependents[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, j)
    return out


def placeholder(node_id: str) -> str:
    """``{id:NODE}``: stands in a unit's argv for the id ``node_id`` is given when submitted."""
    return f"{{id:{node_id}}}"


def fill_placeholders(argv: Sequence[str], ids: Mapping[str, str]) -> list[str]:
    """``argv`` with every ``{id:NODE}`` replaced by ``ids[NODE]``. A placeholder whose
    node has no id yet raises :class:`~jobspec_core.errors.SubmitError` naming it (the
    units are out of order, or the node was never submitted)."""

    def fill(match: re.Match[str]) -> str:
        node = match.group(1)
        try:
            return ids[node]
        except KeyError:
            raise SubmitError(
                f"{node!r} has no scheduler id yet (it was not submitted before the unit "
                "that depends on it)"
            ) from None

    return [PLACEHOLDER.sub(fill, word) if "{id:" in word else word for word in argv]
