"""Requirements in the document: constraint objects, named requirement sets, references.

One home for the language rules of ``requires`` beyond the free-form mapping (normative
text: ``spec/spec.md``, "Requires"):

* a **constraint object** is ``{name, field, match, attribute, value, min, max}``; which
  combinations mean something is :func:`combination_problem`;
* the top-level ``requires`` maps names to **requirement sets** (a key holding a list of
  constraint objects) beside free-form metadata; a task, a group or a resource block
  refers to a set by its name (``requires: spack-software``) or lists constraints and set
  names (``requires: [spack-software, {name: system, ...}]``);
* a set that nothing refers to applies to the whole plan; a referred set applies where it
  is referred to;
* the mapping form stays free-form metadata for schedulers: it is never evaluated (write
  ``{name: system, field: cpu.target, value: X}`` to have ``io.archspec``'s
  ``cpu.target: X`` checked).

:func:`requirement_problems` reports the errors of a document; :class:`Resolver` turns
what a node writes into :class:`~jobspec_core.plan.Constraint` objects for the planner.
Both read plain data; nothing here evaluates a requirement (that is
:mod:`jobspec_core.satisfy`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from .docpath import DocPath
from .plan import Constraint, SourceRef

__all__ = [
    "CONSTRAINT_KEYS",
    "RequirementRules",
    "combination_problem",
    "constraint_hint",
    "set_names",
    "requirement_problems",
    "Resolver",
]

#: The keys of a constraint object, in the order they are shown.
CONSTRAINT_KEYS = ("name", "field", "match", "attribute", "value", "min", "max")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def combination_problem(item: dict[str, Any]) -> tuple[str, str] | None:
    """``(message, hint)`` when the keys of constraint ``item`` make no sense together,
    else ``None``. The meaningful forms:

    * ``{name, field, match}``: some node of subsystem ``name`` has ``field == match``;
    * ``{name, field, match, attribute, value | min/max}``: and that node's attribute has
      the value (or lies within the bounds);
    * ``{name, field, value | min/max}``: some node's field has the value (bounds);
    * ``{name, attribute, value | min/max}``: some node's attribute has the value (bounds).
    """
    has = {k for k in CONSTRAINT_KEYS if item.get(k) is not None}
    bounded = bool(has & {"min", "max"})
    if "match" in has and "field" not in has:
        return (
            "a constraint with 'match' needs 'field': the field of the subsystem's nodes "
            "compared with it",
            "add 'field: type' to select nodes by their type",
        )
    if "field" not in has and "attribute" not in has:
        return (
            "a constraint needs 'field' or 'attribute': what of the subsystem it is about",
            "for example {name: system, field: cpu.target, value: x86_64}",
        )
    if "value" in has and bounded:
        return (
            "a constraint has either 'value' or 'min'/'max', not both",
            "keep 'value' for an exact value, or 'min'/'max' for a range",
        )
    if bounded:
        if (
            "min" in has
            and "max" in has
            and _number(item["min"])
            and _number(item["max"])
            and item["min"] > item["max"]
        ):
            return (
                f"'min' ({item['min']}) is greater than 'max' ({item['max']}): no value can "
                "satisfy the constraint",
                "swap them",
            )
    if "attribute" in has and "value" not in has and not bounded:
        return (
            "a constraint with 'attribute' needs 'value', 'min' or 'max': what the "
            "attribute must be",
            "add 'value: ...'",
        )
    if "match" in has and "attribute" not in has and ("value" in has or bounded):
        return (
            "with 'match', 'value', 'min' and 'max' are about an 'attribute' of the matched "
            "nodes, and there is none",
            "add 'attribute: NAME', or drop 'match' to test the field itself",
        )
    if "field" in has and "match" not in has and "value" not in has and not bounded:
        return (
            "a constraint with 'field' needs 'match', 'value', 'min' or 'max'",
            "add 'value: ...' (the field's value) or 'match: ...' (select nodes by it)",
        )
    return None


def set_names(top: Any) -> dict[str, list]:
    """The requirement sets of a top-level ``requires`` value: name -> its list of
    constraint objects (a key whose value is a non-empty list of mappings)."""
    if not isinstance(top, dict):
        return {}
    return {
        k: v
        for k, v in top.items()
        if isinstance(k, str) and isinstance(v, list) and v and all(isinstance(i, dict) for i in v)
    }


def _resource_blocks(block: Any, path: DocPath) -> Iterator[tuple[dict, DocPath]]:
    if isinstance(block, dict):
        yield block, path
        for i, inner in enumerate(
            block.get("with") or [] if isinstance(block.get("with"), list) else []
        ):
            yield from _resource_blocks(inner, path + ("with", i))


def _requires_sites(data: dict) -> Iterator[tuple[Any, DocPath]]:
    """Every ``requires`` of a task, a group or a resource block, with its path."""
    for name, block in (
        (data.get("resources") or {}).items() if isinstance(data.get("resources"), dict) else ()
    ):
        for inner, path in _resource_blocks(block, ("resources", name)):
            if "requires" in inner:
                yield inner["requires"], path + ("requires",)

    def node(entry: Any, path: DocPath) -> Iterator[tuple[Any, DocPath]]:
        if not isinstance(entry, dict):
            return
        if "requires" in entry:
            yield entry["requires"], path + ("requires",)
        for inner, ipath in _resource_blocks(entry.get("resources"), path + ("resources",)):
            if "requires" in inner:
                yield inner["requires"], ipath + ("requires",)

    tasks = data.get("tasks")
    for i, entry in enumerate(tasks if isinstance(tasks, list) else []):
        yield from node(entry, ("tasks", i))
    groups = data.get("groups")
    for g, group in enumerate(groups if isinstance(groups, list) else []):
        yield from node(group, ("groups", g))
        if isinstance(group, dict) and isinstance(group.get("tasks"), list):
            for i, entry in enumerate(group["tasks"]):
                yield from node(entry, ("groups", g, "tasks", i))


Add = Callable[[DocPath, str, str, "str | None"], None]


class RequirementRules:
    """The requirement checks of one document, reporting through
    ``add(path, message, code, hint)``: constraint objects whose keys do not combine, and
    references to requirement sets that do not exist. Values of the wrong type are left
    to the schema.

    The semantic pass calls :meth:`check_top` once and :meth:`check_node` for each task
    and group it visits anyway, so a document without requirements pays one dict lookup
    per node.
    """

    def __init__(self, data: dict, add: Add, did_you_mean: Callable):
        self.add = add
        self.did_you_mean = did_you_mean
        top = data.get("requires")
        self.sets = set_names(top)
        self.metadata = {k for k in top if k not in self.sets} if isinstance(top, dict) else set()
        self.data = data

    def check_top(self) -> None:
        """The top level's sets and the named resource blocks."""
        for name, items in self.sets.items():
            for i, item in enumerate(items):
                self.check_item(item, ("requires", name, i))
        blocks = self.data.get("resources")
        if isinstance(blocks, dict):
            for name, block in blocks.items():
                self.check_block(block, ("resources", name))

    def check_node(self, node: dict, path: DocPath) -> None:
        """A task's or a group's ``requires`` and its inline resource block."""
        if "requires" in node:
            self.check_value(node["requires"], path + ("requires",))
        if isinstance(node.get("resources"), dict):
            self.check_block(node["resources"], path + ("resources",))

    def check_block(self, block: Any, path: DocPath) -> None:
        for inner, where in _resource_blocks(block, path):
            if "requires" in inner:
                self.check_value(inner["requires"], where + ("requires",))

    def check_value(self, value: Any, path: DocPath) -> None:
        if isinstance(value, str):
            self.check_item(value, path)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.check_item(item, path + (i,))

    def check_item(self, item: Any, path: DocPath) -> None:
        if isinstance(item, dict):
            if any(k not in CONSTRAINT_KEYS for k in item):
                return  # an unknown key: the schema reports it, with a suggestion
            found = combination_problem(item)
            if found:
                self.add(path, found[0], "constraint", found[1])
            return
        if not isinstance(item, str) or item in self.sets:
            return
        if item in self.metadata:
            self.add(
                path,
                f"'{item}' under the top-level 'requires' is metadata, not a requirement "
                "set (a list of constraint objects)",
                "unknown-requirement-set",
                "define it as a list: " + item + ": [{name: ..., field: ..., value: ...}]",
            )
            return
        guess = self.did_you_mean(item, sorted(self.sets))
        listed = ", ".join(sorted(self.sets)) if self.sets else "none are defined"
        self.add(
            path,
            f"unknown requirement set '{item}': expected a name defined under the "
            f"top-level 'requires:' as a list of constraints ({listed})",
            "unknown-requirement-set",
            f"did you mean '{guess}'?"
            if guess
            else f"define it under the top-level 'requires:' as {item}: "
            "[{name: ..., field: ..., value: ...}]",
        )


