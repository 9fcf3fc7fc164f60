"""The normalized plan: the one intermediate form every backend consumes.

A :class:`Plan` is what a valid JobSpec document compiles to. Everything a backend needs
is resolved here, once, so that no backend re-reads the document:

* resources are a canonical tree per alternative (``a|b`` keeps both, in order) with the
  counts multiplied through (:attr:`ResourceRequest.totals`) and a per-slot view
  (``nodes``, ``slots``, ``cores_per_slot``, ``gpus_per_slot``, ``memory_per_slot``);
* attributes, ``requires`` and passthrough options are inherited (global -> group -> task,
  the nearest wins per key) and durations are whole seconds;
* commands are argv lists; ``depends_on`` names are resolved to sibling node ids;
* every node keeps where it came from in the document (:class:`SourceRef`).

The plan is plain data: dataclasses, serializable with :meth:`Plan.to_dict` and rebuilt
with :meth:`Plan.from_dict` (a JSON round trip is lossless). Its JSON form is documented
in ``spec/spec.md`` ("The plan").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = [
    "PLAN_FORMAT",
    "SourceRef",
    "Constraint",
    "ResourceNode",
    "ResourceRequest",
    "Resources",
    "Attributes",
    "Step",
    "PlanTask",
    "PlanGroup",
    "PlanNode",
    "Plan",
]

#: Version of the plan's JSON form (bumped when the shape changes incompatibly).
PLAN_FORMAT = 1


@dataclass(frozen=True)
class SourceRef:
    """Where a plan node came from: file, 1-based line and column, path inside the document."""

    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: str = ""


@dataclass(frozen=True)
class Constraint:
    """One requirement on the site: a constraint object of the document, resolved.

    ``subsystem`` is the constraint's ``name`` (``system``, ``spack``, ...); the other
    fields are as written (``None`` when absent). Which combinations are meaningful is
    checked at validation (:mod:`jobspec_core.requirements`). ``set`` names the top-level
    requirement set it came from; ``origin`` is ``constraint`` (a constraint object; the
    one kind today, kept so that the plan's JSON can grow others); ``source`` is where it
    is written, so one constraint inherited by many nodes is one requirement.
    """

    subsystem: str
    field: str | None = None
    match: Any = None
    attribute: str | None = None
    value: Any = None
    min: float | None = None
    max: float | None = None
    set: str | None = None
    origin: Literal["constraint"] = "constraint"
    source: SourceRef = SourceRef()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Constraint:
        data = dict(data)
        data["source"] = SourceRef(**data["source"])
        return cls(**data)


@dataclass
class ResourceNode:
    """One vertex of a resource tree: ``count`` of ``type``, each containing ``children``.

    ``type`` is canonical and singular (``node``, ``slot``, ``core``, ``gpu``, ``memory``, or
    a site-defined name). For ``memory`` the count is in MiB.
    """

    type: str
    count: int
    children: list[ResourceNode] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "count": self.count}
        if self.children:
            out["with"] = [c.to_dict() for c in self.children]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResourceNode:
        return cls(
            type=data["type"],
            count=data["count"],
            children=[cls.from_dict(c) for c in data.get("with", [])],
        )


ResourceOrigin = Literal["named", "inline", "inherited", "sum", "default"]


@dataclass
class ResourceRequest:
    """One way to satisfy a node's resource needs (one alternative of ``a|b``).

    :ivar name: the named block it came from, or ``None`` (inline, sum or default).
    :ivar origin: ``named`` / ``inline`` (written on the node), ``inherited`` (from the
        enclosing group), ``sum`` (a group without resources: its children added up),
        ``default`` (nothing anywhere: one slot of one core).
    :ivar tree: the top-level resource vertices (usually one).
    :ivar totals: type -> count multiplied through the tree (4 nodes x 1 slot x 4 cores
        gives ``{"node": 4, "slot": 4, "core": 16}``). Memory in MiB.
    :ivar nodes: nodes asked for, 0 when the request does not name nodes.
    :ivar slots: task slots; where the tree has no ``slot`` vertex, each node is one slot
        (or the whole request is one slot when there is no node either).
    :ivar cores_per_slot: cores in one slot (at least 1).
    :ivar gpus_per_slot: gpus in one slot (0 when none).
    :ivar memory_per_slot: MiB in one slot (0 when not asked for).
    :ivar exclusive: whole nodes were asked for (a node vertex with nothing below it).
    :ivar constraints: the requirements written in the block (``requires:`` on it or on
        a block inside it); an alternative is used only where they are met.
    :ivar requires: the block's ``requires`` metadata (the mapping form), as written.
    """

    name: str | None
    origin: ResourceOrigin
    tree: list[ResourceNode]
    totals: dict[str, int]
    nodes: int
    slots: int
    cores_per_slot: int
    gpus_per_slot: int = 0
    memory_per_slot: int = 0
    exclusive: bool = False
    constraints: tuple[Constraint, ...] = ()
    requires: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["tree"] = [n.to_dict() for n in self.tree]
        out["constraints"] = [c.to_dict() for c in self.constraints]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResourceRequest:
        data = dict(data)
        data["tree"] = [ResourceNode.from_dict(n) for n in data["tree"]]
        data["constraints"] = tuple(Constraint.from_dict(c) for c in data.get("constraints", ()))
        data.setdefault("requires", {})
        return cls(**data)


@dataclass
class Resources:
    """A node's resource alternatives, in order of preference (never empty).

    A backend uses the first alternative that fits its machine; one that cannot choose
    uses :attr:`preferred`.
    """

    alternatives: list[ResourceRequest]

    @property
    def preferred(self) -> ResourceRequest:
        return self.alternatives[0]

    def to_dict(self) -> dict[str, Any]:
        return {"alternatives": [a.to_dict() for a in self.alternatives]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Resources:
        return cls([ResourceRequest.from_dict(a) for a in data["alternatives"]])


@dataclass
class Attributes:
    """A node's effective attributes after inheritance (the nearest definition wins).

    :ivar duration: time limit in whole seconds, or ``None`` for the scheduler's default.
    :ivar environment: variables exported to the task, values as strings, in document order
        (inherited keys first).
    :ivar cwd: working directory, or ``None`` for the directory the run was submitted from.
    :ivar watch: stream the task's output while it runs.
    :ivar passthrough: backend name -> option -> value (``{"slurm": {"partition": "debug"}}``);
        only that backend reads its entry.
    """

    duration: int | None = None
    environment: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    watch: bool = False
    passthrough: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attributes:
        return cls(**data)


@dataclass
class Step:
    """A step to carry out before the node runs: ``name`` (``stage``, ``write``, or a
    plugin's) and its options as written (``{"path": ...}`` for stage; ``{"path": ...,
    "content": ..., "executable": bool}`` for write, ``path`` relative to the staging
    directory)."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    source: SourceRef = field(default_factory=SourceRef)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "options": dict(self.options), "source": asdict(self.source)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        return cls(data["name"], dict(data["options"]), SourceRef(**data["source"]))


