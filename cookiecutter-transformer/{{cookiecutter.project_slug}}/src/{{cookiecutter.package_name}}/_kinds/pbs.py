"""The scheduler's vocabulary: PBS (the shapes of PBS Pro / OpenPBS). FILL THIS IN.

This module is the site's whole part of the transformer: the words of its scheduler. The
machinery (job scripts, quoting, records, arrays, dependencies, never-run, rollback,
polling) is ``jobspec_core.batch``'s, and upgrading jobspec-core upgrades it. The contract
of every member is the docstring of ``jobspec_core.batch.Scheduler``.

Shapes used (check them against your site's PBS manual, ``man qsub`` and ``man qstat``):

* ``qsub [-W depend=afterok:ID[:ID]...] SCRIPT`` prints the new job id (``123.server``;
  ``123[].server`` for an array, ``-J 0-9``, index in ``PBS_ARRAY_INDEX``);
* ``qstat -x -f -F json ID...`` prints ``{"Jobs": {ID: {"job_state": ..., "Exit_status": N}}}``
  (``-x`` includes finished jobs); an unknown id is reported on standard error;
* ``qdel ID...`` deletes jobs.

Torque's ``qstat`` has no JSON output (``qstat -f -x`` prints XML): change
``status_command`` and ``parse_status`` for it.
"""

from __future__ import annotations

import json
from typing import ClassVar

from jobspec_core.alternatives import Capacity
from jobspec_core.batch import BaseScheduler, DependencyKind, JobState, NativeStatus

__all__ = ["STANDIN", "SiteScheduler"]

#: The command shapes of the stand-in scheduler used in local mode.
STANDIN = "pbs"
#: ``Exit_status`` of a job PBS killed at its walltime (JOB_EXEC_KILL_WALLTIME).
KILLED_AT_WALLTIME = -29


class SiteScheduler(BaseScheduler):
    name = "PBS"
    directive_prefix = "#PBS"
    submit_command = ("qsub",)
    status_command = ("qstat", "-x", "-f", "-F", "json")
    cancel_command = ("qdel",)
    array_variable = "PBS_ARRAY_INDEX"
    array_base = 0
    array_output_token = "^array_index^"
    dependency_kind = DependencyKind.AFTER_OK
    job_name_max = 15
    job_name_first = "[A-Za-z]"
    #: PBS ``job_state`` letters -> ours (PBS Professional Reference Guide, "Job States").
    state_map: ClassVar[dict[str, JobState]] = {
        "Q": JobState.PENDING,  # queued
        "H": JobState.HELD,  # held (a user or operator hold; a dependency not yet satisfied)
        "W": JobState.PENDING,  # waiting for its start time
        "T": JobState.PENDING,  # in transit
        "M": JobState.PENDING,  # moved to another server
        "S": JobState.RUNNING,  # suspended
        "U": JobState.RUNNING,  # suspended (workstation busy)
        "R": JobState.RUNNING,  # running
        "B": JobState.RUNNING,  # array job: at least one subjob started
        "E": JobState.RUNNING,  # exiting
        "F": JobState.FINISHED,  # finished (shown with qstat -x)
        "X": JobState.FINISHED,  # subjob finished
    }

    def largest_node(self):  # FILL THIS IN: your largest node (README.md, "Your nodes")
        return Capacity(cores_per_node=128, gpus_per_node=8)  # a generous placeholder

    def name_options(self, name):
        return [["-N", name]]

    def array_options(self, first, last, name):
        return [["-N", name], ["-J", f"{first}-{last}"]]

    def resource_options(self, request):
        chunk = f"select={request.slots}:ncpus={request.cores_per_slot}"
        if request.gpus_per_slot:
            chunk += f":ngpus={request.gpus_per_slot}"
        if request.memory_per_slot:
            chunk += f":mem={request.memory_per_slot}mb"
        options = [["-l", chunk]]
        if request.exclusive:
            options.append(["-l", "place=excl"])
        return options

    def duration_options(self, seconds):
        return [["-l", f"walltime={self.hms(seconds)}"]]

    def output_options(self, path):
        return [["-j", "oe"], ["-o", path]]

    def dependency_options(self, job_ids):
        return ["-W", "depend=afterok:" + ":".join(job_ids)]

    def array_element_id(self, job_id, element):
        return job_id.replace("[]", f"[{element}]", 1)

    def parse_status(self, result, job_ids):
        """``qstat`` exits non-zero when one of the ids is unknown but still prints the
        others; ids it leaves out are unknown."""
        if not result.stdout.strip():
            if result.returncode != 0 and "Unknown Job Id" not in result.stderr:
                raise ValueError(result.describe())
            return {}
        try:
            jobs = json.loads(result.stdout).get("Jobs", {})
        except (ValueError, AttributeError) as exc:
            raise ValueError(f"qstat printed no readable JSON: {result.stdout[:200]!r}") from exc
        found = {}
        for job_id, info in jobs.items():
            letter = str(info.get("job_state", "?"))
            code = info.get("Exit_status")
            code = int(code) if code is not None else None
            state = self.state(letter)
            if letter == "H" and "s" in str(info.get("Hold_Types", "")):
                state = JobState.ERROR  # a system hold: PBS could not run it
            if state is JobState.FINISHED and code == KILLED_AT_WALLTIME:
                state = JobState.TIMEOUT
            found[job_id] = NativeStatus(state, letter, code, info.get("comment"))
        return found
