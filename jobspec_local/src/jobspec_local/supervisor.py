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
  kills the instance's whole tree at a duration limit (SIGTERM, then SIGKILL 0.5 s later)
  and records ``timeout``;
* when an instance's process exits, kills what it left (as a batch system does at a job's
  end), except for ``local`` entries: what they leave (a service) lives until their group
  ends, and is then stopped (SIGTERM, then SIGKILL);
* on SIGTERM/SIGINT/SIGHUP (a cancel), kills every running tree the same way, records
  running instances and everything not started as ``cancelled``, and exits;
* appends every state change to ``RUN_DIR/events.jsonl`` (see :mod:`jobspec_local.events`),
  one ``write`` per loop turn.

Containment: nothing a task starts outlives it, its limit, a cancel or the supervisor.
A process group is not enough (``setsid`` leaves it, a double fork leaves the tree), so:

* the supervisor is a subreaper (``PR_SET_CHILD_SUBREAPER``): a process whose parent dies
  is handed to it, never to init, so everything a task started stays below it;
* "an instance's processes" are its process tree (walked through ``/proc``) plus the
  orphans handed to the supervisor that carry its portable variables
  (``JOBSPEC_TASK_NAME``/``INDEX`` of this ``JOBSPEC_RUN_ID``); an orphan that cleared
  its environment cannot be told apart and is stopped when the run ends or is cancelled;
* a **guardian**, the supervisor's parent and itself a subreaper, waits for it: if the
  supervisor dies without its final ``D`` record (``kill -9``, a crash), everything it
  left is handed to the guardian, which stops all of it at once (SIGTERM, SIGKILL after
  0.5 s) and records each started instance ``failed`` ("killed: its supervisor ... died")
  and each one never started ``never_run``, then ``D``.

Limits: Linux only (``/proc``, ``prctl``); a process that escapes both the tree and its
environment, or a ``kill -9`` of the supervisor and the guardian together, is not held.

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
from pathlib import Path
from typing import Any

from .events import EVENTS_FILE, SUPERVISOR_FILE, EventLog
from .graph import CANCELLED, COMPLETED, FAILED, NEVER_RUN, TIMEOUT, Inst, Node, Scheduler
from .procinfo import (
    become_subreaper,
    children,
    descendants,
    instance_of,
    kill_group,
    kill_tree,
    start_time,
)

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


