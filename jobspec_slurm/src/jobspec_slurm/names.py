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

from jobspec_core.errors import UnsafeValue
from jobspec_core.scripttext import unprintable

__all__ = [
    "safe_name",
    "output_pattern",
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


def output_pattern(directory: Path, name: str) -> str:
    """``directory/name`` as a value of ``#SBATCH --output``, whose file names are patterns.

    ``name`` is ours and may use Slurm's replacement symbols (``%a``, the array index); in
    ``directory`` (the run directory, below the run store the user chose) every ``%`` is
    doubled, so it means itself. A backslash anywhere turns every replacement off (and is
    dropped), and a directive line has no quoting: a directory with a backslash or a
    non-printable character (a newline would end the directive) is refused with
    :class:`~jobspec_core.errors.UnsafeValue`, before anything is submitted.
    """
    text = str(directory)
    bad = "\\" if "\\" in text else unprintable(text)
    if bad:
        raise UnsafeValue(
            f"the run directory {text!r} holds {bad!r}, which Slurm's --output file name "
            "cannot carry (a newline would end the #SBATCH line, a backslash turns off its "
            "%-patterns); choose a run store path without it (--store or JOBSPEC_STORE)"
        )
    return text.replace("%", "%%") + "/" + name


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

    def output(self, plan_id: str, index: int | str) -> str:
        """The ``--output`` pattern (sbatch or srun) writing :meth:`log` of an instance;
        ``index`` may be Slurm's ``%a`` (each array element its own)."""
        return output_pattern(self.run_dir / LOG_DIR, f"{self.key(plan_id)}-{index}.out")

    def allocation_output(self, plan_id: str) -> str:
        """The ``--output`` pattern of a group's job (its :meth:`allocation_log`)."""
        return output_pattern(self.run_dir / LOG_DIR, f"{self.key(plan_id)}.allocation.out")

    def library(self) -> Path:
        return self.run_dir / LIBRARY
