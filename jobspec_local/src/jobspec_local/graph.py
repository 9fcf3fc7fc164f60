"""The run's graph and budget: what may start now, and what follows when something ends.

:class:`Scheduler` holds the nodes of ``local-plan.json`` (tasks, groups, and the machine
as the root container) and applies the rules of :mod:`jobspec_local.layout`: after-ok
``depends_on``, barriers for ``local`` entries, first fit in document order within each
container's budget, ``never_run`` for dependents of a node that did not succeed, a group
finishing when all its children have. It starts and stops nothing itself: a subclass
provides :meth:`Scheduler.spawn`, :meth:`Scheduler.kill`, :meth:`Scheduler.emit` and
:meth:`Scheduler.timer` (see :class:`jobspec_local.supervisor.Supervisor`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .localsteps import StepFailed, run_step

__all__ = ["Inst", "Node", "Scheduler", "COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "NEVER_RUN"]

COMPLETED, FAILED, TIMEOUT = "completed", "failed", "timeout"
CANCELLED, NEVER_RUN = "cancelled", "never_run"


class Inst:
    """One task instance."""

    __slots__ = ("node", "index", "need", "pid", "pstart", "started", "state", "kill", "held")

    def __init__(self, node: Node, index: int):
        self.node = node
        self.index = index
        self.need = node.need
        self.pid: int | None = None
        self.pstart: int | None = None
        self.started: float | None = None
        self.state: str | None = None  # set once ended
        self.kill: tuple[str, str] | None = None  # (state, reason) once we killed it
        self.held = False  # took its need from the container's budget

    def dead(self) -> bool:
        return self.state is not None


class Node:
    """A task, a group, or the machine itself (the root container)."""

    __slots__ = (
        "n",
        "spec",
        "kind",
        "id",
        "parent",
        "need",
        "unmet",
        "dependents",
        "children",
        "started",
        "done",
        "ok",
        "remaining",
        "free",
        "queue",
        "insts",
    )

    def __init__(self, n: int, spec: dict[str, Any]):
        self.n = n
        self.spec = spec
        self.kind = spec["kind"]
        self.id = spec.get("id", "")
        self.parent: Node | None = None
        self.need = tuple(spec.get("need", (0, 0)))
        self.unmet = len(spec.get("deps", ())) + len(spec.get("after", ()))
        self.dependents: list[tuple[Node, bool]] = []
        self.children: list[Node] = []
        self.started = False
        self.done = False
        self.ok = True
        self.remaining = 0
        self.free = [0, 0]
        self.queue: deque = deque()
        self.insts: list[Inst] = []

    def dead(self) -> bool:
        return self.done


class Scheduler:
    """The nodes of one execution spec and the rules that move them along."""

    def __init__(self, spec: dict[str, Any], log: Callable[[str], None]):
        self.nodes = [Node(i, s) for i, s in enumerate(spec["nodes"])]
        self.root = Node(-1, {"kind": "root", "id": "<machine>"})
        self.root.free = list(spec["capacity"])
        self.root.started = True
        for node in self.nodes:
            s = node.spec
            for d in s["deps"]:
                self.nodes[d].dependents.append((node, True))
            for a in s["after"]:
                self.nodes[a].dependents.append((node, False))
            if node.kind == "task":
                node.insts = [Inst(node, i) for i in range(s["replicas"])]
            else:
                node.children = [self.nodes[c] for c in s["children"]]
                for child in node.children:
                    child.parent = node
        self.root.children = [self.nodes[r] for r in spec["roots"]]
        self.root.remaining = len(self.root.children)
        self.completed: deque[Node] = deque()
        self.dirty: set[int] = set()
        self.cancelling = False
        self._log = log

    # -- provided by the subclass ---------------------------------------------------
    def spawn(self, inst: Inst) -> None:
        """Start ``inst``'s process (or :meth:`end` it at once if that fails)."""
        raise NotImplementedError

    def kill(self, inst: Inst, state: str, reason: str) -> None:
        """Stop a running ``inst``; it ends in ``state`` when its process is reaped."""
        raise NotImplementedError

    def emit(self, event: list[Any]) -> None:
        """Record one event (see :mod:`jobspec_local.events`)."""
        raise NotImplementedError

    def timer(self, when: float, kind: str, obj: Any) -> None:
        """Call back at monotonic time ``when`` (``group`` deadlines from here)."""
        raise NotImplementedError

    def group_ended(self, g: Node) -> None:
        """``g`` has finished (its allocation is given back); nothing to do by default."""

    def start_roots(self) -> None:
        for node in self.root.children:
            if node.unmet == 0:
                self.ready(node)

    # -- containers and budget ------------------------------------------------------
    def container(self, node: Node) -> Node:
        return node.parent if node.parent is not None else self.root

    def _mark_dirty(self, c: Node) -> None:
        self.dirty.add(c.n)

    def _by_number(self, n: int) -> Node:
        return self.root if n == -1 else self.nodes[n]

    def fill(self, c: Node) -> None:
        """Start what fits in container ``c``, first fit in queue (document) order."""
        q, free = c.queue, c.free
        keep: deque = deque()
        while q and free[0] > 0 and not self.cancelling and not c.done:
            item = q.popleft()
            if item.dead():
                continue
            need = item.need
            if need[0] <= free[0] and need[1] <= free[1]:
                free[0] -= need[0]
                free[1] -= need[1]
                if isinstance(item, Inst):
                    item.held = True
                    self.spawn(item)
                else:
                    self.activate_group(item)
            else:
                keep.append(item)
        if keep:
            keep.extend(q)
            c.queue = keep

    def release(self, c: Node, need: tuple) -> None:
        c.free[0] += need[0]
        c.free[1] += need[1]
        self._mark_dirty(c)

    def ready(self, node: Node) -> None:
        """Everything ``node`` waits for has finished; start it or queue it for budget."""
        if node.done or node.started or self.cancelling:
            return
        if node.kind == "group":
            c = self.container(node)
            c.queue.append(node)
            self._mark_dirty(c)
        else:
            self.launch_task(node)

    def _steps(self, node: Node) -> str | None:
        for step in node.spec["steps"]:
            try:
                run_step(step, node.spec["staging"], self._log)
            except StepFailed as exc:
                return str(exc)
            except Exception as exc:  # a step's failure fails its node, never the supervisor
                return f"{step['name']}: {type(exc).__name__}: {exc}"
        return None

    def launch_task(self, node: Node) -> None:
        node.started = True
        node.remaining = len(node.insts)
        failure = self._steps(node)
        if failure:
            now = time.time()
            for inst in node.insts:
                self.end(inst, FAILED, None, f"step failed: {failure}", now, now)
            return
        c = self.container(node)
        if node.need == (0, 0):
            for inst in node.insts:
                self.spawn(inst)
            return
        c.queue.extend(node.insts)
        self._mark_dirty(c)

    def activate_group(self, g: Node) -> None:
        g.started = True
        g.free = list(g.need)
        g.remaining = len(g.children)
        failure = self._steps(g)
        if failure:
            self.skip(g, FAILED, f"group {g.id!r}: step failed: {failure}")
            return
        if g.spec.get("duration"):
            self.timer(time.monotonic() + g.spec["duration"], "group", g)
        if not g.children:
            self.finish(g, True)
            return
        for child in g.children:
            if child.unmet == 0:
                self.ready(child)

    def end(
        self,
        inst: Inst,
        state: str,
        code: int | None,
        reason: str | None,
        started: float | None,
        finished: float,
    ) -> None:
        """Record an instance's end; release its budget if it held some."""
        if inst.state is not None:
            return
        inst.state = state
        node = inst.node
        self.emit(["E", node.id, inst.index, state, code, reason, started, finished])
        if inst.held:
            inst.held = False
            self.release(self.container(node), inst.need)
        node.ok = node.ok and state == COMPLETED
        node.remaining -= 1
        if node.remaining == 0:
            self.finish(node, node.ok)

    def skip(self, node: Node, state: str, reason: str) -> None:
        """End ``node`` without running it (and everything inside it not yet ended)."""
        if node.done:
            return
        now = time.time()
        if node.kind == "task":
            if not node.started:
                node.started = True
                node.remaining = len(node.insts)
            for inst in node.insts:
                if inst.state is None and inst.pid is None:
                    self.end(inst, state, None, reason, None, now)
            return
        if not node.started:
            node.started = True
            node.remaining = len(node.children)
            node.free = [0, 0]
            node.need = (0, 0)  # never allocated: nothing to give back
        for child in node.children:
            if not child.done:
                self.skip(child, state, reason)
        if node.remaining == 0:
            self.finish(node, False)

    def finish(self, node: Node, ok: bool) -> None:
        if node.done:
            return
        node.done = True
        node.ok = ok
        self.completed.append(node)

    def propagate(self) -> None:
        while self.completed:
            node = self.completed.popleft()
            c = self.container(node)
            if node.kind == "group":
                self.release(c, node.need)
                self.group_ended(node)
            for dep, after_ok in node.dependents:
                if dep.done:
                    continue
                if after_ok and not node.ok:
                    self.skip(dep, NEVER_RUN, f"dependency {node.id!r} did not succeed")
                else:
                    dep.unmet -= 1
                    if dep.unmet == 0:
                        self.ready(dep)
            c.remaining -= 1
            c.ok = c.ok and node.ok
            if c is not self.root and c.remaining == 0:
                self.finish(c, c.ok)

    def _stop_inside(self, g: Node, kill_state: str, reason: str, skip_state: str) -> None:
        stack = list(g.children)
        while stack:
            node = stack.pop()
            if node.done:
                continue
            if node.kind == "group":
                if node.started:
                    stack.extend(node.children)
                else:
                    self.skip(node, skip_state, reason)
                continue
            if not node.started:
                self.skip(node, skip_state, reason)
                continue
            for inst in node.insts:
                if inst.state is not None:
                    continue
                if inst.pid is not None:
                    self.kill(inst, kill_state, reason)
                else:
                    self.end(inst, skip_state, None, reason, None, time.time())

    def settle(self) -> None:
        while self.completed or self.dirty:
            self.propagate()
            while self.dirty:
                self.fill(self._by_number(self.dirty.pop()))
                self.propagate()