@dataclass
class _NodeBase:
    id: str
    name: str | None
    depends_on: list[str]
    resources: Resources
    attributes: Attributes
    requires: dict[str, Any]
    steps: list[Step]
    source: SourceRef
    #: every requirement of the node (the document's, its groups', its own), in that
    #: order; those of resource blocks are on the alternatives
    constraints: tuple[Constraint, ...] = ()

    def _base_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "depends_on": list(self.depends_on),
            "resources": self.resources.to_dict(),
            "attributes": self.attributes.to_dict(),
            "requires": self.requires,
            "steps": [s.to_dict() for s in self.steps],
            "source": asdict(self.source),
            "constraints": [c.to_dict() for c in self.constraints],
        }

    @staticmethod
    def _base_kwargs(data: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": data["id"],
            "name": data["name"],
            "depends_on": list(data["depends_on"]),
            "resources": Resources.from_dict(data["resources"]),
            "attributes": Attributes.from_dict(data["attributes"]),
            "requires": data["requires"],
            "steps": [Step.from_dict(s) for s in data["steps"]],
            "source": SourceRef(**data["source"]),
            "constraints": tuple(Constraint.from_dict(c) for c in data.get("constraints", ())),
        }


@dataclass
class PlanTask(_NodeBase):
    """One task: ``replicas`` instances of ``command`` (an argv list).

    :ivar id: unique in the plan; ``/``-separated path of group ids and the task's name, or
        ``task-N`` (N = its 0-based position among its siblings) when unnamed.
    :ivar depends_on: ids of sibling nodes (tasks or groups) that must succeed first.
    :ivar local: run as a plain command inside the enclosing allocation (no submission).
    :ivar shell: the command was written as a string and is run by ``/bin/sh -c``
        (``command`` is then ``["/bin/sh", "-c", text]``).
    """

    command: list[str] = field(default_factory=list)
    replicas: int = 1
    local: bool = False
    shell: bool = False
    kind: Literal["task"] = "task"

    def to_dict(self) -> dict[str, Any]:
        out = self._base_dict()
        out.update(
            kind="task",
            command=list(self.command),
            replicas=self.replicas,
            local=self.local,
            shell=self.shell,
        )
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlanTask:
        return cls(
            **cls._base_kwargs(data),
            command=list(data["command"]),
            replicas=data["replicas"],
            local=data["local"],
            shell=data["shell"],
        )


