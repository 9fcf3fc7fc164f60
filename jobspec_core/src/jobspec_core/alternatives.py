"""Which resource alternative fits a capacity: the one rule of every backend.

A :class:`Capacity` says what one job can be given: nodes of ``cores_per_node`` cores,
``gpus_per_node`` GPUs and ``memory_per_node`` MiB. A heterogeneous cluster is described
by its largest node (a request fitting that may still wait for the larger nodes).
``nodes=None`` leaves the number of nodes unchecked; ``memory_per_node=0`` leaves memory
unchecked. ``single_host=True`` describes one machine that runs every instance (the local
backend): the node count of a request is not a constraint there, all its slots share
that one host.

Rules (``spec/spec.md``, "Resource alternatives"):

* :func:`misfit`: a request fits when one slot fits on one node, the nodes it names exist,
  and its slots can be packed onto the nodes it may use (the nodes it names, else all of
  them): ``cores_per_node // cores_per_slot`` slots per node (and likewise for GPUs and
  memory).
* :func:`choose_alternative`: the first alternative that fits; with an unknown capacity,
  or when none fits, the first.
* :func:`unrunnable`: a request no alternative of which can ever fit is refused before
  anything is submitted, instead of pending forever.
* :func:`fitted`: a group without resources asks for the sum of what its entries will use:
  each child's chosen alternative (not its first), nested sum groups summed the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from .plan import PlanGroup, PlanNode, PlanTask, ResourceRequest, Resources

__all__ = [
    "Capacity",
    "misfit",
    "choose_alternative",
    "unrunnable",
    "describe",
    "count",
    "fitted",
]


@dataclass(frozen=True)
class Capacity:
    """What a job can be given (see the module docstring)."""

    cores_per_node: int
    gpus_per_node: int = 0
    memory_per_node: int = 0  #: MiB; 0 = unchecked
    nodes: int | None = None  #: None = unchecked
    single_host: bool = False

    def describe(self) -> str:
        """``1 node with 8 cores``, ``4 nodes with 8 cores and 2 gpus each``, ``nodes with 8
        cores each`` (count unchecked), ``this machine with 8 cores`` (for messages)."""
        has = [count(self.cores_per_node, "core")]
        if self.gpus_per_node:
            has.append(count(self.gpus_per_node, "gpu"))
        if self.memory_per_node:
            has.append(f"{self.memory_per_node} MiB")
        what = " and ".join([", ".join(has[:-1]), has[-1]] if len(has) > 1 else has)
        if self.single_host:
            return f"this machine with {what}"
        if self.nodes == 1:
            return f"1 node with {what}"
        nodes = "nodes" if self.nodes is None else f"{self.nodes} nodes"
        return f"{nodes} with {what} each"


def count(n: int, word: str) -> str:
    """``1 core``, ``4 cores``: ``n`` and ``word``, plural when ``n`` is not 1."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def describe(request: ResourceRequest) -> str:
    """``4 slots of 2 cores (8 cores)[, 1 gpu per slot][ on 2 nodes]`` (for messages)."""
    cores = max(request.cores_per_slot, 1)
    text = f"{count(request.slots, 'slot')} of {count(cores, 'core')}"
    if request.slots != 1:
        text += f" ({count(request.slots * cores, 'core')})"
    if request.gpus_per_slot:
        text += f", {count(request.gpus_per_slot, 'gpu')} per slot"
    if request.memory_per_slot:
        text += f", {request.memory_per_slot} MiB per slot"
    if request.nodes:
        text += f" on {count(request.nodes, 'node')}"
    if request.name:
        text += f" (resources {request.name!r})"
    return text


