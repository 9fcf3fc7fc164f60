"""A stand-in batch scheduler made of the local shell, for trying and testing.

It lets a batch transformer run for real on a machine without its scheduler: to try a
jobspec, and to pass the conformance suite in run mode before the real scheduler is wired
in. Not for production: no queue limits, no resource accounting.

    python -m jobspec_core.batch.standin --kind KIND PROGRAM ARG...

KIND is the scheduler it stands in for, PROGRAM the program (its base name); it accepts that program's
argument shapes, reads the directive lines of the script like the real one, and answers
in its format:

* generic: ``submit [--after ID]... [--array FIRST-LAST] [--cwd DIR] [--KEY VALUE]...
  SCRIPT`` (array index in ``JOB_ARRAY_INDEX``), ``status ID...`` (``ID STATE EXIT``),
  ``cancel ID...``;
* PBS: ``qsub [-W depend=afterok:ID[:ID]...] [-J FIRST-LAST] SCRIPT`` (``#PBS`` lines;
  ``PBS_ARRAY_INDEX``), ``qstat -x -f -F json ID...``, ``qdel ID...``;
* LSF: ``bsub [-w "done(ID) && ..."] [-J "NAME[FIRST-LAST]"] < SCRIPT`` (``#BSUB``;
  ``LSB_JOBINDEX``), ``bjobs -noheader -o "jobid stat exit_code delimiter=','" ID...``,
  ``bkill ID...``;
* Grid Engine: ``qsub -terse [-hold_jid ID[,ID]...] [-t FIRST-LAST] [-wd DIR] [-w v]
  SCRIPT`` (``#$`` lines; ``SGE_TASK_ID``; ``-hold_jid`` is after-any, as in Grid Engine;
  ``-w v`` verifies that ``-pe NAME N`` fits its queue of 64 slots (``JOBSPEC_STANDIN_SLOTS``); a ``-wd`` directory that does
  not exist puts the job in the error state ``Eqw``), ``qstat -xml`` (every job still in
  the queue), ``qacct -j ID``, ``qdel ID...``.

Jobs live in ``./.standin/N/`` of the directory it runs in (the batch layer runs every
command in the run directory): ``script``, ``after`` and ``mode`` (``afterok``/``afterany``),
``request.json``, ``pid`` (the job's executor, leader of its own session, and its start
time), ``state`` (queued, held, running, done, cancelled, never, error) and ``exit``.
An after-ok job whose dependency ended otherwise is never started and shows as held for
ever, as a real scheduler's would. Cancelling sends SIGTERM to every process of the job's
session, then SIGKILL.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..liveness import process_alive, process_start

__all__ = ["main", "StandinFaults", "standin_faults", "force_error", "impose_limit"]

SPOOL = ".standin"
_ACTIVE = ("queued", "held", "running")
BJOBS_FORMAT = "jobid stat exit_code exit_reason delimiter=','"
PREFIX = {"generic": None, "pbs": "#PBS", "lsf": "#BSUB", "sge": "#$"}
VARIABLE = {
    "generic": "JOB_ARRAY_INDEX",
    "pbs": "PBS_ARRAY_INDEX",
    "lsf": "LSB_JOBINDEX",
    "sge": "SGE_TASK_ID",
}
#: flags that take no value, per kind (every other flag takes one).
NO_VALUE = {
    "generic": set(),
    "pbs": {"-V", "-h", "-z", "-f", "-I", "-X"},
    "lsf": {"-K", "-I", "-x", "-B", "-N", "-r", "-H", "-Is", "-Ip"},
    "sge": {"-cwd", "-terse", "-V", "-notify", "-clear"},
}
#: slots of the stand-in's one queue, for ``qsub -w v`` (jobs may oversubscribe this machine).
SLOTS = int(os.environ.get("JOBSPEC_STANDIN_SLOTS", "64"))
#: flags that take two values (Grid Engine's ``-pe NAME SLOTS``).
TWO_VALUES = {"-pe"}


# -- the job directory -----------------------------------------------------------------
def _spool() -> Path:
    path = Path.cwd() / SPOOL
    path.mkdir(exist_ok=True)
    return path


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.tmp.{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _alive(job: Path) -> bool:
    pid, _, start = (_read(job / "pid") or "").partition(" ")
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


def _job_dir(job_id: str) -> Path | None:
    number = re.match(r"\d+", job_id)
    path = _spool() / number.group(0) if number else None
    return path if path is not None and path.is_dir() else None


def view(job: Path) -> tuple[str, int | None]:
    """``(state, exit code)`` of a job; ``lost`` when its executor died without a word."""
    state = _read(job / "state") or "queued"
    code = _read(job / "exit")
    if state in _ACTIVE and (job / "pid").exists() and not _alive(job):
        state = _read(job / "state") or "lost"  # it may have just finished
        if state in _ACTIVE:
            state = "lost"
    return state, int(code) if code is not None else None


def _request(job: Path) -> dict:
    return json.loads(_read(job / "request.json") or "{}")


# -- submitting and running ------------------------------------------------------------
def submit(script: bytes, after: list[str], request: dict) -> str:
    """Queue ``script``; returns the job number. ``request``: ``array`` ([first, last]),
    ``mode`` (afterok, afterany), ``cwd``, ``kind``."""
    spool = _spool()
    for dep in after:
        if _job_dir(dep) is None:
            raise SystemExit(f"standin: unknown job {dep} in the dependency list")
    number = 1 + max((int(p.name) for p in spool.iterdir() if p.name.isdigit()), default=0)
    while True:
        try:
            (spool / str(number)).mkdir()
            break
        except FileExistsError:
            number += 1
    job = spool / str(number)
    (job / "script").write_bytes(script)
    _write(job / "after", " ".join(re.match(r"\d+", d).group(0) for d in after))
    _write(job / "request.json", json.dumps(request))
    cwd = request.get("cwd")
    if cwd and not os.path.isdir(cwd):
        _write(job / "state", "error")
        _write(job / "reason", f"can't chdir to directory {cwd}: No such file or directory")
        return str(number)
    _write(job / "state", "held" if after else "queued")
    with open(job / "executor.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobspec_core.batch.standin", "_execute", str(job)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _write(job / "pid", f"{proc.pid} {process_start(proc.pid)}")
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


def _execute(job: Path) -> int:
    """The job's executor: wait for dependencies, run the script (each array element in
    parallel), record the end."""
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stopping.append(True))
    after = (_read(job / "after") or "").split()
    request = _request(job)
    while after:
        if stopping or (job / "cancelled").exists():
            _write(job / "state", "cancelled")
            return 0
        released = _released(job, after, request.get("mode", "afterok"))
        if released is False:
            _write(job / "state", "never")  # shown as held for ever
            return 0
        if released:
            break
        time.sleep(0.05)
    if stopping or (job / "cancelled").exists():
        _write(job / "state", "cancelled")
        return 0
    _write(job / "state", "running")
    first, last = request.get("array") or (None, None)
    elements = [None] if first is None else list(range(first, last + 1))
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
            limit = _read(job / "limit")
            if limit is not None and time.time() >= float(limit):
                _kill_session(os.getpid(), signal.SIGKILL, spare=os.getpid())
                for child in children:
                    child.wait()
                _write(job / "exit", "137")
                _write(job / "state", "timeout")
                return 0
            time.sleep(0.1)
        codes = [child.wait() for child in children]
    codes = [128 - c if c < 0 else c for c in codes]  # killed by a signal: as a shell says
    _write(job / "exit", str(next((c for c in codes if c), 0)))
    _write(job / "state", "cancelled" if (job / "cancelled").exists() else "done")
    return 0


def _kill_session(sid: int, sig: int, spare: int | None = None) -> None:
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
    pid = int((_read(job / "pid") or "0").split()[0])
    if pid:  # the job's processes keep its session id even if the executor is gone
        for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
            _kill_session(pid, sig)
            deadline = time.monotonic() + grace
            while _session(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not _session(pid):
                break
    if (_read(job / "state") or "") != "done":
        _write(job / "state", "cancelled")


# -- faults a conformance case causes behind the transformer's back -----------------------
def force_error(job: Path, reason: str) -> None:
    """Put ``job`` into the error state: its processes are killed (nothing records their
    end) and it shows as ``error`` (Grid Engine ``Eqw``) until deleted."""
    pid = int((_read(job / "pid") or "0").split()[0])
    _write(job / "reason", reason)
    _write(job / "state", "error")
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)  # the executor first: it must not record an end
        except ProcessLookupError:
            pass
        _kill_session(pid, signal.SIGKILL)
    _write(job / "state", "error")


def impose_limit(job: Path, seconds: float) -> None:
    """Give running ``job`` a time limit of ``seconds`` from now, as a queue limit would:
    at the limit its processes are killed and it ends in the state ``timeout``."""
    _write(job / "limit", repr(time.time() + seconds))


class StandinFaults:
    """The conformance faults of a batch transformer running on the stand-in (the
    ``conformance_faults`` protocol of jobspec-conformance): ``delete_behind`` runs the
    scheduler's own cancel command; ``force_error`` and ``limit_behind`` act on the
    stand-in's job directly."""

    def __init__(self, transformer):
        self.transformer = transformer

    def _job(self, handle, context) -> Path:
        job = Path(context.run_dir) / SPOOL / str(handle.data.get("job", handle.native_id))
        found = _job_dir_in(job)
        if found is None:
            raise RuntimeError(f"the stand-in has no job {handle.native_id} in {job.parent}")
        return found

    def delete_behind(self, handle, context) -> None:
        t = self.transformer
        job = str(handle.data.get("job", handle.native_id))
        argv = t.scheduler.cancel_argv(t.commands(context)["cancel"], [job])
        t.command_runner(context).run(argv, cwd=Path(context.run_dir))

    def force_error(self, handle, context) -> None:
        force_error(self._job(handle, context), "forced into the error state (conformance)")

    def limit_behind(self, handle, context, seconds: int) -> None:
        impose_limit(self._job(handle, context), seconds)