@dataclass
class PlanGroup(_NodeBase):
    """A group: one allocation whose ``children`` (tasks and groups, in document order)
    run inside it."""

    children: list[PlanNode] = field(default_factory=list)
    kind: Literal["group"] = "group"

    def to_dict(self) -> dict[str, Any]:
        out = self._base_dict()
        out.update(kind="group", children=[c.to_dict() for c in self.children])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlanGroup:
        return cls(
            **cls._base_kwargs(data),
            children=[_node_from_dict(c) for c in data["children"]],
        )


PlanNode = PlanTask | PlanGroup


def _node_from_dict(data: dict[str, Any]) -> PlanNode:
    return PlanTask.from_dict(data) if data["kind"] == "task" else PlanGroup.from_dict(data)


@dataclass
class Plan:
    """A whole compiled document.

    :ivar name: the document's ``name`` (or the file's stem when it has none).
    :ivar source: the file it was loaded from, or ``None``.
    :ivar children: top-level tasks and groups in document order (a group referenced from a
        task entry appears where it is referenced, not at the top).
    :ivar requires: the document's global ``requires`` metadata (named requirement sets
        are not repeated here: their constraints are on the nodes).
    :ivar constraints: the requirements of the whole plan (every node has them too).
    :ivar parameters: the value of every parameter the document was planned with
        (``{}`` when it has none); in the JSON form only when not empty.
    """

    name: str
    children: list[PlanNode]
    source: str | None = None
    requires: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    parameters: dict[str, Any] = field(default_factory=dict)
    constraints: tuple[Constraint, ...] = ()

    def walk(self) -> Iterator[tuple[PlanNode, PlanGroup | None]]:
        """Every node, depth first in document order, with its enclosing group (or None)."""

        def visit(nodes: list[PlanNode], parent: PlanGroup | None):
            for node in nodes:
                yield node, parent
                if isinstance(node, PlanGroup):
                    yield from visit(node.children, node)

        yield from visit(self.children, None)

    def tasks(self) -> Iterator[PlanTask]:
        """Every task at any depth, in document order."""
        for node, _ in self.walk():
            if isinstance(node, PlanTask):
                yield node

    def node(self, node_id: str) -> PlanNode:
        """The node with this id (``KeyError`` if none)."""
        for node, _ in self.walk():
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "plan_format": PLAN_FORMAT,
            "version": self.version,
            "name": self.name,
            "source": self.source,
            "requires": self.requires,
            "constraints": [c.to_dict() for c in self.constraints],
            "children": [c.to_dict() for c in self.children],
        }
        if self.parameters:
            out["parameters"] = dict(self.parameters)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        if data.get("plan_format") != PLAN_FORMAT:
            raise ValueError(f"unsupported plan format {data.get('plan_format')!r}")
        return cls(
            name=data["name"],
            source=data["source"],
            requires=data["requires"],
            version=data["version"],
            constraints=tuple(Constraint.from_dict(c) for c in data.get("constraints", ())),
            children=[_node_from_dict(c) for c in data["children"]],
            parameters=dict(data.get("parameters") or {}),
        )
