"""The scheduler's vocabulary: a generic batch scheduler driven by three commands. FILL THIS IN.

This module is the site's whole part of the transformer: the words of its scheduler. The
machinery (job scripts, quoting, records, arrays, dependencies, never-run, rollback,
polling) is ``jobspec_core.batch``'s, and upgrading jobspec-core upgrades it. The contract
of every member is the docstring of ``jobspec_core.batch.Scheduler``.

The generic scheduler speaks this small protocol (write thin wrappers around your site's
tools, or change the methods below to speak theirs):

``submit [--after ID]... [--name NAME] [--array FIRST-LAST] [--cwd DIR] [--output FILE]
[--time SECONDS] [--slots N] [--cores-per-slot N] [--gpus-per-slot N] [--memory-per-slot MIB]
[--nodes N] [--option KEY=VALUE]... SCRIPT``
    Queue ``SCRIPT`` (run it with ``/bin/sh``); start it only after every ``--after`` job
    ended with exit code 0; with ``--array``, run it once per index with the index in
    ``JOB_ARRAY_INDEX``. Print the new job's id as the last line of standard output.
``status ID...``
    One line per known id: ``ID STATE EXIT``, STATE one of ``queued held running done
    cancelled timeout error``, EXIT the exit code or ``-``. Unknown ids are left out.
``cancel ID...``
    Stop those jobs; ids that already ended are ignored.

As generated, the transformer runs these commands through the stand-in scheduler
(``jobspec_core.batch.standin``, which implements this protocol with the local shell) until
``default_mode`` in ``plugin.py`` says ``native``.
"""

from __future__ import annotations

from typing import ClassVar

from jobspec_core.alternatives import Capacity
from jobspec_core.batch import BaseScheduler, DependencyKind, JobState, NativeStatus

__all__ = ["STANDIN", "SiteScheduler"]

#: The command shapes of the stand-in scheduler used in local mode.
STANDIN = "generic"


class SiteScheduler(BaseScheduler):
    """The generic protocol above."""

    name = "the site's scheduler"
    submit_command = ("submit",)
    status_command = ("status",)
    cancel_command = ("cancel",)
    array_variable = "JOB_ARRAY_INDEX"
    array_base = 0
    dependency_kind = DependencyKind.AFTER_OK
    #: The protocol's states -> ours.
    state_map: ClassVar[dict[str, JobState]] = {
        "queued": JobState.PENDING,
        "held": JobState.HELD,
        "running": JobState.RUNNING,
        "done": JobState.FINISHED,
        "cancelled": JobState.CANCELLED,
        "timeout": JobState.TIMEOUT,
        "error": JobState.ERROR,
    }

    def largest_node(self):  # FILL THIS IN: your largest node (README.md, "Your nodes")
        return Capacity(cores_per_node=128, gpus_per_node=8)  # a generous placeholder

    def name_options(self, name):
        return [["--name", name]]

    def array_options(self, first, last, name):
        return [["--name", name], ["--array", f"{first}-{last}"]]

    def resource_options(self, request):
        options = [
            ["--slots", str(request.slots)],
            ["--cores-per-slot", str(request.cores_per_slot)],
        ]
        if request.gpus_per_slot:
            options.append(["--gpus-per-slot", str(request.gpus_per_slot)])
        if request.memory_per_slot:
            options.append(["--memory-per-slot", str(request.memory_per_slot)])
        if request.nodes:
            options.append(["--nodes", str(request.nodes)])
        return options

    def duration_options(self, seconds):
        return [["--time", str(seconds)]]

    def cwd_options(self, path):
        return [["--cwd", path]]

    def output_options(self, path):
        return [["--output", path]]

    def passthrough_options(self, options):  # mysite.queue: debug -> --option queue=debug
        return [["--option", f"{key}={value}"] for key, value in options.items()]

    def dependency_options(self, job_ids):
        return [word for job_id in job_ids for word in ("--after", job_id)]

    def parse_status(self, result, job_ids):
        if result.returncode != 0:
            raise ValueError(result.describe())
        found = {}
        for line in result.stdout.splitlines():
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3 or parts[1] not in self.state_map:
                raise ValueError(f"expected 'ID STATE EXIT' with a known STATE, got {line!r}")
            job_id, word, code = parts
            exit_code = int(code) if code.lstrip("-").isdigit() else None
            found[job_id] = NativeStatus(self.state(word), word, exit_code)
        return found