def _job_dir_in(path: Path) -> Path | None:
    number = re.match(r"\d+", path.name)
    found = path.parent / number.group(0) if number else None
    return found if found is not None and found.is_dir() else None


def standin_faults(transformer) -> object:
    """:class:`StandinFaults` when ``transformer`` runs on the stand-in (its
    ``JOBSPEC_<NAME>_SCHEDULER`` or default mode is ``local``), else an object offering no
    fault (the conformance suite then skips fault cases, unless a native provider exists)."""
    try:
        local = transformer.standin is not None and transformer.scheduler_mode() == "local"
    except Exception:
        local = False
    return StandinFaults(transformer) if local else object()


# -- reading a submission: arguments and the script's directive lines ---------------------
def _parse(kind: str, words: list[str]) -> tuple[list[tuple[str, str | None]], list[str]]:
    flags: list[tuple[str, str | None]] = []
    positional: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("-") and len(word) > 1:
            if word in NO_VALUE[kind]:
                flags.append((word, None))
                i += 1
            elif kind == "sge" and word in TWO_VALUES:
                flags.append((word, " ".join(words[i + 1 : i + 3])))
                i += 3
            else:
                flags.append((word, words[i + 1] if i + 1 < len(words) else ""))
                i += 2
        else:
            positional.append(word)
            i += 1
    return flags, positional


