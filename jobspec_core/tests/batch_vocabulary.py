"""Two small scheduler vocabularies for the batch layer's tests: Grid Engine's shapes
(after-any dependencies, 1-based arrays, qstat without ids, qacct, qsub -w v) and the
generic protocol (after-ok, 0-based arrays), both run through the stand-in scheduler."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET

from jobspec_core.alternatives import Capacity
from jobspec_core.batch import (
    BaseScheduler,
    BatchTransformer,
    DependencyKind,
    JobState,
    NativeStatus,
)


class GridEngineWords(BaseScheduler):
    name = "Grid Engine"
    directive_prefix = "#$"
    submit_command = ("qsub", "-terse")
    status_command = ("qstat", "-xml")
    status_takes_ids = False
    cancel_command = ("qdel",)
    accounting_command = ("qacct",)
    validate_command = ("qsub", "-w", "v")
    lost_grace = 2.0
    array_variable = "SGE_TASK_ID"
    array_base = 1
    array_output_token = "$TASK_ID"
    dependency_kind = DependencyKind.AFTER_ANY
    job_name_first = "[A-Za-z_]"
    job_name_max = 20
    explain_command = ("qstat", "-j")
    state_map = {
        "qw": JobState.PENDING,
        "hqw": JobState.HELD,
        "r": JobState.RUNNING,
        "Eqw": JobState.ERROR,
    }

    def largest_node(self):
        return Capacity(cores_per_node=os.cpu_count() or 1)

    def parse_explain(self, result, job_id):
        for line in result.stdout.splitlines():
            if line.startswith("error reason"):
                return line.split("]: ", 1)[-1].strip()
        return None

    def name_options(self, name):
        return [["-N", name]]

    def resource_options(self, request):
        slots = request.slots * request.cores_per_slot
        return [["-pe", "smp", str(slots)]] if slots > 1 else []

    def duration_options(self, seconds):
        return [["-l", f"h_rt={self.hms(seconds)}"]]

    def cwd_options(self, path):
        return [["-wd", path]]

    def output_options(self, path):
        return [["-j", "y"], ["-o", path]]

    def array_options(self, first, last, name):
        return [["-N", name], ["-t", f"{first}-{last}"]]

    def dependency_options(self, job_ids):
        return ["-hold_jid", ",".join(job_ids)]

    def parse_submit(self, result):
        match = re.match(r"(\d+)", result.stdout.strip())
        if not match:
            raise ValueError(f"no job id in {result.stdout!r}")
        return match.group(1)

    def parse_status(self, result, job_ids):
        if result.returncode != 0:
            raise ValueError(result.describe())
        out = {}
        for job in ET.fromstring(result.stdout).iter("job_list"):
            word = job.findtext("state") or ""
            out[job.findtext("JB_job_number")] = NativeStatus(self.state(word), word)
        return out

    def accounting_argv(self, command, job_ids):
        return [[*command, "-j", job_id] for job_id in job_ids]

    def parse_accounting(self, results, job_ids):
        out = {}
        for result in results:
            fields = dict(
                line.split(None, 1) for line in result.stdout.splitlines() if len(line.split()) > 1
            )
            if result.returncode != 0 or "jobnumber" not in fields:
                continue
            failed, code = fields.get("failed", "0").strip(), int(fields.get("exit_status", 0))
            state = JobState.FINISHED
            if failed.startswith("100"):
                state = JobState.CANCELLED
            out[fields["jobnumber"].strip()] = NativeStatus(state, failed, code, failed)
        return out


class GenericWords(BaseScheduler):
    name = "generic scheduler"
    array_variable = "JOB_ARRAY_INDEX"
    array_base = 0
    state_map = {
        "queued": JobState.PENDING,
        "held": JobState.HELD,
        "running": JobState.RUNNING,
        "done": JobState.FINISHED,
        "cancelled": JobState.CANCELLED,
        "timeout": JobState.TIMEOUT,
        "error": JobState.ERROR,
    }

    def name_options(self, name):
        return [["--name", name]]

    def array_options(self, first, last, name):
        return [["--name", name], ["--array", f"{first}-{last}"]]

    def cwd_options(self, path):
        return [["--cwd", path]]

    def dependency_options(self, job_ids):
        return [word for job_id in job_ids for word in ("--after", job_id)]

    def parse_status(self, result, job_ids):
        out = {}
        for line in result.stdout.splitlines():
            job_id, word, code = line.split()
            exit_code = int(code) if code.lstrip("-").isdigit() else None
            out[job_id] = NativeStatus(self.state(word), word, exit_code)
        return out


class GridEngineTransformer(BatchTransformer):
    name = "test_ge"
    scheduler = GridEngineWords()
    standin = "sge"
    default_mode = "local"


class GenericTransformer(BatchTransformer):
    name = "test_generic"
    scheduler = GenericWords()
    standin = "generic"
    default_mode = "local"


class HugeNodes(GridEngineWords):
    """Render believes anything fits; the stand-in's ``qsub -w v`` knows better."""

    def largest_node(self):
        return Capacity(cores_per_node=100000)


class HugeTransformer(GridEngineTransformer):
    name = "test_huge"
    scheduler = HugeNodes()


class ValidatingWords(HugeNodes):
    """``qsub -w e``: the submit command refuses what no queue can run (no ``-w v`` pass)."""

    submit_command = ("qsub", "-terse", "-w", "e")
    submit_validates = True


class ValidatingTransformer(GridEngineTransformer):
    name = "test_validating"
    scheduler = ValidatingWords()