def _slots_per_node(request: ResourceRequest, capacity: Capacity) -> int:
    fit = capacity.cores_per_node // max(request.cores_per_slot, 1)
    if request.gpus_per_slot:
        fit = min(fit, capacity.gpus_per_node // request.gpus_per_slot)
    if request.memory_per_slot and capacity.memory_per_node:
        fit = min(fit, capacity.memory_per_node // request.memory_per_slot)
    return fit


def misfit(request: ResourceRequest, capacity: Capacity) -> str | None:
    """Why ``request`` can never be given within ``capacity``, or ``None`` when it fits."""
    slots = max(request.slots, 1)
    cores = max(request.cores_per_slot, 1)
    if capacity.single_host:
        checks = [
            ("core", slots * cores, capacity.cores_per_node),
            ("gpu", slots * request.gpus_per_slot, capacity.gpus_per_node),
        ]
        if capacity.memory_per_node:
            checks.append(("MiB", slots * request.memory_per_slot, capacity.memory_per_node))
        for what, need, have in checks:
            if need > have:
                if what == "MiB":
                    return f"needs {need} MiB, but this machine has {have} MiB"
                return f"needs {count(need, what)}, but this machine has {have}"
        return None
    if capacity.nodes is not None and request.nodes > capacity.nodes:
        there = "is 1" if capacity.nodes == 1 else f"are {capacity.nodes}"
        return f"asks for {count(request.nodes, 'node')}, but there {there}"
    if cores > capacity.cores_per_node:
        return f"a slot needs {count(cores, 'core')}, but a node has {capacity.cores_per_node}"
    if request.gpus_per_slot > capacity.gpus_per_node:
        return (
            f"a slot needs {count(request.gpus_per_slot, 'gpu')}, but a node has "
            f"{capacity.gpus_per_node}"
        )
    if capacity.memory_per_node and request.memory_per_slot > capacity.memory_per_node:
        return (
            f"a slot needs {request.memory_per_slot} MiB, but a node has "
            f"{capacity.memory_per_node} MiB"
        )
    usable = request.nodes or capacity.nodes
    if usable is None:
        return None
    room = usable * _slots_per_node(request, capacity)
    if slots > room:
        nodes = Capacity(
            capacity.cores_per_node, capacity.gpus_per_node, capacity.memory_per_node, usable
        )
        return f"needs {slots} slots, but {nodes.describe()} can hold {room}"
    return None


def choose_alternative(
    resources: Resources, capacity: Capacity | None
) -> tuple[ResourceRequest, str | None]:
    """The first alternative of ``resources`` that fits ``capacity``, with a note when it
    is not the first; when none fits, the first, with a note saying so; with an unknown
    capacity (``None``), the first (a note when there was a choice)."""
    alternatives = resources.alternatives
    if capacity is None:
        if len(alternatives) > 1:
            return alternatives[0], (
                f"{len(alternatives)} resource alternatives and the capacity is unknown: "
                "the first is used"
            )
        return alternatives[0], None
    reasons: list[str] = []
    for position, alternative in enumerate(alternatives):
        why = misfit(alternative, capacity)
        if why is None:
            if position == 0:
                return alternative, None
            label = alternative.name or f"alternative {position + 1}"
            return alternative, (
                f"resource alternative {label} is used: the earlier ones do not fit "
                f"({'; '.join(reasons)})"
            )
        reasons.append(f"{alternative.name or f'alternative {position + 1}'} {why}")
    return alternatives[0], "no resource alternative fits: " + "; ".join(reasons)


def unrunnable(resources: Resources, capacity: Capacity | None) -> str | None:
    """A reason when no alternative of ``resources`` can ever fit ``capacity`` (so the node
    must be refused up front rather than left pending forever); ``None`` when one fits or
    the capacity is unknown."""
    if capacity is None:
        return None
    reasons = []
    for position, alternative in enumerate(resources.alternatives):
        why = misfit(alternative, capacity)
        if why is None:
            return None
        label = alternative.name or (
            "the request" if len(resources.alternatives) == 1 else f"alternative {position + 1}"
        )
        reasons.append(f"{label} ({describe(alternative)}) {why}")
    return "can never run: " + "; ".join(reasons)


def fitted(node: PlanNode, capacity: Capacity | None) -> Resources:
    """``node``'s resources to fit against ``capacity``: as planned, except a group whose
    resources are the sum of its children's, summed again (with the planner's
    :func:`~jobspec_core.resources.sum_requests`) from the alternative each non-local child
    uses there: a child asking ``huge|small`` counts as ``small`` where ``huge`` does not
    fit. With an unknown capacity this is the planner's sum (every first alternative)."""
    if not isinstance(node, PlanGroup) or node.resources.preferred.origin != "sum":
        return node.resources
    if capacity is None:
        return node.resources
    from .resources import sum_requests

    parts: list[tuple[ResourceRequest, int]] = []
    for child in node.children:
        if isinstance(child, PlanTask) and child.local:
            continue
        chosen, _ = choose_alternative(fitted(child, capacity), capacity)
        parts.append((chosen, child.replicas if isinstance(child, PlanTask) else 1))
    return Resources([sum_requests(parts)])