def _directives(kind: str, script: bytes) -> list[str]:
    prefix = PREFIX[kind]
    words: list[str] = []
    if prefix:
        for line in script.decode("utf-8", "replace").splitlines()[1:]:
            if line.startswith(prefix + " "):
                words += line[len(prefix) + 1 :].split()
            elif line.strip() and not line.startswith("#"):
                break  # directives stop at the first command
    return words


def _submission(kind: str, args: list[str]) -> tuple[bytes, dict[str, list[str | None]]]:
    """The script and every flag's values (directives first, the command line after)."""
    _, positional = _parse(kind, args)
    if kind == "lsf":
        script = sys.stdin.buffer.read()
        if not script.strip():
            raise SystemExit("standin bsub: no script on standard input")
    elif len(positional) != 1:
        raise SystemExit(f"standin: expected exactly one script argument, got {positional}")
    else:
        script = Path(positional[0]).read_bytes()
    flags, _ = _parse(kind, _directives(kind, script) + args)
    values: dict[str, list[str | None]] = {}
    for flag, value in flags:
        values.setdefault(flag, []).append(value)
    return script, values


def _range(text: str | None) -> list[int] | None:
    match = re.fullmatch(r"(\d+)-(\d+)(?::1)?", text or "")
    return [int(match.group(1)), int(match.group(2))] if match else None


