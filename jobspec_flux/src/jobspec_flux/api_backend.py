"""The flux-python driver: ``JobspecV1`` built from the same :class:`JobRequest` as the CLI
arguments, checked with Flux's own validator (``flux.job.validate_jobspec``), submitted with
``flux.job.submit_async``, listed with ``flux.job.JobList`` and cancelled with
``flux.job.cancel_async``.

Replicas: the API has no ``--cc``; one jobspec per replica is submitted asynchronously (all
in flight at once), each with ``FLUX_JOB_CC`` set as flux-submit(1) does. The environment is
this process's, like the CLI's default, plus nothing else: the launcher sets the task's own.
``flux archive create`` has no Python API in 0.88, so staging runs the command. ``watch``
streams each job's output with ``flux.job.output_watch_lines`` until the job ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from jobspec_core.alternatives import Capacity
from jobspec_core.errors import BackendError

from .driver import Driver, Refused
from .jobs import JobRequest, of_totals

__all__ = ["ApiDriver", "build_jobspec"]


def _flux():
    try:
        import flux
        import flux.job
    except Exception as exc:  # noqa: BLE001 - any import failure means "not usable"
        hint = ""
        if ".so" in str(exc) or isinstance(exc, OSError):  # the wheel finds no libflux-core
            hint = "; put flux-core's lib directory on LD_LIBRARY_PATH (e.g. /opt/flux/lib)"
        raise BackendError(
            f"Flux: flux-python cannot be imported ({exc}); install jobspec-flux[python] "
            f"matching your flux-core, or use api=cli{hint}"
        ) from exc
    return flux


def build_jobspec(request: JobRequest, dependencies: Sequence[int], index: int | None = None):
    """A validated ``flux.job.JobspecV1`` for ``request`` (replica ``index`` when replicated).

    Raises :class:`Refused` with Flux's validator message when Flux would refuse it.
    """
    _flux()
    from flux.job import JobspecV1, validate_jobspec

    environment = dict(os.environ)
    if index is not None and request.replicas > 1:
        environment["FLUX_JOB_CC"] = str(index)
    output = request.output.replace("{cc}", str(index if index is not None else 0))
    try:
        if request.kind == "task":
            jobspec = JobspecV1.from_command(
                request.command,
                num_tasks=request.slots,
                cores_per_task=request.cores_per_slot,
                gpus_per_task=request.gpus_per_slot or None,
                num_nodes=request.nodes or None,
                exclusive=request.exclusive,
                environment=environment,
                cwd=request.cwd,
                name=request.job_name,
                output=output or None,
            )
        else:
            with open(request.command[0], encoding="utf-8") as handle:
                script = handle.read()
            jobspec = JobspecV1.from_batch_command(
                script,
                request.job_name,
                num_slots=request.slots,
                cores_per_slot=request.cores_per_slot,
                gpus_per_slot=request.gpus_per_slot or None,
                num_nodes=request.nodes or None,
                exclusive=request.exclusive,
                environment=environment,
                cwd=request.cwd,
                output=output or None,
            )
        if request.duration is not None:
            jobspec.duration = request.duration
        for name, value in request.options:
            if name in ("queue", "bank"):
                jobspec.setattr(f"system.{name}", value)
            elif name == "requires":
                raise Refused("flux.requires needs the CLI's constraint parser; use api=cli for it")
        for key, value in request.setattr.items():
            jobspec.setattr(key, value)
        for key, value in request.setopt.items():
            jobspec.setattr_shell_option(key, value)
        if request.stage_names:
            jobspec.setattr_shell_option("stage-in", {"names": ",".join(request.stage_names)})
        if dependencies:
            jobspec.setattr(
                "system.dependencies",
                [{"scheme": "afterok", "value": str(job)} for job in dependencies],
            )
        validate_jobspec(jobspec.dumps())
    except (ValueError, TypeError, OSError) as exc:
        raise Refused(f"Flux's jobspec validator refused {request.node_id}: {exc}") from exc
    return jobspec


class ApiDriver(Driver):
    """Talks to the instance at ``FLUX_URI`` through flux-python (one handle per driver)."""

    name = "python"

    def __init__(self) -> None:
        flux = _flux()
        try:
            self.handle = flux.Flux()
        except OSError as exc:
            where = os.environ.get("FLUX_URI", "(no FLUX_URI set)")
            raise BackendError(f"Flux: cannot reach the Flux instance at {where}: {exc}") from exc

    def submit(self, request: JobRequest, dependencies: Sequence[int]) -> list[int]:
        import flux.job

        urgency = dict(request.options).get("urgency")
        indices = range(request.replicas) if request.replicas > 1 else [None]
        futures = []
        for index in indices:
            jobspec = build_jobspec(request, dependencies, index)
            kwargs: dict[str, Any] = {"waitable": False}
            if urgency is not None:
                kwargs["urgency"] = int(urgency)
            futures.append(flux.job.submit_async(self.handle, jobspec, **kwargs))
        ids: list[int] = []
        error: str | None = None
        for future in futures:
            try:
                ids.append(int(flux.job.submit_get_id(future)))
            except OSError as exc:
                error = error or str(exc)
        if error is not None:
            self.cancel(ids)
            raise Refused(error)
        if request.watch:
            self._watch(request.node_id, ids)
        return ids

    def _watch(self, node_id: str, ids: Sequence[int]) -> None:
        """Stream the jobs' output to stdout, prefixed by the task id, until they end (what
        ``flux submit --watch`` does on the CLI path)."""
        import flux.job

        for job in ids:
            try:
                for _stream, line in flux.job.output_watch_lines(self.handle, job):
                    sys.stdout.write(f"[{node_id}] {line}\n")
                    sys.stdout.flush()
            except OSError:
                continue  # the job never started: its status says why

    def query(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        import flux.job

        if not ids:
            return {}
        listing = flux.job.JobList(self.handle, ids=list(ids))
        jobs = listing.jobs()
        out: dict[int, dict[str, Any]] = {}
        for job in jobs:
            record = job.to_dict()
            out[int(job.id)] = record
        unknown = [e for e in listing.errors if "unknown" not in str(e)]
        if unknown and not out:
            raise BackendError("Flux: job list failed: " + "; ".join(map(str, unknown)))
        return out

    def cancel(self, ids: Sequence[int]) -> None:
        import flux.job

        futures = [flux.job.cancel_async(self.handle, job) for job in ids]
        for future in futures:
            try:
                future.get()
            except OSError:
                pass  # already inactive: cancelling a finished job is a no-op

    def capacity(self) -> Capacity:
        import flux.resource

        try:
            up = flux.resource.resource_list(self.handle).get().up
        except OSError as exc:
            raise BackendError(f"Flux: cannot read the instance's resources: {exc}") from exc
        return of_totals(up.nnodes, up.ncores, up.ngpus)

    def create_archive(self, argv: list[str]) -> None:
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        except OSError as exc:
            raise BackendError(f"Flux: cannot run {argv[0]} for staging: {exc}") from exc
        if proc.returncode != 0:
            raise Refused(f"{' '.join(argv)}: {proc.stderr.strip()}")
