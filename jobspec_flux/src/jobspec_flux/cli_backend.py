"""The ``flux`` command-line driver: ``flux submit``/``flux batch``, ``flux jobs --json``,
``flux cancel`` and ``flux archive create``, run as argv lists (never through a shell).

Job ids printed by flux-submit(1) are F58 text whose first character depends on the locale;
they are parsed into integers at once (:func:`jobspec_flux.states.parse_jobid`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from jobspec_core.alternatives import Capacity
from jobspec_core.errors import BackendError

from .driver import Driver, Refused
from .jobs import JobRequest, of_totals
from .scripts import flux_argv
from .states import parse_jobid

__all__ = ["CliDriver", "flux_command"]

_UNKNOWN = re.compile(r"JobID (\S+) unknown")
_CONNECT = ("Unable to connect to Flux",)


def flux_command() -> str:
    """The path of ``flux``, or :class:`BackendError` saying it is not on PATH."""
    path = shutil.which("flux")
    if path is None:
        raise BackendError(
            "Flux: the 'flux' command is not on PATH; install flux-core or run inside a "
            "Flux instance (flux start / an allocation)"
        )
    return path


class CliDriver(Driver):
    """Talks to the Flux instance named by ``FLUX_URI`` (or the one it runs in) through
    the ``flux`` command."""

    name = "cli"

    def __init__(self) -> None:
        self.flux = flux_command()

    def _run(self, args: list[str], *, check_connect: bool = True) -> subprocess.CompletedProcess:
        try:
            proc = subprocess.run(
                [self.flux, *args],
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                check=False,
            )
        except OSError as exc:
            raise BackendError(f"Flux: cannot run {self.flux}: {exc}") from exc
        if proc.returncode != 0 and check_connect and _unreachable(proc.stderr):
            where = os.environ.get("FLUX_URI", "(no FLUX_URI set)")
            raise BackendError(
                f"Flux: cannot reach the Flux instance at {where}: {proc.stderr.strip()}"
            )
        return proc

    def submit(self, request: JobRequest, dependencies: Sequence[int]) -> list[int]:
        argv = flux_argv(request)[1:]
        argv += [f"--dependency=afterok:{job}" for job in dependencies]
        argv += request.command
        if request.watch:
            return self._submit_watched(request, argv)
        proc = self._run(argv)
        if request.ids_file:
            ids, errors = _ids_from_files(request.ids_file, request.replicas)
        else:
            ids, errors = _ids(proc.stdout), []
        if proc.returncode != 0 or errors or len(ids) != request.replicas:
            self.cancel([job for job in ids if job is not None])
            message = "; ".join(errors) or proc.stderr.strip()
            raise Refused(
                message
                or f"flux {argv[0]} exited {proc.returncode} "
                f"with {len(ids)} of {request.replicas} job id(s)"
            )
        return ids

    def _submit_watched(self, request: JobRequest, argv: list[str]) -> list[int]:
        """``flux submit --watch``: the job ids come first on stdout, then the output, which
        is streamed to our stdout prefixed by the task id while the job runs."""
        proc = subprocess.Popen(
            [self.flux, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        assert proc.stdout is not None and proc.stderr is not None
        ids: list[int] = []
        for line in proc.stdout:
            if len(ids) < request.replicas:
                try:
                    ids.append(parse_jobid(line))
                    continue
                except ValueError:
                    pass
            sys.stdout.write(f"[{request.node_id}] {line}")
            sys.stdout.flush()
        err = proc.stderr.read()
        proc.wait()
        if not ids:
            raise Refused(err.strip() or f"flux submit --watch exited {proc.returncode}")
        return sorted(ids)

    def query(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        wanted = [str(i) for i in ids]
        records: dict[int, dict[str, Any]] = {}
        while wanted:
            proc = self._run(["jobs", "--json", *wanted])
            if proc.returncode == 0:
                for job in _job_records(proc.stdout):
                    records[int(job["id"])] = job
                return records
            unknown = set()
            for text in _UNKNOWN.findall(proc.stderr):
                try:
                    unknown.add(str(parse_jobid(text)))
                except ValueError:
                    unknown.add(text)
            if not unknown & set(wanted):
                raise BackendError(f"Flux: flux jobs --json failed: {proc.stderr.strip()}")
            # Purged jobs are unknown to Flux: ask again without them (status says LOST).
            wanted = [w for w in wanted if w not in unknown]
        return records

    def cancel(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        proc = self._run(["cancel", *[str(i) for i in ids]])
        if proc.returncode != 0:
            problems = [
                line
                for line in proc.stderr.splitlines()
                if line.strip() and "inactive" not in line and "unknown" not in line
            ]
            if problems:
                raise BackendError("Flux: flux cancel failed: " + "; ".join(problems))

    def capacity(self) -> Capacity:
        proc = self._run(["resource", "list", "-s", "up", "-no", "{nnodes} {ncores} {ngpus}"])
        try:
            nodes, cores, gpus = (int(x) for x in proc.stdout.split())
        except ValueError as exc:
            raise BackendError(
                f"Flux: cannot read the instance's resources: {proc.stderr.strip() or proc.stdout!r}"
            ) from exc
        return of_totals(nodes, cores, gpus)

    def create_archive(self, argv: list[str]) -> None:
        proc = self._run(argv[1:])
        if proc.returncode != 0:
            raise Refused(f"{' '.join(argv)}: {proc.stderr.strip()}")


def _job_records(text: str) -> list[dict[str, Any]]:
    """The records of ``flux jobs --json`` output: ``{"jobs": [...]}`` for several jobs, but
    a single job object when exactly one id was given (flux-core 0.88.0)."""
    try:
        data = json.loads(text or "{}")
    except ValueError as exc:
        raise BackendError(f"Flux: flux jobs --json printed something not JSON: {exc}") from exc
    if isinstance(data, dict) and "jobs" in data:
        return [j for j in data["jobs"] if isinstance(j, dict) and "id" in j]
    if isinstance(data, dict) and "id" in data:
        return [data]
    return []


def _ids_from_files(template: str, replicas: int) -> tuple[list[int], list[str]]:
    """Replica ids from ``flux submit --cc --log=...{cc}...`` files, in index order, and the
    error lines found instead of an id."""
    ids: list[int] = []
    errors: list[str] = []
    for index in range(replicas):
        path = template.replace("{cc}", str(index))
        try:
            text = open(path, encoding="utf-8", errors="replace").read()
        except OSError:
            errors.append(f"cc={index}: no job id recorded")
            continue
        found = _ids(text)
        if found:
            ids.append(found[0])
        else:
            errors.append(text.strip() or f"cc={index}: no job id recorded")
    return ids, errors


def _ids(text: str) -> list[int]:
    out = []
    for line in text.splitlines():
        try:
            out.append(parse_jobid(line))
        except ValueError:
            continue
    return out


def _unreachable(stderr: str) -> bool:
    return any(marker in stderr for marker in _CONNECT)