# -- the programs ----------------------------------------------------------------------
def _generic(program: str, args: list[str]) -> int:
    if program == "submit":
        script, flags = _submission("generic", args)
        after = [str(v) for v in flags.get("--after", [])]
        array = _range((flags.get("--array") or [None])[-1])
        cwd = (flags.get("--cwd") or [None])[-1]
        print(submit(script, after, {"kind": "generic", "array": array, "cwd": cwd}))
        return 0
    unknown = 0
    for job_id in args:
        job = _job_dir(job_id)
        if job is None:
            print(f"standin: unknown job {job_id}", file=sys.stderr)
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
        script, flags = _submission("pbs", args)
        after: list[str] = []
        for value in flags.get("-W", []):
            if value and value.startswith("depend=afterok:"):
                after += [dep.split(".")[0].split("[")[0] for dep in value.split(":")[1:]]
        array = _range((flags.get("-J") or [None])[-1])
        number = submit(script, after, {"kind": "pbs", "array": array})
        print(f"{number}[].localhost" if array else f"{number}.localhost")
        return 0
    if program == "qstat":
        if args[:4] != ["-x", "-f", "-F", "json"]:
            raise SystemExit("standin qstat: expected -x -f -F json ID...")
        args = args[4:]
    jobs, code = {}, 0
    for job_id in args:
        job = _job_dir(job_id)
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
            if state == "timeout":
                info["Exit_status"] = -29  # JOB_EXEC_KILL_WALLTIME
            if state == "error":
                info["job_state"], info["comment"] = "H", _read(job / "reason") or "error"
                info["Hold_Types"] = "s"  # a system hold: PBS's error hold
            jobs[job_id] = info
    if program == "qstat" and jobs:
        print(json.dumps({"pbs_server": "localhost", "Jobs": jobs}, indent=4))
    return code


def _lsf(program: str, args: list[str]) -> int:
    if program == "bsub":
        script, flags = _submission("lsf", args)
        after: list[str] = []
        for value in flags.get("-w", []):
            after += re.findall(r"done\((\d+)\)", value or "")
            if " && ".join(f"done({a})" for a in after) != (value or "").strip():
                raise SystemExit("standin bsub: -w takes only done(ID) joined by &&")
        name = (flags.get("-J") or [""])[-1] or ""
        array = _range(m.group(1)) if (m := re.search(r"\[([^]]+)\]$", name)) else None
        number = submit(script, after, {"kind": "lsf", "array": array})
        print(f"Job <{number}> is submitted to queue <standin>.")
        return 0
    if program == "bjobs":
        if args[:3] != ["-noheader", "-o", BJOBS_FORMAT]:
            raise SystemExit(f'standin bjobs: expected -noheader -o "{BJOBS_FORMAT}" ID...')
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
            stat = stat or {"error": "PSUSP"}.get(state)
            if stat is None:
                stat = "DONE" if state == "done" and exit_code == 0 else "EXIT"
            reason = {
                "timeout": "TERM_RUNLIMIT: job killed after reaching LSF run time limit",
                "cancelled": "TERM_OWNER: job killed by owner",
                "error": _read(job / "reason") or "-",
            }.get(state, "-")
            print(f"{job_id},{stat},{'-' if exit_code in (None, 0) else exit_code},{reason}")
    return code


