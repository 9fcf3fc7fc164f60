"""Semantic checks: what a schema cannot say about a JobSpec document.

Every check is defensive (it skips values of the wrong type, which the schema reports) and
the whole pass is linear in the size of the document: names are looked up in dicts, cycles
are found with one depth-first search per level. Checks, each with its rule in
``spec/spec.md``:

* something to run (``tasks`` or ``groups``);
* names unique: tasks and placed groups among siblings (and against the ``task-N`` ids of
  unnamed siblings), group names in the whole document;
* references resolve: named resources (each side of ``a|b``), ``group:`` entries, and
  ``depends_on`` names among siblings;
* a task entry has exactly one of ``command`` and ``group``; a group reference carries only
  ``depends_on``; a group is placed at most once and never inside itself; groups have tasks
  and nest at most :data:`MAX_GROUP_DEPTH` deep;
* no dependency cycles among siblings (tasks and groups alike; the cycle is named);
* ``local: true`` only inside a group, and without resources;
* durations parse, and none is longer than its enclosing group's;
* environment names ``JOBSPEC_*`` are reserved; ``cwd: ~user`` is refused;
* at most :data:`.limits.MAX_INSTANCES` task instances in the plan;
* steps are of a known type, their options fit the type's schema and pass its checks;
* constraint objects combine meaningfully and requirement sets referred to exist
  (:func:`jobspec_core.requirements.requirement_problems`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .cycles import find_cycles
from .docpath import DocPath, format_path
from .durations import DurationError, parse_duration
from .errors import Problem
from .limits import MAX_GROUP_DEPTH, MAX_INSTANCES, MAX_PROBLEMS
from .planner import unnamed_id
from .requirements import RequirementRules
from .schema import did_you_mean, instance_problems
from .steps import StepType

__all__ = ["semantic_problems", "find_cycles", "MAX_GROUP_DEPTH", "RESERVED_ENV_PREFIX"]

#: Environment names with this prefix are set by jobspec itself (portable variables).
RESERVED_ENV_PREFIX = "JOBSPEC_"

_GROUP_ENTRY_KEYS = {"group", "depends_on"}
_TASK_KEYS = {
    "name",
    "command",
    "group",
    "replicas",
    "depends_on",
    "local",
    "resources",
    "requires",
    "attributes",
    "steps",
}
#: Names the schema accepts (others are reported by the schema, not again here).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


_NUL_MESSAGE = (
    "{what} contains a NUL byte, which no process argument or environment can carry; "
    "expected text without NUL"
)


def _listing(names: list[str], most: int = 20) -> str:
    """``a, b, c`` for a message; past ``most`` names, the first ones and how many in all."""
    if len(names) <= most:
        return ", ".join(names)
    return ", ".join(names[:most]) + f", ... ({len(names):,} in all)"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


class _Sibling:
    """One node at a level: a task, a placed group."""

    __slots__ = ("name", "path", "kind", "deps", "position")

    def __init__(self, name, path, kind, position):
        self.name = name
        self.path = path
        self.kind = kind
        self.deps: list[tuple[str, DocPath]] = []
        self.position = position


class _Checker:
    def __init__(self, document, steps: Mapping[str, type[StepType]]):
        self.doc = document
        self.data = document.data if isinstance(document.data, dict) else {}
        self.steps = steps
        self.problems: list[Problem] = []
        self.resource_names = set(_as_dict(self.data.get("resources")))
        self.groups: dict[str, tuple[int, dict]] = {}
        self.placed_at: dict[str, DocPath] = {}  # group name -> path of its reference
        self.contains: dict[str, list[str]] = {}  # group -> groups referenced in its tasks
        self.level_of: dict[str, str] = {}  # task/group name -> a level label (for hints)
        self.unlisted = 0

    def full(self) -> bool:
        """Whether no more problems are listed (then one is only counted): checks call it
        before building an expensive message (a suggestion among 100,000 names)."""
        if len(self.problems) > MAX_PROBLEMS:
            self.unlisted += 1
            return True
        return False

    def add(self, path: DocPath, message: str, code: str, hint: str | None = None) -> None:
        if len(self.problems) > MAX_PROBLEMS:
            self.unlisted += 1  # counted, not built: see limits.MAX_PROBLEMS
            return
        self.problems.append(self.doc.problem(path, message, code=code, hint=hint))

    def line_of(self, path: DocPath) -> str:
        ref = self.doc.locate(path)
        return f"{format_path(path)} (line {ref.line})" if ref.line else format_path(path)

    # -- whole document ------------------------------------------------------------------
    def run(self) -> list[Problem]:
        data = self.data
        self.requirements = RequirementRules(data, self.add, did_you_mean)
        self.requirements.check_top()
        tasks = _as_list(data.get("tasks"))
        groups = _as_list(data.get("groups"))
        if not tasks and not groups and "tasks" not in data and "groups" not in data:
            self.add((), "nothing to run: add a 'tasks:' list (or 'groups:')", "empty")
        elif not tasks and not groups:
            self.add(
                ("tasks",) if "tasks" in data else ("groups",),
                "nothing to run: the list of tasks is empty",
                "empty",
            )
        self.index_groups(groups)
        self.find_references(tasks, ("tasks",), None)
        for name, (index, group) in self.groups.items():
            self.find_references(_as_list(group.get("tasks")), ("groups", index, "tasks"), name)
        self.check_group_nesting()
        self.check_attributes(data.get("attributes"), ("attributes",))
        # levels: the top, then each group's tasks
        top = self.level(tasks, ("tasks",), top=True)
        for name, (index, _group) in self.groups.items():
            if name not in self.placed_at:
                top.append(self.placed_sibling(name, ("groups", index), len(top)))
        self.check_level(top, "the top level")
        for name, (index, group) in self.groups.items():
            path = ("groups", index)
            self.check_node_common(group, path)
            entries = group.get("tasks")
            if not _as_list(entries):
                self.add(
                    path + ("tasks",) if "tasks" in group else path,
                    f"group '{name}' has no tasks: expected at least one task in its 'tasks:' list",
                    "empty-group",
                )
            siblings = self.level(_as_list(entries), path + ("tasks",), top=False)
            self.check_level(siblings, f"group '{name}'")
        self.check_durations(tasks, groups)
        self.check_instances(tasks)
        return self.problems

    def check_instances(self, tasks: list) -> None:
        """The plan's task instances (``replicas`` summed over every task, in groups too:
        each group is placed once) are at most :data:`.limits.MAX_INSTANCES`; reported at
        the task that passes the bound, before anything is planned."""
        levels: list[tuple[list, tuple[str | int, ...]]] = [(tasks, ("tasks",))] + [
            (_as_list(group.get("tasks")), ("groups", index, "tasks"))
            for index, group in self.groups.values()
        ]
        total, count = 0, 0
        where: tuple[str | int, ...] | None = None
        for entries, path in levels:
            for i, entry in enumerate(entries):
                if not isinstance(entry, dict) or "group" in entry:
                    continue
                replicas = entry.get("replicas", 1)
                if type(replicas) is not int or replicas < 1:
                    replicas = 1  # (the schema reports it)
                count += 1
                total += replicas
                if where is None and total > MAX_INSTANCES:
                    where = path + (i, "replicas") if "replicas" in entry else path + (i,)
        if where is not None:
            self.add(
                where,
                f"the plan has {total:,} task instances ({count:,} tasks, replicas summed), "
                f"more than the {MAX_INSTANCES:,} one plan may have; the bound is passed "
                "here (use fewer tasks or replicas, or split the work into several runs)",
                "too-many-instances",
            )

    # -- groups ----------------------------------------------------------------------------
    def index_groups(self, groups: list) -> None:
        for index, group in enumerate(groups):
            if not isinstance(group, dict):
                continue
            name = group.get("name")
            if not isinstance(name, str):
                continue
            if name in self.groups:
                first = ("groups", self.groups[name][0])
                self.add(
                    ("groups", index, "name"),
                    f"duplicate group name '{name}': already used by {self.line_of(first)}; "
                    "group names are unique in the document",
                    "duplicate-name",
                )
                continue
            self.groups[name] = (index, group)

    def find_references(self, entries: list, path: DocPath, owner: str | None) -> None:
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("group"), str):
                continue
            target = entry["group"]
            where = path + (i, "group")
            if target not in self.groups:
                if self.full():
                    continue
                guess = did_you_mean(target, self.groups)
                known = _listing(sorted(self.groups)) or "none are defined"
                self.add(
                    where,
                    f"unknown group '{target}': expected a group defined under 'groups:' ({known})",
                    "unknown-group",
                    hint=f"did you mean '{guess}'?" if guess else None,
                )
                continue
            if owner is not None and target == owner:
                self.add(
                    where,
                    f"group '{owner}' contains itself; a group can only be placed "
                    "inside another group",
                    "group-cycle",
                )
                continue
            if target in self.placed_at:
                self.add(
                    where,
                    f"group '{target}' is placed twice: already at "
                    f"{self.line_of(self.placed_at[target])}; a group is one "
                    "allocation and appears in one place",
                    "group-twice",
                )
                continue
            self.placed_at[target] = path + (i,)
            if owner is not None:
                self.contains.setdefault(owner, []).append(target)

    def check_group_nesting(self) -> None:
        names = list(self.groups)
        edges = {n: self.contains.get(n, []) for n in names}
        for cycle in find_cycles(names, edges):
            index = self.groups[cycle[0]][0]
            self.add(
                ("groups", index),
                "groups contain each other: "
                + " -> ".join(cycle)
                + "; a group cannot be inside itself",
                "group-cycle",
            )
        # depth, from each top-level group down (iterative; cycles already reported)
        roots = [n for n in names if n not in self.placed_at]
        stack = [(n, 1) for n in roots]
        seen: set[str] = set()
        while stack:
            name, depth = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            if depth > MAX_GROUP_DEPTH:
                self.add(
                    ("groups", self.groups[name][0]),
                    f"group '{name}' is nested {depth} groups deep; at most "
                    f"{MAX_GROUP_DEPTH} levels are allowed",
                    "too-deep",
                )
                continue
            stack.extend((child, depth + 1) for child in edges.get(name, ()))

    # -- one level of siblings -------------------------------------------------------------
    def placed_sibling(self, name: str, group_path: DocPath, position: int) -> _Sibling:
        sib = _Sibling(name, group_path, "group", position)
        group = self.groups[name][1]
        for j, dep in enumerate(_as_list(group.get("depends_on"))):
            if isinstance(dep, str):
                sib.deps.append((dep, group_path + ("depends_on", j)))
        return sib

    def level(self, entries: list, path: DocPath, top: bool) -> list[_Sibling]:
        siblings: list[_Sibling] = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                continue
            epath = path + (i,)
            has_group, has_command = "group" in entry, "command" in entry
            if has_group and has_command:
                self.add(
                    epath,
                    "a task entry has both 'command' and 'group': it is either a task "
                    "(command) or a place for a group (group), not both",
                    "group-and-command",
                )
            elif not has_group and not has_command and set(entry) <= _TASK_KEYS:
                # (with an unknown key such as 'comand', the schema's did-you-mean says it)
                self.add(
                    epath,
                    "a task needs a 'command' (or 'group: NAME' to place a group here)",
                    "missing-command",
                )
            if has_group and isinstance(entry.get("group"), str):
                target = entry["group"]
                extra = sorted(set(entry) - _GROUP_ENTRY_KEYS - {"command"})
                for key in extra:
                    self.add(
                        epath + (key,),
                        f"'{key}' on a group reference: a '- group: NAME' "
                        "entry takes only 'depends_on'",
                        "group-reference-key",
                        hint=f"set '{key}' on the group '{target}' under 'groups:'",
                    )
                if target in self.groups and self.placed_at.get(target) == epath:
                    sib = self.placed_sibling(target, ("groups", self.groups[target][0]), i)
                    sib.path = epath
                    for j, dep in enumerate(_as_list(entry.get("depends_on"))):
                        if isinstance(dep, str):
                            sib.deps.append((dep, epath + ("depends_on", j)))
                    siblings.append(sib)
                continue
            self.check_task(entry, epath, top)
            name = entry.get("name")
            sib = _Sibling(name if isinstance(name, str) else None, epath, "task", i)
            for j, dep in enumerate(_as_list(entry.get("depends_on"))):
                if isinstance(dep, str):
                    sib.deps.append((dep, epath + ("depends_on", j)))
            siblings.append(sib)
        return siblings

    def check_level(self, siblings: list[_Sibling], label: str) -> None:
        by_name: dict[str, _Sibling] = {}
        for sib in siblings:
            if sib.name is None:
                continue
            if sib.name in by_name:
                first = by_name[sib.name]
                where = sib.path + ("name",) if sib.kind == "task" else sib.path
                self.add(
                    where,
                    f"duplicate name '{sib.name}' in {label}: also the name of the "
                    f"{first.kind} at {self.line_of(first.path)}; tasks and groups "
                    "at one level need distinct names",
                    "duplicate-name",
                )
                continue
            by_name[sib.name] = sib
        for sib in siblings:
            if sib.name is None and sib.kind == "task":
                auto = unnamed_id(sib.position)
                if auto in by_name:
                    other = by_name[auto]
                    self.add(
                        other.path + ("name",),
                        f"the name '{auto}' is also the id of the unnamed task at "
                        f"{self.line_of(sib.path)}; choose another name or name that task",
                        "duplicate-name",
                    )
        edges: dict[str, list[str]] = {}
        known: list[str] | None = None  # sorted names, made when a message needs them
        for sib in siblings:
            if sib.name is not None and by_name.get(sib.name) is sib:
                edges[sib.name] = []
            for dep, dpath in sib.deps:
                if dep not in by_name:
                    if self.full():
                        continue
                    known = sorted(by_name) if known is None else known
                    guess = did_you_mean(dep, known)
                    listed = _listing(known) if known else "there are no named ones"
                    self.add(
                        dpath,
                        f"unknown name '{dep}' in depends_on: expected a task or "
                        f"group in {label} ({listed})",
                        "unknown-dependency",
                        hint=f"did you mean '{guess}'?" if guess else None,
                    )
                elif sib.name is not None and by_name.get(sib.name) is sib:
                    # (an unnamed task cannot be depended on, so it closes no cycle)
                    edges[sib.name].append(dep)
        for cycle in find_cycles(list(edges), edges):
            node = by_name[cycle[0]]
            if len(cycle) == 2:
                message = f"'{cycle[0]}' depends on itself"
            else:
                message = "dependency cycle: " + " -> ".join(cycle)
            self.add(node.path, message + "; depends_on must not form a cycle", "cycle")

    # -- one task / group ----------------------------------------------------------------
    def check_task(self, entry: dict, path: DocPath, top: bool) -> None:
        if entry.get("local") is True:
            if top:
                self.add(
                    path + ("local",),
                    "'local: true' on a top-level task: a local task "
                    "runs inside its group's allocation, and a top-level task has none",
                    "local-top-level",
                    hint="move it into a group, or remove 'local'",
                )
            if "resources" in entry:
                self.add(
                    path + ("resources",),
                    "a local task takes no resources: it runs inside the allocation of its group",
                    "local-resources",
                )
        command = entry.get("command")
        words = [command] if isinstance(command, str) else _as_list(command)
        for i, word in enumerate(words):
            if isinstance(word, str) and "\x00" in word:
                where = path + ("command",) if isinstance(command, str) else path + ("command", i)
                self.add(where, _NUL_MESSAGE.format(what="a command"), "nul-byte")
        self.check_node_common(entry, path)

    def check_node_common(self, node: dict, path: DocPath) -> None:
        self.requirements.check_node(node, path)
        res = node.get("resources")
        if isinstance(res, str):
            for part in res.split("|"):
                name = part.strip()
                if _NAME.match(name) and name not in self.resource_names:
                    if self.full():
                        continue
                    known = sorted(self.resource_names)
                    guess = did_you_mean(name, known)
                    listed = _listing(known) if known else "none are defined"
                    self.add(
                        path + ("resources",),
                        f"unknown resource block '{name}': expected a name defined under "
                        f"the top-level 'resources:' ({listed})",
                        "unknown-resource",
                        hint=f"did you mean '{guess}'?" if guess else None,
                    )
        self.check_attributes(node.get("attributes"), path + ("attributes",))
        for i, step in enumerate(_as_list(node.get("steps"))):
            self.check_step(step, path + ("steps", i))

    def check_attributes(self, attrs: Any, path: DocPath) -> None:
        if not isinstance(attrs, dict):
            return
        value = attrs.get("duration")
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            try:
                parse_duration(attrs["duration"])
            except DurationError as exc:
                self.add(path + ("duration",), str(exc), "bad-duration")
        cwd = attrs.get("cwd")
        if isinstance(cwd, str):
            from .workdirs import cwd_problem

            problem = cwd_problem(cwd)
            if problem:
                self.add(path + ("cwd",), problem, "bad-cwd")
        for key, text in _as_dict(attrs.get("environment")).items():
            if isinstance(text, str) and "\x00" in text:
                self.add(
                    path + ("environment", key),
                    _NUL_MESSAGE.format(what="an environment value"),
                    "nul-byte",
                )
            if isinstance(key, str) and key.startswith(RESERVED_ENV_PREFIX):
                self.add(
                    path + ("environment", key),
                    f"'{key}': names starting with {RESERVED_ENV_PREFIX} are reserved for "
                    "the variables jobspec sets itself",
                    "reserved-env",
                )

    def check_step(self, step: Any, path: DocPath) -> None:
        if not isinstance(step, dict) or not isinstance(step.get("name"), str):
            return
        name = step["name"]
        cls = self.steps.get(name)
        if cls is None:
            known = sorted(self.steps)
            guess = did_you_mean(name, known)
            self.add(
                path + ("name",),
                f"unknown step '{name}': expected one of {', '.join(known)}",
                "unknown-step",
                hint=f"did you mean '{guess}'?" if guess else None,
            )
            return
        options = {k: v for k, v in step.items() if k != "name"}
        try:
            found = instance_problems(self.doc, options, cls.options_schema, path)
        except Exception as exc:  # an invalid options_schema is the plugin's bug
            self.add(
                path,
                f"the '{name}' step type has an unusable options schema "
                f"({type(exc).__name__}: {_first_line(exc)}); report it to the plugin's authors",
                "step-check-failed",
            )
            return
        if found:
            self.problems.extend(found)
            return
        try:
            findings = list(cls().check(options))
        except Exception as exc:  # a plugin's bug must not hide the document's problems
            self.add(
                path,
                f"the '{name}' step type failed to check its options "
                f"({type(exc).__name__}: {_first_line(exc)}); report it to the plugin's authors",
                "step-check-failed",
            )
            return
        for key, message in findings:
            self.add(path + (key,), f"{name} step: {message}", "bad-step")

    # -- durations against enclosing groups ----------------------------------------------
    def _duration(self, node: Any) -> int | None:
        attrs = _as_dict(node.get("attributes")) if isinstance(node, dict) else {}
        try:
            return parse_duration(attrs["duration"]) if "duration" in attrs else None
        except (DurationError, TypeError):
            return None

    def check_durations(self, tasks: list, groups: list) -> None:
        inherited = self._duration(self.data)
        # (entries, path, inherited duration, enclosing group limit, group name)
        stack: list[tuple[list, DocPath, int | None, int | None, str | None]] = [
            (tasks, ("tasks",), inherited, None, None)
        ]
        for name in self.groups:
            if name not in self.placed_at:
                stack.append(([{"group": name}], ("groups",), inherited, None, None))
        visited: set[str] = set()
        while stack:
            entries, path, inherited, limit, owner = stack.pop()
            for i, entry in enumerate(entries):
                if not isinstance(entry, dict):
                    continue
                target = entry.get("group")
                if isinstance(target, str):
                    if target not in self.groups or target in visited:
                        continue
                    visited.add(target)
                    index, group = self.groups[target]
                    gpath = ("groups", index)
                    own = self._duration(group)
                    if own is not None and limit is not None and own > limit:
                        self.add(
                            gpath + ("attributes", "duration"),
                            f"group '{target}' may run {own} s, longer than the {limit} s of "
                            f"its enclosing group '{owner}'",
                            "duration-exceeds-group",
                        )
                    effective = own if own is not None else inherited
                    stack.append(
                        (
                            _as_list(group.get("tasks")),
                            gpath + ("tasks",),
                            effective,
                            effective,
                            target,
                        )
                    )
                    continue
                own = self._duration(entry)
                if own is not None and limit is not None and own > limit:
                    self.add(
                        path + (i, "attributes", "duration"),
                        f"the task may run {own} s, longer than the {limit} s of its "
                        f"enclosing group '{owner}'",
                        "duration-exceeds-group",
                        hint="a task cannot outlive the allocation it runs in",
                    )


def semantic_problems(document, steps: Mapping[str, type[StepType]]) -> list[Problem]:
    """The semantic problems of ``document`` (unsorted): every one, or the first
    :data:`.limits.MAX_PROBLEMS` and one more; how many more were only counted is in the
    returned list's ``unlisted`` attribute.

    :param steps: step name -> step type, the types allowed under ``steps:``.
    """
    checker = _Checker(document, steps)
    found = ProblemList(checker.run())
    found.unlisted = checker.unlisted
    return found


class ProblemList(list):
    """A list of problems that also says how many more were found but not built."""

    unlisted = 0
