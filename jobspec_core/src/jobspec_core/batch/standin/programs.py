"""The command shapes of each scheduler the stand-in speaks: reading a submission (its
arguments and the script's directive lines) and answering each program in its format."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

from .spool import cancel, job_dir, read, submit, view
from .spool import spool as spool_dir

__all__ = ["KINDS", "BJOBS_FORMAT"]

PREFIX = {"generic": None, "pbs": "#PBS", "lsf": "#BSUB", "sge": "#$"}
BJOBS_FORMAT = "jobid stat exit_code exit_reason delimiter=','"
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
        job = job_dir(job_id)
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
        job = job_dir(job_id)
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
                info["job_state"], info["comment"] = "H", read(job / "reason") or "error"
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
        job = job_dir(job_id)
        if job is None:
            print(f"Job <{job_id}> is not found", file=sys.stderr)
            code = 255
        elif program == "bkill":
            cancel(job)
            print(f"Job <{job_id}> is being terminated")
        else:
            state, exit_code = view(job)
            stat = {"queued": "PEND", "held": "PEND", "never": "PEND", "running": "RUN"}.get(state)
            stat = stat or {"error": "EXIT"}.get(state)  # LSF has no error state: it ends
            if stat is None:
                stat = "DONE" if state == "done" and exit_code == 0 else "EXIT"
            reason = {
                "timeout": "TERM_RUNLIMIT: job killed after reaching LSF run time limit",
                "cancelled": "TERM_OWNER: job killed by owner",
                "error": read(job / "reason") or "-",
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
        check = (flags.get("-w") or [None])[-1]  # v: verify only; e: refuse, else submit
        if check in ("v", "e") and slots > SLOTS:
            print(f"verification: no suitable queues (-pe asks {slots} slots)", file=sys.stderr)
            return 1
        if check == "v":
            print("verification: found suitable queue(s)")
            return 0
        request = {"kind": "sge", "array": array, "cwd": cwd, "mode": "afterany"}
        number = submit(script, after, request)
        if "-terse" in flags:
            print(f"{number}.{array[0]}-{array[1]}:1" if array else number)
        else:
            print(f'Your job {number} ("standin") has been submitted')
        return 0
    if program == "qstat" and args[:1] == ["-j"] and len(args) == 2:
        job = job_dir(args[1])
        if job is None or view(job)[0] not in _SGE_STATE:
            print("Following jobs do not exist:\n" + args[1], file=sys.stderr)
            return 1
        print("=" * 62 + f"\njob_number:                 {job.name}")
        if view(job)[0] == "error":  # qstat -j's line for a job in error state (Eqw)
            reason = read(job / "reason") or "error"
            print(f"error reason          1:      01/01/2026 00:00:00 [0:1]: error: {reason}")
        return 0
    if program == "qstat":
        if args != ["-xml"]:
            raise SystemExit("standin qstat: expected -xml or -j ID")
        running: list[str] = []
        pending: list[str] = []
        for job in sorted(
            spool_dir().iterdir(), key=lambda p: int(p.name) if p.name.isdigit() else 0
        ):
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
        finished = job_dir(args[1])
        ended = view(finished)[0] if finished is not None else None
        if finished is None or ended in _SGE_STATE:
            print(f"error: job id {args[1]} not found", file=sys.stderr)
            return 1
        code = view(finished)[1]
        failed = {
            "cancelled": "100 : assumedly after job",
            "timeout": "37  : qmaster enforced h_rt, h_cpu, or h_vmem limit",
        }.get(ended or "", "0")
        print("=" * 62)
        code = 137 if ended == "cancelled" else code  # Grid Engine kills a deleted job
        print(f"jobnumber    {finished.name}\nfailed       {failed}\nexit_status  {code or 0}")
        return 0
    code = 0  # qdel
    for job_id in args:
        target = job_dir(job_id)
        if target is None:
            print(f'denied: job "{job_id}" does not exist', file=sys.stderr)
            code = 1
        else:
            cancel(target)
            print(f"root has deleted job {job_id}")
    return code


KINDS = {"generic": _generic, "pbs": _pbs, "lsf": _lsf, "sge": _sge}