class Supervisor(Scheduler):
    """Executes one run directory's ``local-plan.json``; :meth:`run` returns when all ended."""

    def __init__(self, run_dir: Path, log=None):
        self.run_dir = Path(run_dir)
        spec = json.loads((self.run_dir / "local-plan.json").read_text(encoding="utf-8"))
        super().__init__(spec, log or (lambda text: print(text, file=sys.stderr, flush=True)))
        self.workdir = spec["workdir"]
        self.pids: dict[int, Inst] = {}
        self.timers: list[tuple[float, int, str, Any]] = []
        self._seq = 0
        self.pending_events: list[list[Any]] = []
        self.services: dict[int, list[int]] = {}  # group number -> process groups left
        self.run_id = spec.get("run_id")
        #: orphans handed to us (subreaper) -> the instance key they came from, or None
        self.orphans: dict[int, tuple[str, int] | None] = {}
        self.by_key: dict[tuple[str, int], Inst] = {}
        for node in self.nodes:
            for inst in node.insts:
                self.by_key[(node.id, inst.index)] = inst
        self.env_base = dict(os.environ)
        self._which: dict[tuple[str, str, str | None], str | None] = {}
        self._envs: dict[int, dict[str, str]] = {}
        self._cwd: str | None = None
        (self.run_dir / "logs").mkdir(exist_ok=True)
        self.events_fd = os.open(
            self.run_dir / EVENTS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644
        )

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

    def _exe(self, argv0: str, env: dict[str, str]) -> str | None:
        """The program for ``argv0``, searched in the task's own ``PATH`` (posix_spawnp
        would search the supervisor's); called once the task's directory is current, since
        ``PATH`` may hold relative entries."""
        if "/" in argv0:
            return argv0
        path = env.get("PATH", os.defpath)
        key = (argv0, path, self._cwd)
        if key not in self._which:
            self._which[key] = shutil.which(argv0, path=path)
        return self._which[key]

    def spawn(self, inst: Inst) -> None:
        node, s = inst.node, inst.node.spec
        env = self._envs.get(node.n)
        if env is None:  # one environment per task; only the index differs per replica
            env = self._envs[node.n] = {**self.env_base, **s["env"], **s["portable"]}
        env["JOBSPEC_TASK_INDEX"] = str(inst.index)
        if inst.index == len(node.insts) - 1:  # replicas start in order: the last one frees it
            del self._envs[node.n]
        argv = s["argv"]
        now = time.time()
        cwd = s["cwd"]
        try:
            if cwd != self._cwd:
                self._cwd = None
                os.chdir(cwd)  # posix_spawn has no chdir action; this process is one thread
                self._cwd = cwd
        except OSError as exc:
            self.end(inst, FAILED, None, f"working directory {cwd}: {exc.strerror}", now, now)
            return
        exe = self._exe(argv[0], env)
        if exe is None:
            self.end(inst, FAILED, 127, f"command not found: {argv[0]!r}", now, now)
            return
        log = str(self.run_dir / s["logs"][inst.index])
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ]
        try:  # never let one task's bad value take the supervisor down
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
        except (ValueError, TypeError) as exc:  # e.g. an embedded NUL byte
            self.end(inst, FAILED, None, f"cannot start {argv[0]!r}: {exc}", now, now)
            return
        inst.pid, inst.started = pid, now
        inst.pstart = start_time(pid)
        self.pids[pid] = inst
        self.emit(["R", node.id, inst.index, pid, inst.pstart, now])
        if s.get("duration"):
            self.timer(time.monotonic() + s["duration"], "deadline", inst)

    def kill(self, inst: Inst, state: str, reason: str) -> None:
        if inst.state is not None or inst.pid is None or inst.kill is not None:
            return
        inst.kill = (state, reason)
        self.signal_inst(inst, signal.SIGTERM)
        self.timer(time.monotonic() + TERM_GRACE, "sigkill", inst)

    # -- containment ----------------------------------------------------------------
    def adopted(self) -> dict[int, tuple[str, int] | None]:
        """The orphans handed to this supervisor now, each with the instance it came from."""
        current = {}
        for pid in children(os.getpid()):
            if pid in self.pids:
                continue
            if pid not in self.orphans:
                found = instance_of(pid)
                self.orphans[pid] = (
                    (found[1], found[2]) if found and found[0] == self.run_id else None
                )
            current[pid] = self.orphans[pid]
        return current

    def orphans_of(self, keys: set[tuple[str, int]]) -> list[int]:
        return [pid for pid, key in self.adopted().items() if key in keys]

    def signal_inst(self, inst: Inst, sig: int) -> None:
        """``sig`` to everything of ``inst``: its process tree and its orphans."""
        key = (inst.node.id, inst.index)
        kill_tree(inst.pid, sig, self.orphans_of({key}))

    def sweep(self, keys: set[tuple[str, int]] | None = None) -> None:
        """SIGKILL the orphans of ``keys`` (all orphans, with their trees, when None)."""
        adopted = self.adopted()
        for pid, key in adopted.items():
            if keys is None or key in keys:
                kill_tree(pid, signal.SIGKILL)

    def service_keys(self, g: Node) -> set[tuple[str, int]]:
        """The instances of ``g``'s own ``local`` entries (their leftovers are services)."""
        return {(c.id, i.index) for c in g.children if c.spec.get("local") for i in c.insts}

    def group_ended(self, g: Node) -> None:
        """End the services the group's local entries left running (SIGTERM, then SIGKILL)."""
        keys = self.service_keys(g)
        orphans = self.orphans_of(keys)
        for pid in orphans:
            kill_tree(pid, signal.SIGTERM)
        for pgid in self.services.pop(g.n, []):
            kill_group(pgid, signal.SIGTERM)
            self.timer(time.monotonic() + TERM_GRACE, "pgkill", pgid)
        if orphans or keys:
            self.timer(time.monotonic() + TERM_GRACE, "orphankill", keys)

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
                self.orphans.pop(pid, None)
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
            else:
                state = COMPLETED if code == 0 else FAILED
                if state == FAILED and reason is None:
                    reason = f"exit code {code}"
            parent = inst.node.parent
            if inst.node.spec.get("local") and parent is not None and inst.kill is None:
                # a service it started lives until its group (the allocation) ends
                self.services.setdefault(parent.n, []).append(pid)
            else:
                # like a batch job's end: what it left goes too (its process group, and
                # what was handed to us when it exited: its orphans)
                kill_group(pid, signal.SIGKILL)
                self.sweep({(inst.node.id, inst.index)})
            self.end(inst, state, code, reason, inst.started, time.time())

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
            elif kind == "pgkill":
                kill_group(obj, signal.SIGKILL)
            elif kind == "orphankill":
                self.sweep(obj)
            elif kind == "sigkill":
                if obj.state is None and obj.pid is not None:
                    self.signal_inst(obj, signal.SIGKILL)
            elif kind == "group" and not obj.done:
                self.expire(obj)

    def expire(self, g: Node) -> None:
        """A group reached its duration limit: kill what runs inside, skip the rest."""
        reason = f"group {g.id!r} reached its duration limit {g.spec['duration']}s"
        self._stop_inside(g, TIMEOUT, reason, NEVER_RUN)

    def cancel(self) -> None:
        if self.cancelling:
            return
        self._log("cancel requested: stopping every task")
        self.cancelling = True
        self._stop_inside(self.root, CANCELLED, "run cancelled", CANCELLED)
        for pid in self.adopted():  # what no instance can be told to own goes too
            kill_tree(pid, signal.SIGTERM)
        self.timer(time.monotonic() + TERM_GRACE, "orphankill", None)

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
        self.start_roots()
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
        for when, _, kind, obj in sorted(self.timers):
            if kind in ("pgkill", "orphankill"):  # services ended at the last group's end
                time.sleep(max(0.0, when - time.monotonic()))
                if kind == "pgkill":
                    kill_group(obj, signal.SIGKILL)
        self.sweep()  # nothing of the run outlives it
        self.reap()
        ok = all(n.ok for n in self.root.children)
        self._log(
            f"supervisor done: {'all tasks completed' if ok else 'some tasks did not complete'}"
        )
        return 0 if ok else 1


