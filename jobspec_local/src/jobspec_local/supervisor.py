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
* when an instance's process exits, kills what it left in its process group (as a batch
  system does at a job's end), except for ``local`` entries: what they leave (a service)
  lives until their group ends, and is then stopped (SIGTERM, then SIGKILL);
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
from pathlib import Path
from typing import Any

from .events import EVENTS_FILE, SUPERVISOR_FILE
from .graph import CANCELLED, COMPLETED, FAILED, NEVER_RUN, TIMEOUT, Inst, Node, Scheduler
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
        kill_group(inst.pid, signal.SIGTERM)
        self.timer(time.monotonic() + TERM_GRACE, "sigkill", inst)

    def group_ended(self, g: Node) -> None:
        """End the services the group's local entries left running (SIGTERM, then SIGKILL)."""
        for pgid in self.services.pop(g.n, []):
            if kill_group(pgid, signal.SIGTERM):
                self.timer(time.monotonic() + TERM_GRACE, "pgkill", pgid)

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
            else:
                state = COMPLETED if code == 0 else FAILED
                if state == FAILED and reason is None:
                    reason = f"exit code {code}"
            parent = inst.node.parent
            if inst.node.spec.get("local") and parent is not None and inst.kill is None:
                # a service it started lives until its group (the allocation) ends
                self.services.setdefault(parent.n, []).append(pid)
            else:
                # like a batch job's end: what it left in its process group goes too
                kill_group(pid, signal.SIGKILL)
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
            elif kind == "sigkill":
                if obj.state is None and obj.pid is not None:
                    kill_group(obj.pid, signal.SIGKILL)
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
        for when, _, kind, pgid in sorted(self.timers):
            if kind == "pgkill":  # services ended at the last group's end: finish the job
                time.sleep(max(0.0, when - time.monotonic()))
                kill_group(pgid, signal.SIGKILL)
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
