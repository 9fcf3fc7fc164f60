"""The scheduler's vocabulary: Grid Engine (Son of Grid Engine 8.1). FILL THIS IN.

This module is the site's whole part of the transformer: the words of its scheduler. The
machinery (job scripts, quoting, records, arrays, dependencies, never-run, rollback,
polling) is ``jobspec_core.batch``'s, and upgrading jobspec-core upgrades it. The contract
of every member is the docstring of ``jobspec_core.batch.Scheduler``.

Shapes used (check them against your site, ``man qsub``, ``man qstat``, ``man qacct``):

* ``qsub -terse [-hold_jid ID[,ID]...] SCRIPT`` prints the job id (``123``; ``123.1-4:1``
  for an array, ``-t 1-4``, index in ``SGE_TASK_ID``). ``-hold_jid`` is **after-any**:
  the dependent starts when its dependencies ended, however they ended; the job script
  then checks their records and records its instances never run when one failed;
* ``qsub -w v ...`` checks a job could ever be scheduled, without submitting it: every
  job is checked before the first is submitted;
* ``qstat -xml`` lists every job of the user still in the queue (no ids); ``Eqw`` is the
  error state (failed, with the reason ``qstat -j ID`` gives, and deleted by jobspec:
  never left pending);
* ``qacct -j ID`` reports a finished job (about 15 s after it ended): ``failed 37`` is the
  ``h_rt`` limit, ``failed 100`` with exit 137 a job deleted while running;
* ``qdel ID...`` deletes jobs.

Cores are slots of a parallel environment (``PARALLEL_ENVIRONMENT``, one with
``allocation_rule $pe_slots`` keeps them on one host); the time limit is ``h_rt``. Grid
Engine refuses job names starting with a digit and quotes inside ``#$`` lines: the layer
prefixes such names and passes any word that is not safe in a directive on the command line.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import ClassVar

from jobspec_core.alternatives import Capacity
from jobspec_core.batch import BaseScheduler, DependencyKind, JobState, NativeStatus, most_telling

__all__ = ["STANDIN", "SiteScheduler"]

#: The command shapes of the stand-in scheduler used in local mode.
STANDIN = "sge"
#: The parallel environment that gives a job several slots on one host.
PARALLEL_ENVIRONMENT = "smp"


class SiteScheduler(BaseScheduler):
    name = "Grid Engine"
    directive_prefix = "#$"
    submit_command = ("qsub", "-terse")
    status_command = ("qstat", "-xml")
    status_takes_ids = False
    cancel_command = ("qdel",)
    accounting_command = ("qacct",)
    explain_command = ("qstat", "-j")  # why a job is in an error state
    lost_grace = 60.0  # qacct learns of a finished job about 15 s after it ended
    validate_command = ("qsub", "-w", "v")
    array_variable = "SGE_TASK_ID"
    array_base = 1
    array_output_token = "$TASK_ID"
    dependency_kind = DependencyKind.AFTER_ANY
    job_name_first = "[A-Za-z_]"
    #: ``qstat`` state letters -> ours (``man qstat``, "state"); E... is an error state.
    state_map: ClassVar[dict[str, JobState]] = {
        "qw": JobState.PENDING,
        "hqw": JobState.HELD,
        "hRwq": JobState.HELD,
        "r": JobState.RUNNING,
        "t": JobState.RUNNING,  # transferring to its host
        "Rr": JobState.RUNNING,  # restarted
        "Rt": JobState.RUNNING,
        "s": JobState.RUNNING,  # suspended
        "S": JobState.RUNNING,  # suspended by the queue
        "T": JobState.RUNNING,  # suspended at a threshold
        "dr": JobState.RUNNING,  # being deleted
        "dt": JobState.RUNNING,
        "Eqw": JobState.ERROR,
        "Ehqw": JobState.ERROR,
        "EhRqw": JobState.ERROR,
    }

    def largest_node(self):  # FILL THIS IN: your largest node (README.md, "Your nodes")
        return Capacity(cores_per_node=128, gpus_per_node=8)  # a generous placeholder

    def name_options(self, name):
        return [["-N", name]]

    def array_options(self, first, last, name):
        return [["-N", name], ["-t", f"{first}-{last}"]]

    def resource_options(self, request):
        slots = request.slots * request.cores_per_slot
        options = [["-pe", PARALLEL_ENVIRONMENT, str(slots)]] if slots > 1 else []
        if request.memory_per_slot:
            per_core = -(-request.memory_per_slot // request.cores_per_slot)
            options.append(["-l", f"h_vmem={per_core}M"])
        if request.gpus_per_slot:
            options.append(["-l", f"gpu={request.gpus_per_slot}"])  # your site's complex
        return options

    def duration_options(self, seconds):
        return [["-l", f"h_rt={self.hms(seconds)}"]]

    def cwd_options(self, path):
        return [["-wd", path]]

    def output_options(self, path):
        return [["-j", "y"], ["-o", path]]

    def dependency_options(self, job_ids):
        return ["-hold_jid", ",".join(job_ids)]

    def parse_submit(self, result):
        match = re.match(r"\s*(\d+)", result.stdout)
        if not match:
            raise ValueError(f"expected a job id (qsub -terse), got {result.stdout!r}")
        return match.group(1)

    def parse_status(self, result, job_ids):
        if result.returncode != 0:
            raise ValueError(result.describe())
        try:
            root = ET.fromstring(result.stdout)
        except ET.ParseError as exc:
            raise ValueError(f"qstat -xml printed no readable XML: {exc}") from exc
        entries: dict[str, list[NativeStatus]] = {}
        for job in root.iter("job_list"):
            job_id, word = job.findtext("JB_job_number", ""), job.findtext("state", "")
            entries.setdefault(job_id, []).append(NativeStatus(self.state(word), word))
        return {job_id: most_telling(found) for job_id, found in entries.items()}

    def accounting_argv(self, command, job_ids):
        return [[*command, "-j", job_id] for job_id in job_ids]

    def parse_accounting(self, results, job_ids):
        entries: dict[str, list[NativeStatus]] = {}
        for result in results:
            if result.returncode != 0:
                continue  # not known (yet): qacct learns of a job late
            for block in result.stdout.split("=" * 62):
                fields = dict(
                    line.split(None, 1) for line in block.splitlines() if len(line.split()) > 1
                )
                if "jobnumber" not in fields:
                    continue
                job_id, failed = fields["jobnumber"].strip(), fields.get("failed", "0").strip()
                code = int(fields.get("exit_status", "0").split()[0])
                if failed.startswith("37"):
                    state = JobState.TIMEOUT
                elif failed.startswith("100") and code == 137:
                    state = JobState.CANCELLED
                elif failed != "0":
                    state = JobState.FAILED
                else:
                    state = JobState.FINISHED
                status = NativeStatus(state, f"failed {failed}", code, failed)
                entries.setdefault(job_id, []).append(status)  # an array: one per element
        return {job_id: most_telling(found) for job_id, found in entries.items()}

    def parse_explain(self, result, job_id):
        for line in result.stdout.splitlines():  # qstat -j ID: "error reason  1: DATE [..]: WHY"
            if line.startswith("error reason"):
                return line.split("]: ", 1)[-1].strip()
        return None
