"""The scheduler's vocabulary: IBM Spectrum LSF. FILL THIS IN.

This module is the site's whole part of the transformer: the words of its scheduler. The
machinery (job scripts, quoting, records, arrays, dependencies, never-run, rollback,
polling) is ``jobspec_core.batch``'s, and upgrading jobspec-core upgrades it. The contract
of every member is the docstring of ``jobspec_core.batch.Scheduler``.

Shapes used (check them against your site's LSF manual, ``man bsub`` and ``man bjobs``):

* ``bsub [-w "done(ID) && done(ID)"] < SCRIPT``: the script on standard input, because LSF
  reads ``#BSUB`` lines only from a script it is fed that way; it prints ``Job <123> is
  submitted to queue <normal>.``; an array is ``-J "NAME[1-N]"``, index in ``LSB_JOBINDEX``;
* ``bjobs -noheader -o "jobid stat exit_code exit_reason delimiter=','" ID...`` prints
  ``123,DONE,-,-`` per job (per element, for an array); an unknown id is reported on
  standard error (``Job <123> is not found``);
* ``bkill ID...`` kills jobs.

LSF's ``-W`` run limit counts minutes: durations are rounded up.
"""

from __future__ import annotations

import re
from typing import ClassVar

from jobspec_core.alternatives import Capacity
from jobspec_core.batch import BaseScheduler, DependencyKind, JobState, NativeStatus

__all__ = ["STANDIN", "SiteScheduler"]

#: The command shapes of the stand-in scheduler used in local mode.
STANDIN = "lsf"
_SUBMITTED = re.compile(r"Job <([^>]+)> is submitted")
#: When several lines (array elements) describe one job, the first state found here wins.
_PRECEDENCE = [JobState.ERROR, JobState.RUNNING, JobState.PENDING, JobState.HELD]


class SiteScheduler(BaseScheduler):
    name = "LSF"
    directive_prefix = "#BSUB"
    script_on_stdin = True
    submit_command = ("bsub",)
    status_command = ("bjobs", "-noheader", "-o", "jobid stat exit_code exit_reason delimiter=','")
    cancel_command = ("bkill",)
    array_variable = "LSB_JOBINDEX"
    array_base = 1
    array_output_token = "%I"
    dependency_kind = DependencyKind.AFTER_OK
    #: ``bjobs`` STAT values -> ours (IBM Spectrum LSF command reference, "bjobs").
    state_map: ClassVar[dict[str, JobState]] = {
        "PEND": JobState.PENDING,  # pending (dependencies, resources)
        "WAIT": JobState.PENDING,  # chunk job member waiting
        "PSUSP": JobState.HELD,  # suspended while pending (bstop, an operator)
        "RUN": JobState.RUNNING,
        "USUSP": JobState.RUNNING,  # suspended by its owner while running
        "SSUSP": JobState.RUNNING,  # suspended by LSF while running
        "DONE": JobState.FINISHED,  # exit code 0
        "EXIT": JobState.FINISHED,  # non-zero exit, killed, or never run
        "ZOMBI": JobState.FAILED,  # killed while its host was unreachable
        "UNKWN": JobState.UNKNOWN,  # the host is unreachable
    }

    def largest_node(self):  # FILL THIS IN: your largest node (README.md, "Your nodes")
        return Capacity(cores_per_node=128, gpus_per_node=8)  # a generous placeholder

    def name_options(self, name):
        return [["-J", name]]

    def array_options(self, first, last, name):
        return [["-J", f"{name}[{first}-{last}]"]]

    def resource_options(self, request):
        options = [["-n", str(request.slots)]]
        if request.cores_per_slot > 1:
            options.append(["-R", f"affinity[core({request.cores_per_slot})]"])
        if request.gpus_per_slot:
            options.append(["-gpu", f"num={request.gpus_per_slot}"])
        if request.memory_per_slot:
            options.append(["-R", f"rusage[mem={request.memory_per_slot}MB]"])
        if request.exclusive:
            options.append(["-x"])
        return options

    def duration_options(self, seconds):
        return [["-W", str(self.minutes(seconds))]]

    def cwd_options(self, path):
        return [["-cwd", path]]

    def output_options(self, path):
        return [["-o", path]]

    def dependency_options(self, job_ids):
        return ["-w", " && ".join(f"done({job_id})" for job_id in job_ids)]

    def array_element_id(self, job_id, element):
        return f"{job_id}[{element}]"

    def parse_submit(self, result):
        match = _SUBMITTED.search(result.stdout)
        if not match:
            raise ValueError(f"expected 'Job <ID> is submitted ...', got {result.stdout!r}")
        return match.group(1)

    def parse_status(self, result, job_ids):
        """``bjobs`` exits non-zero when an id is unknown but still prints the others."""
        unknown_only = "not found" in result.stderr
        if not result.stdout.strip() and result.returncode != 0 and not unknown_only:
            raise ValueError(result.describe())
        found: dict[str, NativeStatus] = {}
        for line in result.stdout.splitlines():
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split(",", 3)]
            if len(parts) != 4:
                raise ValueError(f"expected 'JOBID,STAT,EXIT_CODE,EXIT_REASON', got {line!r}")
            job_id, stat, code, reason = parts
            exit_code = int(code) if code.lstrip("-").isdigit() else (0 if stat == "DONE" else None)
            state = self.state(stat)
            if reason.startswith("TERM_RUNLIMIT"):
                state = JobState.TIMEOUT
            elif reason.startswith(("TERM_OWNER", "TERM_ADMIN")):
                state = JobState.CANCELLED
            status = NativeStatus(state, stat, exit_code, None if reason == "-" else reason)
            seen = found.get(job_id)
            if seen is None or _rank(status.state) < _rank(seen.state):
                found[job_id] = status
        return found


def _rank(state: JobState) -> int:
    return _PRECEDENCE.index(state) if state in _PRECEDENCE else len(_PRECEDENCE)