def requirement_problems(data: dict, add: Add, did_you_mean: Callable) -> None:
    """Every requirement problem of ``data`` at once (:class:`RequirementRules` over the
    whole document; the semantic pass uses the class node by node instead)."""
    rules = RequirementRules(data, add, did_you_mean)
    for name, items in rules.sets.items():
        for i, item in enumerate(items):
            rules.check_item(item, ("requires", name, i))
    for value, path in _requires_sites(data):
        rules.check_value(value, path)


#: a constraint object (or a key of one) in a problem's path: ``tasks[0].requires[1].min``
_IN_CONSTRAINT = re.compile(r"(?:^|\.)requires(?:\.[^\[\]]+)?\[\d+\](?:\.(\w+))?$")
_HINTS = {
    None: "write a constraint object {name: SUBSYSTEM, field: ..., value: ...} or the name "
    "of a requirement set",
    "name": "the subsystem it is about: 'system' (what the transformer's target offers) or "
    "the type of a JGF graph's first node ('spack', 'environment-modules')",
    "min": "write a number without quotes (min: 4)",
    "max": "write a number without quotes (max: 64)",
    "value": "one value per constraint: write one constraint for each value",
    "match": "one value: the nodes whose field equals it are selected",
}


def constraint_hint(path: str, code: str) -> str | None:
    """A suggestion for a structural problem found at ``path`` inside a constraint object
    (the schema's messages say what is wrong, not how to write a constraint)."""
    if path.endswith("requires") and code == "empty":
        return "remove 'requires:', or list at least one constraint or set name"
    found = _IN_CONSTRAINT.search(path)
    if not found:
        return None
    if code == "missing-key":
        return _HINTS["name"]
    return _HINTS.get(found.group(1))


