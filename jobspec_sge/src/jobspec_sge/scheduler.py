"""Grid Engine's vocabulary for jobspec-core's batch layer: :class:`GridEngine`.

Written against Son of Grid Engine 8.1.9 (Debian 12's ``gridengine-*``): qsub(1),
qstat(1), qacct(1), sge_pe(5), accounting(5). Everything not here (job scripts, quoting,
staging, records, never-run propagation, rollback, polling) is the layer's.

Choices:

* Replicas of a top-level task are one array job (``-t 1-N``, ``$SGE_TASK_ID``, base 1).
* Cores: more than one core per job is a parallel environment (``-pe smp N``); the PE
  must use ``allocation_rule $pe_slots`` (all slots on one host), so the largest thing
  one job can be given is one host (:attr:`GridEngine.largest_node`, ``nodes=1``, as
  large as the environment says; unknown otherwise: Grid Engine knows its hosts).
* ``-hold_jid`` is after-any: the layer's job scripts check their dependencies' records.
* Submission uses ``qsub -terse -w e -S /bin/sh``: a request no queue can ever run is refused by
  qsub with Grid Engine's reason instead of pending forever (``submit_validates``). There is
  no separate validation command: it would double the qsub calls of every submission.
* A job in an error state (``Eqw``) is explained by ``qstat -j ID``'s "error reason" line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from jobspec_core.alternatives import Capacity
from jobspec_core.batch import (
    BaseScheduler,
    CommandResult,
    DependencyKind,
    JobRequest,
    JobState,
    NativeStatus,
    Option,
)

from .outputs import error_reason, parse_qacct, parse_qstat_xml

__all__ = ["GridEngine", "STATE_MAP", "largest_node"]

_RUN = JobState.RUNNING
#: qstat(1), "state": d(eletion) E(rror) h(old) r(unning) R(estarted) s/S(uspended)
#: t(ransfering) T(hreshold) w(aiting). Suspended and transferring jobs count as running;
#: a job being deleted (d...) is cancelled.
STATE_MAP: dict[str, JobState] = {
    "qw": JobState.PENDING,
    "hqw": JobState.HELD,
    "hRwq": JobState.HELD,
    "Rq": JobState.PENDING,  # rescheduled, queued again
    "hRq": JobState.HELD,
    **{w: _RUN for w in "r t Rr Rt s ts S tS T tT Rs Rts RS RtS RT RtT".split()},
    **{w: JobState.ERROR for w in ("Eqw", "Ehqw", "EhRqw", "ERq", "EhRq")},
    **{w: JobState.CANCELLED for w in "dr dt dRr dRt ds dS dT dRs dRS dRT dqw dhqw".split()},
}


def largest_node() -> Capacity | None:
    """One host (``$pe_slots``) of ``JOBSPEC_SGE_CORES_PER_NODE`` cores and
    ``JOBSPEC_SGE_GPUS_PER_NODE`` gpus (default 0); ``None`` (unknown: nothing is refused
    for its size at render, ``qsub -w e`` refuses what no queue can run) when unset."""
    env = os.environ
    cores = env.get("JOBSPEC_SGE_CORES_PER_NODE")
    if not cores:
        return None
    return Capacity(int(cores), int(env.get("JOBSPEC_SGE_GPUS_PER_NODE") or 0), nodes=1)


class GridEngine(BaseScheduler):
    """Grid Engine (SGE, SoGE, OGS): ``qsub``, ``qstat -xml``, ``qacct -j``, ``qdel``.

    :param pe: the parallel environment for jobs of more than one core (``smp``; its
        ``allocation_rule`` must be ``$pe_slots``). ``JOBSPEC_SGE_PE`` overrides it.
    """

    name = "Grid Engine"
    directive_prefix = "#$"
    # -S /bin/sh: the layer's job scripts are POSIX sh; Grid Engine would run them with the
    # queue's shell (bash, csh...) whatever their #! line says (shell_start_mode posix_compliant)
    submit_command = ("qsub", "-terse", "-w", "e", "-S", "/bin/sh")
    status_command = ("qstat", "-xml")
    status_takes_ids = False  # qstat -xml lists the user's jobs; the layer picks its own
    cancel_command = ("qdel",)
    accounting_command = ("qacct", "-j")
    explain_command = ("qstat", "-j")
    submit_validates = True  # -w e
    lost_grace = 60.0  # qacct learns of a finished job ~15 s after it ends (flush_time)
    array_variable = "SGE_TASK_ID"
    array_base = 1
    array_output_token = "$TASK_ID"
    dependency_kind = DependencyKind.AFTER_ANY
    state_map = STATE_MAP
    job_name_first = "[A-Za-z_]"  # qsub refuses a name starting with a digit

    def __init__(self, pe: str = "smp") -> None:
        self.pe = os.environ.get("JOBSPEC_SGE_PE") or pe

    def largest_node(self) -> Capacity | None:
        return largest_node()

    def name_options(self, name: str) -> list[Option]:
        return [["-N", name]]

    def resource_options(self, request: JobRequest) -> list[Option]:
        cores = max(request.slots, 1) * max(request.cores_per_slot, 1)
        out = [["-pe", self.pe, str(cores)]] if cores > 1 else []
        if request.memory_per_slot:
            out.append(["-l", f"mem_free={request.memory_per_slot * request.slots}M"])
        if request.gpus_per_slot:  # a site complex "gpu", consumable per job
            out.append(["-l", f"gpu={request.gpus_per_slot * request.slots}"])
        if request.exclusive:  # a site complex "exclusive" (BOOL, EXCL)
            out.append(["-l", "exclusive=true"])
        return out

    def duration_options(self, seconds: int) -> list[Option]:
        return [["-l", f"h_rt={self.hms(seconds)}"]]

    def environment_options(self, environment: Mapping[str, str]) -> list[Option]:
        for key, value in environment.items():
            if "," in value:  # -v splits its list at commas
                raise ValueError(f"{key}: a value with a comma cannot be passed with qsub -v")
        return [["-v", f"{k}={v}"] for k, v in environment.items()]

    def cwd_options(self, path: str) -> list[Option]:
        return [["-wd", path]]

    def output_options(self, path: str) -> list[Option]:
        return [["-o", path], ["-j", "y"]]

    def array_options(self, first: int, last: int, name: str) -> list[Option]:
        return [*self.name_options(name), ["-t", f"{first}-{last}"]]

    def dependency_options(self, job_ids: Sequence[str]) -> list[str]:
        return ["-hold_jid", ",".join(job_ids)] if job_ids else []

    def accounting_argv(self, command: Sequence[str], job_ids: Sequence[str]) -> list[list[str]]:
        return [[*command, job] for job in job_ids]  # qacct -j takes one job

    def parse_submit(self, result: CommandResult) -> str:
        """``-terse`` prints ``12`` (or ``12.1-100:1`` for an array): the id is ``12``."""
        word = result.stdout.strip().split(".")[0]
        if not word.isdigit():
            raise ValueError(f"expected a job id from qsub -terse, got {result.stdout!r}")
        return word

    def parse_status(
        self, result: CommandResult, job_ids: Sequence[str]
    ) -> dict[str, NativeStatus]:
        if result.returncode != 0:
            raise ValueError(result.describe())
        return parse_qstat_xml(result.stdout, self.state, set(job_ids))

    def parse_explain(self, result: CommandResult, job_id: str) -> str | None:
        return error_reason(result.stdout) if result.returncode == 0 else None

    def parse_accounting(
        self, results: Sequence[CommandResult], job_ids: Sequence[str]
    ) -> dict[str, NativeStatus]:
        out: dict[str, NativeStatus] = {}
        for result in results:
            if result.returncode == 0:  # 1: "error: job id N not found" (not yet, or never)
                out.update(parse_qacct(result.stdout, set(job_ids)))
        return out
