"""Names the backend derives from plan ids: job names, status keys, log and script paths.

Everything lives under the run directory (``RunContext.run_dir``), which every node must
see (a shared file system, as Slurm's ``--output`` already requires):

* ``slurm/<name>.sh``: the batch scripts, ``slurm/jobspec-lib.sh``: their shared functions;
* ``slurm/status/<key>.<index>``: one status record per task instance (see ``lib.sh``);
* ``logs/<key>-<index>.out``: one output file per task instance (``jobspec logs``);
  ``logs/<group key>.allocation.out`` for a group's batch script itself.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = [
    "safe_name",
    "Names",
    "LIBRARY",
    "STATUS_DIR",
    "LOG_DIR",
]

LIBRARY = "slurm/jobspec-lib.sh"
STATUS_DIR = "slurm/status"
LOG_DIR = "logs"

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(plan_id: str) -> str:
    """A file- and job-name-safe form of a plan id: ``/`` becomes ``.``, anything outside
    ``[A-Za-z0-9_.-]`` becomes ``-`` (``mini-mummi/train`` -> ``mini-mummi.train``)."""
    name = _UNSAFE.sub("-", plan_id.replace("/", ".")).strip(".-")
    return name or "task"


class Names:
    """Unique keys for the plan ids of one plan (two ids that sanitize alike get ``-2``...)."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self._keys: dict[str, str] = {}
        self._taken: set[str] = set()

    def key(self, plan_id: str) -> str:
        """The stable key of ``plan_id`` (the same id always gets the same key)."""
        if plan_id not in self._keys:
            base = safe_name(plan_id)
            key, n = base, 1
            while key in self._taken:
                n += 1
                key = f"{base}-{n}"
            self._taken.add(key)
            self._keys[plan_id] = key
        return self._keys[plan_id]

    def script(self, plan_id: str) -> str:
        """Relative name of the batch script of a top-level node."""
        return f"slurm/{self.key(plan_id)}.sh"

    def status_dir(self) -> Path:
        return self.run_dir / STATUS_DIR

    def record(self, plan_id: str, index: int) -> Path:
        return self.status_dir() / f"{self.key(plan_id)}.{index}"

    def log(self, plan_id: str, index: int | str) -> Path:
        return self.run_dir / LOG_DIR / f"{self.key(plan_id)}-{index}.out"

    def allocation_log(self, plan_id: str) -> Path:
        return self.run_dir / LOG_DIR / f"{self.key(plan_id)}.allocation.out"

    def library(self) -> Path:
        return self.run_dir / LIBRARY
