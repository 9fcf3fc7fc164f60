"""The stand-in's jobs: its spool directory, submitting, running, cancelling, and the
faults a conformance case causes behind the transformer's back (see the package doc)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from ...liveness import process_alive, process_start

__all__ = [
    "SPOOL",
    "VARIABLE",
    "spool",
    "job_dir",
    "read",
    "view",
    "submit",
    "execute",
    "cancel",
    "force_error",
    "impose_limit",
]

SPOOL = ".standin"
_ACTIVE = ("queued", "held", "running")
#: the array index variable of each kind.
VARIABLE = {
    "generic": "JOB_ARRAY_INDEX",
    "pbs": "PBS_ARRAY_INDEX",
    "lsf": "LSB_JOBINDEX",
    "sge": "SGE_TASK_ID",
}


# -- the job directory -----------------------------------------------------------------
def spool() -> Path:
    path = Path.cwd() / SPOOL
    path.mkdir(exist_ok=True)
    return path


def write(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.tmp.{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _alive(job: Path) -> bool:
    pid, _, start = (read(job / "pid") or "").partition(" ")
    return bool(pid) and process_alive(int(pid), int(start) if start.isdigit() else None)


def _session(sid: int) -> list[int]:
    """Every live process of session ``sid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def job_dir(job_id: str) -> Path | None:
    number = re.match(r"\d+", job_id)
    path = spool() / number.group(0) if number else None
    return path if path is not None and path.is_dir() else None


def view(job: Path) -> tuple[str, int | None]:
    """``(state, exit code)`` of a job; ``lost`` when its executor died without a word."""
    state = read(job / "state") or "queued"
    code = read(job / "exit")
    if state in _ACTIVE and (job / "pid").exists() and not _alive(job):
        state = read(job / "state") or "lost"  # it may have just finished
        if state in _ACTIVE:
            state = "lost"
    return state, int(code) if code is not None else None


def request_of(job: Path) -> dict:
    return json.loads(read(job / "request.json") or "{}")


# -- submitting and running ------------------------------------------------------------
def submit(script: bytes, after: list[str], request: dict) -> str:
    """Queue ``script``; returns the job number. ``request``: ``array`` ([first, last]),
    ``mode`` (afterok, afterany), ``cwd``, ``kind``."""
    queue = spool()
    for dep in after:
        if job_dir(dep) is None:
            raise SystemExit(f"standin: unknown job {dep} in the dependency list")
    number = 1 + max((int(p.name) for p in queue.iterdir() if p.name.isdigit()), default=0)
    while True:
        try:
            (queue / str(number)).mkdir()
            break
        except FileExistsError:
            number += 1
    job = queue / str(number)
    (job / "script").write_bytes(script)
    write(job / "after", " ".join(re.sub(r"\D.*", "", d) for d in after))
    write(job / "request.json", json.dumps(request))
    cwd = request.get("cwd")
    if cwd and not os.path.isdir(cwd):
        write(job / "state", "error")
        write(job / "reason", f"can't chdir to directory {cwd}: No such file or directory")
        return str(number)
    write(job / "state", "held" if after else "queued")
    with open(job / "executor.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobspec_core.batch.standin", "_execute", str(job)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    write(job / "pid", f"{proc.pid} {process_start(proc.pid)}")
    return str(number)


def _released(job: Path, after: list[str], mode: str) -> bool | None:
    """True: may start; False: never will (after-ok and a dependency failed); None: wait."""
    views = [view(job.parent / dep) for dep in after]
    if all(state not in _ACTIVE for state, _ in views) and mode == "afterany":
        return True
    if all(state == "done" and code == 0 for state, code in views):
        return True
    if any(state not in _ACTIVE and (state, code) != ("done", 0) for state, code in views):
        return None if mode == "afterany" else False
    return None


def execute(job: Path) -> int:
    """The job's executor: wait for dependencies, run the script (each array element in
    parallel), record the end."""
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stopping.append(True))
    after = (read(job / "after") or "").split()
    request = request_of(job)
    while after:
        if stopping or (job / "cancelled").exists():
            write(job / "state", "cancelled")
            return 0
        released = _released(job, after, request.get("mode", "afterok"))
        if released is False:
            write(job / "state", "never")  # shown as held for ever
            return 0
        if released:
            break
        time.sleep(0.05)
    if stopping or (job / "cancelled").exists():
        write(job / "state", "cancelled")
        return 0
    write(job / "state", "running")
    array = request.get("array")
    elements: list[int | None] = [None] if not array else list(range(array[0], array[1] + 1))
    children = []
    with open(job / "output", "ab") as out:
        for element in elements:
            env = dict(os.environ)
            if element is not None:
                env[VARIABLE[request.get("kind", "generic")]] = str(element)
            children.append(
                subprocess.Popen(
                    ["/bin/sh", str(job / "script")],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                    cwd=request.get("cwd") or None,
                    env=env,
                )
            )
        while any(child.poll() is None for child in children):
            limit = read(job / "limit")
            if limit is not None and time.time() >= float(limit):
                kill_session(os.getpid(), signal.SIGKILL, spare=os.getpid())
                for child in children:
                    child.wait()
                write(job / "exit", "137")
                write(job / "state", "timeout")
                return 0
            time.sleep(0.1)
        codes = [child.wait() for child in children]
    codes = [128 - c if c < 0 else c for c in codes]  # killed by a signal: as a shell says
    write(job / "exit", str(next((c for c in codes if c), 0)))
    write(job / "state", "cancelled" if (job / "cancelled").exists() else "done")
    return 0


def kill_session(sid: int, sig: int, spare: int | None = None) -> None:
    for member in _session(sid):
        if member != spare:
            try:
                os.kill(member, sig)
            except ProcessLookupError:
                pass


def cancel(job: Path) -> None:
    """Stop a job that has not ended (every process of its session)."""
    state, _ = view(job)
    if state not in _ACTIVE and state not in ("never", "error"):
        return
    (job / "cancelled").touch()
    pid = int((read(job / "pid") or "0").split()[0])
    if pid:  # the job's processes keep its session id even if the executor is gone
        for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
            kill_session(pid, sig)
            deadline = time.monotonic() + grace
            while _session(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not _session(pid):
                break
    if (read(job / "state") or "") != "done":
        write(job / "state", "cancelled")


def force_error(job: Path, reason: str) -> None:
    """Put ``job`` into the error state: its processes are killed (nothing records their
    end) and it shows as ``error`` (Grid Engine ``Eqw``) until deleted."""
    pid = int((read(job / "pid") or "0").split()[0])
    write(job / "reason", reason)
    write(job / "state", "error")
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)  # the executor first: it must not record an end
        except ProcessLookupError:
            pass
        kill_session(pid, signal.SIGKILL)
    write(job / "state", "error")


def impose_limit(job: Path, seconds: float) -> None:
    """Give running ``job`` a time limit of ``seconds`` from now, as a queue limit would:
    at the limit its processes are killed and it ends in the state ``timeout``."""
    write(job / "limit", repr(time.time() + seconds))
