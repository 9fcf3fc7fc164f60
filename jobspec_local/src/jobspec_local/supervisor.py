"""The supervisor: runs one plan's processes on this machine, one event loop, no threads.

Started by :meth:`jobspec_local.transformer.LocalTransformer.submit` as
``python -P -m jobspec_local.supervisor RUN_DIR``. It detaches (fork, new session, output
to ``RUN_DIR/supervisor.log``), prints its pid once it is ready, and then:

* reads ``RUN_DIR/local-plan.json`` (see :mod:`jobspec_local.layout`);
* starts each node once everything it waits for has finished (after-ok for
  ``depends_on``, whatever the outcome for the barriers of ``local`` entries) and its
  container (the machine, or the enclosing group's allocation) has the budget it needs,
  first fit in document order; a dependent of a node that did not succeed is recorded
  ``never_run`` and never started;
* spawns each instance with ``os.posix_spawn`` in its own process group, stdin from
  ``/dev/null``, stdout and stderr to its log file, environment = the supervisor's
  (the submitter's) + the task's ``environment`` + the portable variables;
* reaps children on ``SIGCHLD`` (a wakeup fd in a selector; timers for duration limits),
  kills the whole process group at a duration limit (SIGTERM, then SIGKILL 0.5 s later)
  and records ``timeout``;
* on SIGTERM/SIGINT/SIGHUP (a cancel), kills every running group the same way, records
  running instances and everything not started as ``cancelled``, and exits;
* appends every state change to ``RUN_DIR/events.jsonl`` (see :mod:`jobspec_local.events`),
  one ``write`` per loop turn.

It imports nothing from jobspec_core, to start fast.
"""

from __future__ import annotations

import heapq
import json
import os
import selectors
import shutil
import signal
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

from .events import EVENTS_FILE, SUPERVISOR_FILE
from .localsteps import StepFailed, run_step
from .procinfo import kill_group, start_time

__all__ = ["Supervisor", "main", "TERM_GRACE"]

TERM_GRACE = 0.5  #: seconds between SIGTERM and SIGKILL when killing a process group
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_DEFAULT_SIGNALS = {
    signal.SIGPIPE,
    signal.SIGXFSZ,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGHUP,
    signal.SIGTERM,
    signal.SIGCHLD,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGALRM,
    signal.SIGTSTP,
    signal.SIGTTIN,
    signal.SIGTTOU,
}

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
        "expired",
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
        self.expired = False

    def dead(self) -> bool:
        return self.done


