"""Resource blocks: canonical trees, totals and the per-slot view.

A block is ``{type, count, with: [blocks]}``. Type names are canonical singular words;
the plural forms (``cores``, ``gpus``, ``nodes``, ``slots``) are accepted as aliases because
the draft spec's own examples use them. Counts multiply through the tree.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .plan import ResourceNode, ResourceOrigin, ResourceRequest

__all__ = [
    "TYPE_ALIASES",
    "canonical_type",
    "build_tree",
    "totals_of",
    "make_request",
    "default_request",
    "sum_requests",
]

TYPE_ALIASES = {"cores": "core", "gpus": "gpu", "nodes": "node", "slots": "slot"}


def canonical_type(name: str) -> str:
    """``cores`` -> ``core``; other names unchanged."""
    return TYPE_ALIASES.get(name, name)


def build_tree(block: dict[str, Any]) -> ResourceNode:
    """A :class:`ResourceNode` from a schema-valid block (``count`` defaults to 1)."""
    return ResourceNode(
        type=canonical_type(block["type"]),
        count=int(block.get("count", 1)),
        children=[build_tree(b) for b in block.get("with", []) or []],
    )


def totals_of(nodes: Iterable[ResourceNode], multiplier: int = 1) -> dict[str, int]:
    """Counts per type multiplied through the tree (4 nodes x 1 slot x 4 cores: 16 cores)."""
    totals: dict[str, int] = {}

    def visit(node: ResourceNode, factor: int) -> None:
        amount = factor * node.count
        totals[node.type] = totals.get(node.type, 0) + amount
        for child in node.children:
            visit(child, amount)

    for node in nodes:
        visit(node, multiplier)
    return totals


def _find(nodes: Iterable[ResourceNode], type_: str) -> list[ResourceNode]:
    found: list[ResourceNode] = []
    for node in nodes:
        if node.type == type_:
            found.append(node)
        else:
            found.extend(_find(node.children, type_))
    return found


def _per_unit(units: list[ResourceNode]) -> tuple[int, int, int]:
    """The largest (cores, gpus, memory) inside one of ``units`` (slots or nodes)."""
    cores = gpus = memory = 0
    for unit in units:
        inside = totals_of(unit.children)
        cores = max(cores, inside.get("core", 0))
        gpus = max(gpus, inside.get("gpu", 0))
        memory = max(memory, inside.get("memory", 0))
    return cores, gpus, memory


def make_request(
    tree: list[ResourceNode], origin: ResourceOrigin, name: str | None = None
) -> ResourceRequest:
    """A :class:`ResourceRequest` with totals and the per-slot view derived from ``tree``.

    Slots: the ``slot`` vertices if any; otherwise each ``node`` is one slot; otherwise the
    whole request is one slot. A node vertex with nothing below it asks for whole nodes
    (``exclusive``).
    """
    totals = totals_of(tree)
    slots = _find(tree, "slot")
    nodes = _find(tree, "node")
    if slots:
        n_slots = totals.get("slot", 0)
        cores, gpus, memory = _per_unit(slots)
    elif nodes:
        n_slots = totals.get("node", 0)
        cores, gpus, memory = _per_unit(nodes)
    else:
        n_slots = 1
        cores, gpus, memory = totals.get("core", 0), totals.get("gpu", 0), totals.get("memory", 0)
    exclusive = bool(nodes) and not slots and all(not n.children for n in nodes)
    return ResourceRequest(
        name=name,
        origin=origin,
        tree=tree,
        totals=totals,
        nodes=totals.get("node", 0),
        slots=max(n_slots, 1),
        cores_per_slot=max(cores, 1),
        gpus_per_slot=gpus,
        memory_per_slot=memory,
        exclusive=exclusive,
    )


def default_request() -> ResourceRequest:
    """What a task with no resources anywhere gets: one slot of one core."""
    tree = [ResourceNode("slot", 1, [ResourceNode("core", 1)])]
    return make_request(tree, "default")


def _shape(node: ResourceNode) -> tuple:
    """A hashable key of a vertex's type and everything below it (not its own count)."""
    return (node.type, tuple((c.type, c.count, _shape(c)) for c in node.children))


def sum_requests(parts: Iterable[tuple[ResourceRequest, int]]) -> ResourceRequest:
    """A group without resources: its children's preferred requests, each times its
    replicas, side by side in one tree.

    Top-level vertices of the same shape are added up (ten tasks of one slot with one core
    each give one vertex ``slot x10`` with one core), in order of first appearance, so the
    tree stays as small as the variety of the children's requests.
    """
    merged: dict[tuple, ResourceNode] = {}
    for request, replicas in parts:
        for node in request.tree:
            key = _shape(node)
            if key in merged:
                merged[key].count += node.count * replicas
            else:
                merged[key] = ResourceNode(node.type, node.count * replicas, node.children)
    if not merged:
        return default_request()
    return make_request(list(merged.values()), "sum")
