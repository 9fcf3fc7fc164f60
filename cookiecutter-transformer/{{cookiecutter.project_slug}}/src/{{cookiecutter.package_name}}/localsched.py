"""A stand-in batch scheduler made of the local shell.

It lets the transformer run for real on a machine without its scheduler: to try a jobspec,
and to pass the conformance suite in run mode before the real scheduler is wired in. It
is not for production: it has no queue limits and no resource accounting.

    python -m <package>.localsched PROGRAM ARG...

PROGRAM is the real program it stands in for, with the argument shapes ``scheduler.py``
uses, and it answers in that program's shape:

* generic: ``submit [--after ID]... [--name N --time S --slots N ...] SCRIPT``,
  ``status ID...``, ``cancel ID...`` (the protocol in the generic ``scheduler.py``);
* PBS: ``qsub [-W depend=afterok:ID[:ID]...] SCRIPT``, ``qstat -x -f -F json ID...``,
  ``qdel ID...``;
* LSF: ``bsub [-w "done(ID) && ..."] < SCRIPT``,
  ``bjobs -noheader -o "jobid stat exit_code delimiter=','" ID...``, ``bkill ID...``.

Jobs live in ``./.localsched/N/`` of the directory it runs in (the transformer runs every
scheduler command in the run directory): ``script`` (a copy, as schedulers keep one),
``after``, ``pid`` (the job's executor, leader of its own session, and its start time),
``state`` (queued, held, running, done, cancelled, never) and ``exit``. A job starts once
every job it waits for is done with exit code 0; when one of them ends otherwise the job is
never started and shows as held for ever, as a real scheduler's would: the transformer
notices and cancels it.
Cancelling sends SIGTERM to every process of the job's session, then SIGKILL.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["main"]

SPOOL = ".localsched"
_ACTIVE = ("queued", "held", "running")
BJOBS_FORMAT = "jobid stat exit_code delimiter=','"


# -- the job directory -----------------------------------------------------------------
def _spool() -> Path:
    path = Path.cwd() / SPOOL
    path.mkdir(exist_ok=True)
    return path


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _started(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot), or ``None`` when it is
    gone or a zombie: with the pid it names one process, even after the pid is reused."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def _alive(job: Path) -> bool:
    """The job's executor is still the process that was started for it."""
    pid, _, started = (_read(job / "pid") or "").partition(" ")
    return bool(pid) and _started(int(pid)) == started


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


def _job_dir(number: str) -> Path | None:
    path = _spool() / number
    return path if number.isdigit() and path.is_dir() else None


def view(job: Path) -> tuple[str, int | None]:
    """``(state, exit code)`` of a job; ``lost`` when its executor died without a word."""
    state = _read(job / "state") or "queued"
    code = _read(job / "exit")
    if state in _ACTIVE and (job / "pid").exists() and not _alive(job):
        state = _read(job / "state") or "lost"  # it may have just finished
        if state in _ACTIVE:
            state = "lost"
    return state, int(code) if code is not None else None