Locate = Callable[[tuple], SourceRef]


class Resolver:
    """Turns ``requires`` values of a valid document into constraints (for the planner).

    Constraint objects are built once per place they are written (a set referred to by
    10,000 tasks is one tuple shared by all of them).
    """

    def __init__(self, data: dict, locate: Locate):
        self.locate = locate
        self.sets = set_names(data.get("requires"))
        self._set_cache: dict[str, tuple[Constraint, ...]] = {}
        self.referenced: set[str] = set()
        if self.sets:
            for value, _ in _requires_sites(data):
                items = [value] if isinstance(value, str) else value
                if isinstance(items, list):
                    self.referenced.update(i for i in items if isinstance(i, str))

    def _constraint(self, item: dict, path: tuple, set_name: str | None) -> Constraint:
        return Constraint(
            subsystem=item["name"],
            field=item.get("field"),
            match=item.get("match"),
            attribute=item.get("attribute"),
            value=item.get("value"),
            min=item.get("min"),
            max=item.get("max"),
            set=set_name,
            source=self.locate(path),
        )

    def named(self, name: str) -> tuple[Constraint, ...]:
        """The constraints of the top-level set ``name``."""
        cached = self._set_cache.get(name)
        if cached is None:
            cached = tuple(
                self._constraint(item, ("requires", name, i), name)
                for i, item in enumerate(self.sets[name])
            )
            self._set_cache[name] = cached
        return cached

    def explicit(self, value: Any, path: tuple) -> tuple[Constraint, ...]:
        """The constraints written by a ``requires`` value at ``path`` (a set name or a
        list); ``()`` for the mapping form."""
        if isinstance(value, str):
            return self.named(value)
        if not isinstance(value, list):
            return ()
        out: list[Constraint] = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.extend(self.named(item))
            else:
                out.append(self._constraint(item, path + (i,), None))
        return tuple(out)

    def unreferenced(self) -> tuple[Constraint, ...]:
        """The constraints of the sets that nothing refers to: they apply to the whole
        plan."""
        out: list[Constraint] = []
        for name in self.sets:
            if name not in self.referenced:
                out.extend(self.named(name))
        return tuple(out)