class Supervisor:
    """Executes one run directory's ``local-plan.json``; :meth:`run` returns when all ended."""

    def __init__(self, run_dir: Path, log=None):
        self.run_dir = Path(run_dir)
        spec = json.loads((self.run_dir / "local-plan.json").read_text(encoding="utf-8"))
        self.workdir = spec["workdir"]
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
        self.pids: dict[int, Inst] = {}
        self.timers: list[tuple[float, int, str, Any]] = []
        self._seq = 0
        self.pending_events: list[list[Any]] = []
        self.completed: deque[Node] = deque()
        self.dirty: set[int] = set()
        self.cancelling = False
        self.env_base = dict(os.environ)
        self._which: dict[tuple[str, str], str | None] = {}
        self._cwd: str | None = None
        self._log = log or (lambda text: print(text, file=sys.stderr, flush=True))
        (self.run_dir / "logs").mkdir(exist_ok=True)
        self.events_fd = os.open(
            self.run_dir / EVENTS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644
        )

    # -- recording ------------------------------------------------------------------
    def emit(self, event: list[Any]) -> None:
        self.pending_events.append(event)

    def flush(self) -> None:
        if not self.pending_events:
            return
        data = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in self.pending_events)
        self.pending_events.clear()
        view = memoryview(data.encode("utf-8"))
        while view:
            view = view[os.write(self.events_fd, view) :]

    def record_start(self) -> tuple[int, int | None]:
        pid, start = os.getpid(), start_time(os.getpid())
        self.emit(["S", pid, start, time.time()])
        self.flush()
        tmp = self.run_dir / (SUPERVISOR_FILE + ".tmp")
        tmp.write_text(json.dumps({"pid": pid, "start": start}))
        os.replace(tmp, self.run_dir / SUPERVISOR_FILE)
        return pid, start

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

    # -- starting -------------------------------------------------------------------
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
            except OSError as exc:
                return f"{step['name']}: {exc}"
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

    def _exe(self, argv0: str, env: dict[str, str]) -> str | None:
        if "/" in argv0:
            return argv0
        path = env.get("PATH", os.defpath)
        key = (argv0, path)
        if key not in self._which:
            self._which[key] = shutil.which(argv0, path=path)
        return self._which[key]

    def spawn(self, inst: Inst) -> None:
        node, s = inst.node, inst.node.spec
        env = self.env_base.copy()
        env.update(s["env"])
        env.update(s["portable"])
        env["JOBSPEC_TASK_INDEX"] = str(inst.index)
        argv = s["argv"]
        now = time.time()
        exe = self._exe(argv[0], env)
        if exe is None:
            self.end(inst, FAILED, 127, f"command not found: {argv[0]!r}", now, now)
            return
        cwd = s["cwd"]
        try:
            if cwd != self._cwd:
                self._cwd = None
                os.chdir(cwd)
                self._cwd = cwd
        except OSError as exc:
            self.end(inst, FAILED, None, f"working directory {cwd}: {exc.strerror}", now, now)
            return
        log = str(self.run_dir / s["logs"][inst.index])
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ]
        try:
            pid = os.posix_spawn(
                exe,
                argv,
                env,
                file_actions=actions,
                setpgroup=0,
                setsigdef=_DEFAULT_SIGNALS,
                setsigmask=(),
            )
        except OSError as exc:
            code = 127 if isinstance(exc, FileNotFoundError) else 126
            self.end(inst, FAILED, code, f"cannot execute {argv[0]!r}: {exc.strerror}", now, now)
            return
        inst.pid, inst.started = pid, now
        inst.pstart = start_time(pid)
        self.pids[pid] = inst
        self.emit(["R", node.id, inst.index, pid, inst.pstart, now])
        if s.get("duration"):
            self.timer(time.monotonic() + s["duration"], "deadline", inst)

    # -- ending ---------------------------------------------------------------------
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

    def kill(self, inst: Inst, state: str, reason: str) -> None:
        if inst.state is not None or inst.pid is None or inst.kill is not None:
            return
        inst.kill = (state, reason)
        kill_group(inst.pid, signal.SIGTERM)
        self.timer(time.monotonic() + TERM_GRACE, "sigkill", inst)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            inst = self.pids.pop(pid, None)
            if inst is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            reason = None
            if code < 0:
                try:
                    name = signal.Signals(-code).name
                except ValueError:
                    name = f"signal {-code}"
                reason, code = f"killed by {name}", 128 - code
            if inst.kill is not None:
                state, why = inst.kill
                reason = why if reason is None else f"{why} ({reason})"
                kill_group(pid, signal.SIGKILL)  # stragglers left in its process group
            else:
                state = COMPLETED if code == 0 else FAILED
                if state == FAILED and reason is None:
                    reason = f"exit code {code}"
            self.end(inst, state, code, reason, inst.started, time.time())

    # -- timers and signals ---------------------------------------------------------
    def timer(self, when: float, kind: str, obj: Any) -> None:
        self._seq += 1
        heapq.heappush(self.timers, (when, self._seq, kind, obj))

    def fire_timers(self) -> None:
        now = time.monotonic()
        while self.timers and self.timers[0][0] <= now:
            _, _, kind, obj = heapq.heappop(self.timers)
            if kind == "deadline":
                limit = obj.node.spec["duration"]
                self.kill(obj, TIMEOUT, f"killed at duration limit {limit}s")
            elif kind == "sigkill":
                if obj.state is None and obj.pid is not None:
                    kill_group(obj.pid, signal.SIGKILL)
            elif kind == "group" and not obj.done:
                self.expire(obj)

    def expire(self, g: Node) -> None:
        """A group reached its duration limit: kill what runs inside, skip the rest."""
        reason = f"group {g.id!r} reached its duration limit {g.spec['duration']}s"
        self._stop_inside(g, TIMEOUT, reason, NEVER_RUN)

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

    def cancel(self) -> None:
        if self.cancelling:
            return
        self._log("cancel requested: stopping every task")
        self.cancelling = True
        self._stop_inside(self.root, CANCELLED, "run cancelled", CANCELLED)

    # -- the loop -------------------------------------------------------------------
    def settle(self) -> None:
        while self.completed or self.dirty:
            self.propagate()
            while self.dirty:
                self.fill(self._by_number(self.dirty.pop()))
                self.propagate()

    def run(self) -> int:
        """Run to the end; returns 0 when every instance completed, else 1."""
        rfd, wfd = os.pipe()
        os.set_blocking(rfd, False)
        os.set_blocking(wfd, False)
        signal.set_wakeup_fd(wfd, warn_on_full_buffer=False)
        for sig in (signal.SIGCHLD, *_STOP_SIGNALS):
            signal.signal(sig, lambda *_: None)
        selector = selectors.DefaultSelector()
        selector.register(rfd, selectors.EVENT_READ)
        for node in self.root.children:
            if node.unmet == 0:
                self.ready(node)
        while True:
            self.settle()
            self.flush()
            if self.root.remaining == 0 and not self.pids:
                break
            timeout = max(0.0, self.timers[0][0] - time.monotonic()) if self.timers else None
            if selector.select(timeout):
                try:
                    signals = os.read(rfd, 4096)
                except BlockingIOError:
                    signals = b""
                if any(s in signals for s in _STOP_SIGNALS):
                    self.cancel()
            self.reap()
            self.fire_timers()
        self.emit(["D", time.time()])
        self.flush()
        ok = all(n.ok for n in self.root.children)
        self._log(
            f"supervisor done: {'all tasks completed' if ok else 'some tasks did not complete'}"
        )
        return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """Detach, signal readiness (the pid on stdout of the first process), run."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m jobspec_local.supervisor RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(args[0]).resolve()
    rfd, wfd = os.pipe()
    if os.fork():  # the first process: wait for readiness, print the pid, leave
        os.close(wfd)
        data = b""
        while chunk := os.read(rfd, 64):
            data += chunk
        if not data:
            return 1
        sys.stdout.write(data.decode())
        sys.stdout.flush()
        return 0
    os.close(rfd)
    os.setsid()
    log_fd = os.open(run_dir / "supervisor.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    os.close(null_fd)
    try:
        supervisor = Supervisor(run_dir)
        pid, start = supervisor.record_start()
    except Exception as exc:
        print(f"supervisor could not start: {type(exc).__name__}: {exc}", file=sys.stderr)
        os._exit(1)
    os.write(wfd, f"{pid} {start}\n".encode())
    os.close(wfd)
    try:
        code = supervisor.run()
    except BaseException as exc:  # record why, and let status report the rest as lost
        import traceback

        traceback.print_exc()
        print(f"supervisor crashed: {exc}", file=sys.stderr, flush=True)
        os._exit(3)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
