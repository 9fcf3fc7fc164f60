"""The conformance faults of a batch transformer running on the stand-in."""

from __future__ import annotations

import re
from pathlib import Path

from .spool import SPOOL, force_error, impose_limit

__all__ = ["StandinFaults", "standin_faults"]


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