# -- submitting and running ------------------------------------------------------------
def submit(script: bytes, after: list[str], request: dict) -> str:
    """Queue ``script``; returns the job number."""
    spool = _spool()
    for dep in after:
        if _job_dir(dep) is None:
            raise SystemExit(f"localsched: unknown job {dep} in the dependency list")
    number = 1 + max((int(p.name) for p in spool.iterdir() if p.name.isdigit()), default=0)
    while True:
        try:
            (spool / str(number)).mkdir()
            break
        except FileExistsError:
            number += 1
    job = spool / str(number)
    (job / "script").write_bytes(script)
    _write(job / "after", " ".join(after))
    _write(job / "request.json", json.dumps(request))
    _write(job / "state", "held" if after else "queued")
    with open(job / "executor.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", f"{__package__}.localsched", "_execute", str(job)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _write(job / "pid", f"{proc.pid} {_started(proc.pid)}")
    return str(number)


def _execute(job: Path) -> int:
    """The job's executor: wait for dependencies, run the script, record the end."""
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stopping.append(True))
    after = (_read(job / "after") or "").split()
    while after:
        if stopping or (job / "cancelled").exists():
            _write(job / "state", "cancelled")
            return 0
        views = [view(job.parent / dep) for dep in after]
        if all(state == "done" and code == 0 for state, code in views):
            break
        if any(state not in _ACTIVE and (state, code) != ("done", 0) for state, code in views):
            _write(job / "state", "never")  # shown as held for ever
            return 0
        time.sleep(0.05)
    if stopping or (job / "cancelled").exists():
        _write(job / "state", "cancelled")
        return 0
    _write(job / "state", "running")
    with open(job / "output", "ab") as out:
        child = subprocess.Popen(
            ["/bin/sh", str(job / "script")], stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
        code = child.wait()
    if code < 0:  # killed by a signal: report it the way a shell does
        code = 128 - code
    _write(job / "exit", str(code))
    _write(job / "state", "cancelled" if (job / "cancelled").exists() else "done")
    return 0


def cancel(job: Path) -> None:
    """Stop a job that has not ended (every process of its session)."""
    state, _ = view(job)
    if state not in _ACTIVE and state != "never":
        return
    (job / "cancelled").touch()
    pid = int((_read(job / "pid") or "0").split()[0])
    if pid:  # the job's processes keep its session id even if the executor is gone
        for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
            members = _session(pid)
            for member in members:
                try:
                    os.kill(member, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + grace
            while _session(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not _session(pid):
                break
    if (_read(job / "state") or "") != "done":
        _write(job / "state", "cancelled")


# -- the programs ----------------------------------------------------------------------
def _generic(program: str, args: list[str]) -> int:
    if program == "submit":
        parser = argparse.ArgumentParser(prog="localsched submit")
        parser.add_argument("--after", action="append", default=[])
        for flag in (
            "--name",
            "--time",
            "--slots",
            "--cores-per-slot",
            "--gpus-per-slot",
            "--memory-per-slot",
            "--nodes",
        ):
            parser.add_argument(flag)
        parser.add_argument("--option", action="append", default=[])
        parser.add_argument("script")
        ns = parser.parse_args(args)
        request = {k: v for k, v in vars(ns).items() if k not in ("after", "script")}
        print(submit(Path(ns.script).read_bytes(), ns.after, request))
        return 0
    unknown = 0
    for job_id in args:
        job = _job_dir(job_id)
        if job is None:
            print(f"localsched: unknown job {job_id}", file=sys.stderr)
            unknown = 1
        elif program == "cancel":
            cancel(job)
        else:
            state, code = view(job)
            shown = {"never": "held", "lost": "done"}.get(state, state)
            print(job_id, shown, "-" if code is None else code)
    return unknown if program == "cancel" else 0


def _pbs(program: str, args: list[str]) -> int:
    if program == "qsub":
        after: list[str] = []
        while len(args) > 1 and args[0] == "-W" and args[1].startswith("depend=afterok:"):
            after += [dep.split(".")[0] for dep in args[1].split(":")[1:]]
            args = args[2:]
        if len(args) != 1:
            raise SystemExit("localsched qsub: expected [-W depend=afterok:ID[:ID]...] SCRIPT")
        print(f"{submit(Path(args[0]).read_bytes(), after, {})}.localhost")
        return 0
    if program == "qstat":
        if args[:4] != ["-x", "-f", "-F", "json"]:
            raise SystemExit("localsched qstat: expected -x -f -F json ID...")
        args = args[4:]
    jobs, code = {}, 0
    for job_id in args:
        job = _job_dir(job_id.split(".")[0])
        if job is None:
            print(f"{program}: Unknown Job Id {job_id}", file=sys.stderr)
            code = 153  # PBSE_UNKJOBID (15001) modulo 256, as PBS commands exit
        elif program == "qdel":
            cancel(job)
        else:
            state, exit_code = view(job)
            letter = {"queued": "Q", "held": "H", "never": "H", "running": "R"}.get(state, "F")
            info: dict = {"job_state": letter}
            if exit_code is not None:
                info["Exit_status"] = 256 + exit_code - 128 if exit_code > 128 else exit_code
            jobs[job_id] = info
    if program == "qstat" and jobs:
        print(json.dumps({"pbs_server": "localhost", "Jobs": jobs}, indent=4))
    return code


def _lsf(program: str, args: list[str]) -> int:
    if program == "bsub":
        after: list[str] = []
        if len(args) == 2 and args[0] == "-w":
            after = re.findall(r"done\((\d+)\)", args[1])
            if " && ".join(f"done({a})" for a in after) != args[1].strip():
                raise SystemExit("localsched bsub: -w takes only done(ID) joined by &&")
        elif args:
            raise SystemExit('localsched bsub: expected [-w "done(ID) && ..."] < SCRIPT')
        script = sys.stdin.buffer.read()
        if not script.strip():
            raise SystemExit("localsched bsub: no script on standard input")
        print(f"Job <{submit(script, after, {})}> is submitted to queue <localsched>.")
        return 0
    if program == "bjobs":
        if args[:3] != ["-noheader", "-o", BJOBS_FORMAT]:
            raise SystemExit(f'localsched bjobs: expected -noheader -o "{BJOBS_FORMAT}" ID...')
        args = args[3:]
    code = 0
    for job_id in args:
        job = _job_dir(job_id)
        if job is None:
            print(f"Job <{job_id}> is not found", file=sys.stderr)
            code = 255
        elif program == "bkill":
            cancel(job)
            print(f"Job <{job_id}> is being terminated")
        else:
            state, exit_code = view(job)
            stat = {"queued": "PEND", "held": "PEND", "never": "PEND", "running": "RUN"}.get(state)
            if stat is None:
                stat = "DONE" if state == "done" and exit_code == 0 else "EXIT"
            print(f"{job_id},{stat},{'-' if exit_code in (None, 0) else exit_code}")
    return code


PROGRAMS = {
    **dict.fromkeys(("submit", "status", "cancel"), _generic),
    **dict.fromkeys(("qsub", "qstat", "qdel"), _pbs),
    **dict.fromkeys(("bsub", "bjobs", "bkill"), _lsf),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) == 2 and argv[0] == "_execute":
        return _execute(Path(argv[1]))
    if not argv or argv[0] not in PROGRAMS:
        print(f"usage: localsched {{{','.join(PROGRAMS)}}} ARG...", file=sys.stderr)
        return 2
    return PROGRAMS[argv[0]](argv[0], argv[1:])


if __name__ == "__main__":
    sys.exit(main())
