"""The built-in steps on one machine.

* ``stage``: every node is this machine, so the path is already present; the step checks
  that it exists (its ``target``, :func:`jobspec_core.workdirs.step_path`) and logs one line.
* ``write``: carried out by the runner at submission, like on every backend
  (:func:`jobspec_core.workdirs.carry_out_writes`: never through a symbolic link); the
  step logs one line when its node starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["StepFailed", "run_step"]


class StepFailed(Exception):
    """A step could not be carried out; the message says why."""


def run_step(step: dict[str, Any], staging: str, log) -> None:
    """Carry out one step for a node whose staging directory is ``staging``.

    :param log: ``log(text)`` writes a line to the supervisor's log.
    Raises :class:`StepFailed`.
    """
    name, options = step["name"], step.get("options", {})
    if name == "write":
        log(f"write: {Path(staging) / str(options['path'])} was written at submission")
    elif name == "stage":
        target = Path(step.get("target") or Path(staging) / str(options["path"]))
        if not target.exists():
            raise StepFailed(f"stage: {target} does not exist")
        log(f"stage: {target} is present on this machine (one node: nothing to copy)")
    else:
        raise StepFailed(f"the local backend has no step {name!r}")