_SGE_STATE = {"queued": "qw", "held": "hqw", "never": "hqw", "running": "r", "error": "Eqw"}


def _sge(program: str, args: list[str]) -> int:
    if program == "qsub":
        script, flags = _submission("sge", args)
        after = [d for v in flags.get("-hold_jid", []) for d in (v or "").split(",") if d]
        array = _range((flags.get("-t") or [None])[-1])
        cwd = (flags.get("-wd") or [None])[-1]
        slots = int(((flags.get("-pe") or ["x 1"])[-1] or "x 1").split()[-1])
        if "v" in flags.get("-w", []):
            if slots > SLOTS:
                print(f"verification: no suitable queues (-pe asks {slots} slots)", file=sys.stderr)
                return 1
            print("verification: found suitable queue(s)")
            return 0
        request = {"kind": "sge", "array": array, "cwd": cwd, "mode": "afterany"}
        number = submit(script, after, request)
        if "-terse" in flags:
            print(f"{number}.{array[0]}-{array[1]}:1" if array else number)
        else:
            print(f'Your job {number} ("standin") has been submitted')
        return 0
    if program == "qstat":
        if args != ["-xml"]:
            raise SystemExit("standin qstat: expected -xml")
        running, pending = [], []
        for job in sorted(_spool().iterdir(), key=lambda p: int(p.name) if p.name.isdigit() else 0):
            if not job.name.isdigit():
                continue
            state, _ = view(job)
            if state in _SGE_STATE:
                entry = (
                    f'    <job_list state="{"running" if state == "running" else "pending"}">\n'
                    f"      <JB_job_number>{job.name}</JB_job_number>\n"
                    f"      <state>{_SGE_STATE[state]}</state>\n    </job_list>"
                )
                (running if state == "running" else pending).append(entry)
        print("<?xml version='1.0'?>\n<job_info>\n  <queue_info>")
        print("\n".join(running) + "\n  </queue_info>\n  <job_info>")
        print("\n".join(pending) + "\n  </job_info>\n</job_info>")
        return 0
    if program == "qacct":
        if len(args) != 2 or args[0] != "-j":
            raise SystemExit("standin qacct: expected -j ID")
        job = _job_dir(args[1])
        state = view(job)[0] if job is not None else None
        if job is None or state in _SGE_STATE:
            print(f"error: job id {args[1]} not found", file=sys.stderr)
            return 1
        code = view(job)[1]
        failed = {
            "cancelled": "100 : assumedly after job",
            "timeout": "37  : qmaster enforced h_rt, h_cpu, or h_vmem limit",
        }.get(state, "0")
        print("=" * 62)
        print(f"jobnumber    {job.name}\nfailed       {failed}\nexit_status  {code or 0}")
        return 0
    code = 0  # qdel
    for job_id in args:
        job = _job_dir(job_id)
        if job is None:
            print(f'denied: job "{job_id}" does not exist', file=sys.stderr)
            code = 1
        else:
            cancel(job)
            print(f"root has deleted job {job_id}")
    return code


KINDS = {"generic": _generic, "pbs": _pbs, "lsf": _lsf, "sge": _sge}


def main(argv: list[str] | None = None) -> int:
    """``standin --kind KIND PROGRAM ARG...`` (KIND: generic, pbs, lsf, sge)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) == 2 and argv[0] == "_execute":
        return _execute(Path(argv[1]))
    if len(argv) < 3 or argv[0] != "--kind" or argv[1] not in KINDS:
        print(f"usage: standin --kind {{{','.join(KINDS)}}} PROGRAM ARG...", file=sys.stderr)
        return 2
    return KINDS[argv[1]](os.path.basename(argv[2]), argv[3:])


if __name__ == "__main__":
    sys.exit(main())