def guard(run_dir: Path, supervisor: int) -> int:
    """The guardian: wait for the supervisor; if it died without its final record, stop
    everything it left (handed to us: we are a subreaper) and record how it all ended."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a cancel is the supervisor's business
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 1
        if pid == supervisor:
            break
    code = os.waitstatus_to_exitcode(status)
    events = EventLog(run_dir / EVENTS_FILE).refresh()
    me = os.getpid()
    if events.done or events.supervisor is None:
        _stop_all(me)  # a clean end (or it never started): nothing should be left anyway
        return 0 if events.done else 1
    if code < 0:
        try:
            how = f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"was killed by signal {-code}"
    else:
        how = f"exited with code {code} before finishing"
    reaped = _stop_all(me)
    now = time.time()
    why = f"its supervisor (pid {supervisor}) {how}"
    spec = json.loads((run_dir / "local-plan.json").read_text(encoding="utf-8"))
    records: list[list[Any]] = []
    for node in spec["nodes"]:
        for index in range(node.get("replicas", 0) if node.get("kind") == "task" else 0):
            key = (node["id"], index)
            if key in events.ended:
                continue
            started = events.started.get(key)
            if started is None:
                records.append(
                    ["E", key[0], index, NEVER_RUN, None, f"not started: {why}", None, now]
                )
                continue
            exit_code = reaped.get(started[0])
            records.append(
                ["E", key[0], index, FAILED, exit_code, f"killed: {why}", started[2], now]
            )
    records.append(["D", now])
    data = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in records).encode()
    fd = os.open(run_dir / EVENTS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    print(f"guardian: {why}: stopped what it left and recorded it", file=sys.stderr, flush=True)
    return 0


def _stop_all(me: int) -> dict[int, int]:
    """SIGTERM every descendant of ``me``, SIGKILL what is left after :data:`TERM_GRACE`,
    reap them all; the exit codes (as a shell reports them) by pid."""
    reaped: dict[int, int] = {}

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            code = os.waitstatus_to_exitcode(status)
            reaped[pid] = 128 - code if code < 0 else code

    for pid in descendants(me):
        kill_tree(pid, signal.SIGTERM)
    deadline = time.monotonic() + TERM_GRACE
    while descendants(me) and time.monotonic() < deadline:
        reap()
        time.sleep(0.02)
    for _ in range(20):
        left = descendants(me)
        if not left:
            break
        for pid in left:
            kill_tree(pid, signal.SIGKILL)
        time.sleep(0.01)
        reap()
    reap()
    return reaped


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
    become_subreaper()  # the guardian: what a dead supervisor leaves is handed to it
    supervisor_pid = os.fork()
    if supervisor_pid:
        os.close(wfd)
        os._exit(guard(run_dir, supervisor_pid))
    become_subreaper()  # the supervisor: what a task leaves is handed to it
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
