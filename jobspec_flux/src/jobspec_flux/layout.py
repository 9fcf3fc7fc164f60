"""Where things live in a Flux run's directory: one place for every path both the renderer
and the status reader use, so they cannot drift apart.

::

    RUN_DIR/submit.sh                 what is submitted, as a shell script a person can read
    RUN_DIR/tasks/<node>.sh           one launcher per task (environment, cwd, command)
    RUN_DIR/groups/<node>.sh          one batch script per group
    RUN_DIR/logs/<node>.<index>.log   output of each task instance (and of each group)
    RUN_DIR/ids/<node>.<index>.id     job id of each replica of a top-level task (CLI)
    RUN_DIR/status/<node>.<index>     start/end markers written by launchers inside groups
    RUN_DIR/status/<group>.jobs       what a batch script submitted (or could not)
    RUN_DIR/status/<group>.json       `flux jobs -a --json` of the group's instance at its end

``<node>`` is the plan id with ``/`` turned into ``+`` and any character outside
``[A-Za-z0-9._+-]`` into ``_`` (plan ids are names, so collisions do not arise in practice).
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["safe_name", "Layout"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


def safe_name(node_id: str) -> str:
    """A file-name-safe form of a plan id."""
    return _UNSAFE.sub("_", node_id.replace("/", "+"))


class Layout:
    """Paths of one run (``run_dir`` absolute). Relative names are for ``Submission.files``."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)

    def path(self, relative: str) -> str:
        return str(self.run_dir / relative)

    @staticmethod
    def launcher(node_id: str) -> str:
        return f"tasks/{safe_name(node_id)}.sh"

    @staticmethod
    def batch(node_id: str) -> str:
        return f"groups/{safe_name(node_id)}.sh"

    def log(self, node_id: str, index: int | str) -> str:
        return self.path(f"logs/{safe_name(node_id)}.{index}.log")

    def log_prefix(self, node_id: str) -> str:
        """:meth:`log` without ``.<index>.log``, for scripts that append the index."""
        return self.path(f"logs/{safe_name(node_id)}")

    def ids_file(self, node_id: str) -> str:
        """Where ``flux submit --cc --log`` writes replica ``{cc}``'s job id."""
        return self.path(f"ids/{safe_name(node_id)}.{{cc}}.id")

    def marker(self, node_id: str, index: int | str) -> str:
        return self.path(f"status/{safe_name(node_id)}.{index}")

    def group_record(self, node_id: str) -> str:
        return self.path(f"status/{safe_name(node_id)}.jobs")

    def group_dump(self, node_id: str) -> str:
        return self.path(f"status/{safe_name(node_id)}.json")
