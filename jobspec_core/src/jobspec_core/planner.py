"""Compile a validated document into the normalized :class:`~jobspec_core.plan.Plan`.

The planner assumes the document has passed schema and semantic validation (see
:mod:`jobspec_core.validate`): references resolve, names are unique, there are no cycles.
It never reports user errors itself; anything it cannot handle is a bug.

Rules (normative text in ``spec/spec.md``):

* Top-level children are the ``tasks`` entries in order (a ``group:`` entry places that
  group there), then every group defined in ``groups`` that no entry references.
* Attributes, ``requires`` and passthrough options are inherited global -> group -> task;
  the nearest wins per key (``environment`` and ``requires`` merge key by key; mappings
  inside ``requires`` merge recursively).
* Requirements (:mod:`jobspec_core.requirements`): constraints accumulate global -> group
  -> task (every one must hold; a nearer level cannot drop one); a resource block's
  requirements stay on its alternative.
* Resources: a node's own (inline, or named, with ``a|b`` alternatives); else a task
  inherits its group's; else a group is the sum of its non-local children; else one slot of
  one core. A task in a group without resources of its own gets the default, so that the
  group's sum is well defined.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .docpath import format_path
from .durations import parse_duration
from .plan import (
    Attributes,
    Constraint,
    Plan,
    PlanGroup,
    PlanNode,
    PlanTask,
    ResourceRequest,
    Resources,
    SourceRef,
    Step,
)
from .requirements import Resolver
from .resources import build_tree, default_request, make_request, sum_requests

__all__ = ["build_plan", "gc_paused", "is_passthrough_key", "unnamed_id"]

Locate = Callable[[tuple], SourceRef]


def is_passthrough_key(key: str) -> bool:
    """``slurm.partition`` is a passthrough key (backend ``slurm``, option ``partition``)."""
    prefix, dot, rest = key.partition(".")
    return bool(dot and prefix and rest)


def unnamed_id(position: int) -> str:
    """The id of an unnamed task: ``task-N``, N its 0-based position among its siblings."""
    return f"task-{position}"


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _clone(request: ResourceRequest) -> ResourceRequest:
    """A shallow copy (its tree and totals are shared and never modified); faster than
    ``copy.copy``, which matters at 100,000 tasks."""
    new = object.__new__(ResourceRequest)
    new.__dict__.update(request.__dict__)
    return new


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _merge_attributes(base: Attributes, raw: dict[str, Any] | None) -> Attributes:
    out = Attributes(
        duration=base.duration,
        environment=dict(base.environment),
        cwd=base.cwd,
        watch=base.watch,
        passthrough={k: dict(v) for k, v in base.passthrough.items()},
    )
    for key, value in (raw or {}).items():
        if key == "duration":
            out.duration = parse_duration(value)
        elif key == "environment":
            for name, text in (value or {}).items():
                out.environment[name] = _scalar_text(text)
        elif key == "cwd":
            out.cwd = value
        elif key == "watch":
            out.watch = bool(value)
        elif is_passthrough_key(key):
            backend, _, option = key.partition(".")
            out.passthrough.setdefault(backend, {})[option] = value
    return out


class _Inherited:
    """What a node inherits of ``requires``: the merged mapping and the accumulated
    constraints (one tuple shared by every node that adds none)."""

    __slots__ = ("mapping", "constraints")

    def __init__(self, mapping: dict[str, Any], constraints: tuple[Constraint, ...]):
        self.mapping = mapping
        self.constraints = constraints


class _Planner:
    def __init__(self, doc: dict[str, Any], locate: Locate):
        self.doc = doc
        self.locate = locate
        self.req = Resolver(doc, locate)
        self.named_resources: dict[str, Any] = doc.get("resources") or {}
        self.groups: dict[str, tuple[int, dict[str, Any]]] = {
            g["name"]: (i, g) for i, g in enumerate(doc.get("groups") or [])
        }
        # Requests computed once and copied per node (thousands of tasks share a few blocks);
        # the copies share their (never modified) trees and totals.
        self._named: dict[str, list[ResourceRequest]] = {}
        self._inherited: dict[int, tuple[Resources, list[ResourceRequest]]] = {}
        self._default = default_request()

    # -- resources -------------------------------------------------------------------
    def _block_requirements(self, block: dict[str, Any], path: tuple, request) -> None:
        """Put the requirements written in ``block`` (and the blocks inside it) on
        ``request``."""
        found: list[Constraint] = []
        metadata: dict[str, Any] = {}

        def visit(inner: dict[str, Any], where: tuple) -> None:
            value = inner.get("requires")
            if value is not None:
                found.extend(self.req.explicit(value, where + ("requires",)))
                if isinstance(value, dict):
                    metadata.update(_deep_merge(metadata, value))
            for i, child in enumerate(inner.get("with") or []):
                visit(child, where + ("with", i))

        visit(block, path)
        request.constraints = tuple(found)
        request.requires = metadata

    def _own_resources(self, raw: Any, path: tuple) -> Resources | None:
        if raw is None:
            return None
        if isinstance(raw, str):
            cached = self._named.get(raw)
            if cached is None:
                cached = []
                for name in (part.strip() for part in raw.split("|")):
                    block = self.named_resources[name]
                    request = make_request([build_tree(block)], "named", name)
                    self._block_requirements(block, ("resources", name), request)
                    cached.append(request)
                self._named[raw] = cached
            return Resources([_clone(r) for r in cached])
        request = make_request([build_tree(raw)], "inline")
        self._block_requirements(raw, path + ("resources",), request)
        return Resources([request])

    def _requires(self, inherited: _Inherited, raw: Any, path: tuple) -> _Inherited:
        """What a node at ``path`` writing ``requires: raw`` has and passes on."""
        if raw is None:
            return inherited
        where = path + ("requires",)
        if isinstance(raw, dict):
            return _Inherited(_deep_merge(inherited.mapping, raw), inherited.constraints)
        return _Inherited(inherited.mapping, inherited.constraints + self.req.explicit(raw, where))

    def _inherit(self, parent: Resources) -> Resources:
        entry = self._inherited.get(id(parent))
        if entry is None or entry[0] is not parent:
            requests = [dataclasses.replace(a, origin="inherited") for a in parent.alternatives]
            entry = (parent, requests)
            self._inherited[id(parent)] = entry
        return Resources([_clone(r) for r in entry[1]])

    # -- nodes -----------------------------------------------------------------------
    def node(
        self,
        entry: dict[str, Any],
        path: tuple,
        position: int,
        parent_id: str | None,
        inherited_attrs: Attributes,
        inherited_requires: _Inherited,
        parent_resources: Resources | None,
    ) -> PlanNode:
        if "group" in entry:
            index, group = self.groups[entry["group"]]
            node = self.group(
                group,
                ("groups", index),
                parent_id,
                inherited_attrs,
                inherited_requires,
            )
            extra = self._dep_ids(entry.get("depends_on"), parent_id)
            node.depends_on += [d for d in extra if d not in node.depends_on]
            return node
        return self.task(
            entry, path, position, parent_id, inherited_attrs, inherited_requires, parent_resources
        )

    def _id(self, name: str | None, position: int, parent_id: str | None) -> str:
        local = name if name else unnamed_id(position)
        return f"{parent_id}/{local}" if parent_id else local

    def _dep_ids(self, names: list[str] | None, parent_id: str | None) -> list[str]:
        return [self._id(n, 0, parent_id) for n in (names or [])]

    def _steps(self, raw: list[dict[str, Any]] | None, path: tuple) -> list[Step]:
        steps = []
        for i, entry in enumerate(raw or []):
            options = {k: v for k, v in entry.items() if k != "name"}
            steps.append(Step(entry["name"], options, self.locate(path + ("steps", i))))
        return steps

    def task(
        self,
        entry: dict[str, Any],
        path: tuple,
        position: int,
        parent_id: str | None,
        inherited_attrs: Attributes,
        inherited_requires: _Inherited,
        parent_resources: Resources | None,
    ) -> PlanTask:
        command = entry["command"]
        shell = isinstance(command, str)
        argv = ["/bin/sh", "-c", command] if shell else [str(a) for a in command]
        resources = self._own_resources(entry.get("resources"), path)
        requires = self._requires(inherited_requires, entry.get("requires"), path)
        if resources is None:
            if parent_resources is not None:
                resources = self._inherit(parent_resources)
            else:
                resources = Resources([_clone(self._default)])
        return PlanTask(
            id=self._id(entry.get("name"), position, parent_id),
            name=entry.get("name"),
            depends_on=self._dep_ids(entry.get("depends_on"), parent_id),
            resources=resources,
            attributes=_merge_attributes(inherited_attrs, entry.get("attributes")),
            requires=requires.mapping
            if requires is not inherited_requires
            else dict(requires.mapping),
            steps=self._steps(entry.get("steps"), path),
            source=self.locate(path),
            constraints=requires.constraints,
            command=argv,
            replicas=int(entry.get("replicas", 1)),
            local=bool(entry.get("local", False)),
            shell=shell,
        )

    def group(
        self,
        group: dict[str, Any],
        path: tuple,
        parent_id: str | None,
        inherited_attrs: Attributes,
        inherited_requires: _Inherited,
    ) -> PlanGroup:
        group_id = self._id(group["name"], 0, parent_id)
        attrs = _merge_attributes(inherited_attrs, group.get("attributes"))
        requires = self._requires(inherited_requires, group.get("requires"), path)
        own = self._own_resources(group.get("resources"), path)
        children = [
            self.node(entry, path + ("tasks", i), i, group_id, attrs, requires, own)
            for i, entry in enumerate(group.get("tasks") or [])
        ]
        if own is None:
            parts = []
            for child in children:
                if isinstance(child, PlanTask) and child.local:
                    continue
                replicas = child.replicas if isinstance(child, PlanTask) else 1
                parts.append((child.resources.preferred, replicas))
            own = Resources([sum_requests(parts)])
        return PlanGroup(
            id=group_id,
            name=group["name"],
            depends_on=self._dep_ids(group.get("depends_on"), parent_id),
            resources=own,
            attributes=attrs,
            requires=dict(requires.mapping),
            steps=self._steps(group.get("steps"), path),
            source=self.locate(path),
            constraints=requires.constraints,
            children=children,
        )

    def plan(self, source: str | None) -> Plan:
        attrs = _merge_attributes(Attributes(), self.doc.get("attributes"))
        top = self.doc.get("requires") or {}
        mapping = {k: copy.deepcopy(v) for k, v in top.items() if k not in self.req.sets}
        requires = _Inherited(mapping, self.req.unreferenced())
        referenced = set()

        def collect(entries):
            for entry in entries or []:
                if "group" in entry:
                    referenced.add(entry["group"])

        collect(self.doc.get("tasks"))
        for group in self.doc.get("groups") or []:
            collect(group.get("tasks"))

        children: list[PlanNode] = [
            self.node(entry, ("tasks", i), i, None, attrs, requires, None)
            for i, entry in enumerate(self.doc.get("tasks") or [])
        ]
        for name, (index, group) in self.groups.items():
            if name not in referenced:
                children.append(self.group(group, ("groups", index), None, attrs, requires))
        name = self.doc.get("name") or (Path(source).stem if source else "jobspec")
        return Plan(
            name=name,
            children=children,
            source=source,
            requires=requires.mapping,
            constraints=requires.constraints,
        )


def _no_location(path: tuple) -> SourceRef:
    return SourceRef(path=format_path(path))


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while building large acyclic structures.

    Building a plan allocates many objects and no cycles; with the collector running, its
    full passes make planning 100,000 tasks twice as slow as ten times 10,000.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build_plan(
    doc: dict[str, Any], source: str | None = None, locate: Locate | None = None
) -> Plan:
    """The plan of a validated document.

    :param doc: the document as plain data (schema- and semantically valid).
    :param source: the file it came from, for the plan's ``source`` and default name.
    :param locate: maps a document path tuple to a :class:`SourceRef` (line and column);
        without it, source refs carry only the path.
    """
    with gc_paused():
        return _Planner(doc, locate or _no_location).plan(source)
