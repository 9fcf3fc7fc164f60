"""Plan details turned into Slurm options and shell lines: resources, time limits,
environment, passthrough, commands. Pure functions; nothing here runs Slurm.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping
from typing import Any

from jobspec_core.errors import InvalidJobspec, Problem
from jobspec_core.plan import PlanNode, PlanTask, ResourceRequest

__all__ = [
    "PASSTHROUGH_KEY",
    "RESERVED_OPTIONS",
    "resource_options",
    "time_minutes",
    "duration_note",
    "export_lines",
    "passthrough_options",
    "chosen",
    "quote_argv",
]

#: what a ``slurm.<key>`` passthrough key must look like (a long sbatch option name).
PASSTHROUGH_KEY = re.compile(r"[a-z][a-z0-9-]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: sbatch options jobspec sets itself from the plan; passing them through would break the
#: bookkeeping (ids, output files, arrays), so they are refused with what to use instead.
RESERVED_OPTIONS = {
    "array": "replicas",
    "dependency": "depends_on",
    "output": "the run's log files (jobspec logs)",
    "error": "the run's log files (jobspec logs)",
    "chdir": "the cwd attribute",
    "parsable": "nothing (jobspec needs it)",
    "wrap": "command",
    "job-name": "the task or group name",
    "kill-on-invalid-dep": "nothing (jobspec needs it)",
}


def chosen(node: PlanNode, choices: Mapping[str, ResourceRequest] | None) -> ResourceRequest:
    """The resource request used for ``node``: the one chosen when rendering (by id, see
    :func:`jobspec_slurm.render.alternative_choices`), else the preferred (first) one."""
    return (choices or {}).get(node.id) or node.resources.preferred


def resource_options(request: ResourceRequest) -> list[str]:
    """``--nodes/--ntasks/--cpus-per-task/--gpus-per-task/--mem-per-cpu/--exclusive`` for a
    request: one Slurm task per slot, ``cores_per_slot`` CPUs each."""
    options = []
    if request.nodes:
        options.append(f"--nodes={request.nodes}")
    options.append(f"--ntasks={request.slots}")
    options.append(f"--cpus-per-task={request.cores_per_slot}")
    if request.gpus_per_slot:
        options.append(f"--gpus-per-task={request.gpus_per_slot}")
    if request.memory_per_slot:
        per_cpu = math.ceil(request.memory_per_slot / max(request.cores_per_slot, 1))
        options.append(f"--mem-per-cpu={per_cpu}M")
    if request.exclusive:
        options.append("--exclusive")
    return options


def time_minutes(seconds: int) -> int:
    """Slurm's ``--time`` counts minutes: whole minutes, rounded up (never shorter)."""
    return max(1, math.ceil(seconds / 60))


def duration_note(node: PlanNode) -> str | None:
    """A note when ``--time`` cannot say the duration exactly (seconds lost to minutes)."""
    seconds = node.attributes.duration
    if seconds is None or seconds % 60 == 0:
        return None
    return (
        f"{node.id}: duration {seconds}s is not whole minutes; Slurm's --time counts minutes, "
        f"so --time={time_minutes(seconds)} (rounded up) and the exact {seconds}s limit is "
        "enforced inside the job by timeout(1)"
    )


def export_lines(environment: Mapping[str, str], node: PlanNode, indent: str = "") -> list[str]:
    """``export NAME=value`` lines, each value quoted with :func:`shlex.quote` (spaces,
    quotes, newlines, ``$`` survive byte for byte)."""
    lines = []
    for name, value in environment.items():
        if not _ENV_NAME.fullmatch(name):
            raise InvalidJobspec(
                [
                    _problem(
                        node,
                        f"attributes.environment.{name}",
                        f"environment name {name!r} is not a shell variable name "
                        "(expected letters, digits and _, not starting with a digit)",
                    )
                ]
            )
        lines.append(f"{indent}export {name}={shlex.quote(str(value))}")
    return lines


def _problem(node: PlanNode, suffix: str, message: str) -> Problem:
    src = node.source
    path = f"{src.path}.{suffix}" if src.path else suffix
    return Problem(message, path, src.file, src.line, src.column, code="slurm-passthrough")


def _option_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def passthrough_options(node: PlanNode) -> list[str]:
    """``slurm.<key>: value`` attributes as ``--key=value`` (quoted for a ``#SBATCH`` line);
    ``true`` gives the bare flag, ``false`` omits it. Raises :class:`InvalidJobspec` for a
    key that is not an option name, an option jobspec sets itself, or a multi-line value."""
    options = []
    problems = []
    for key, value in node.attributes.passthrough.get("slurm", {}).items():
        where = f"attributes.slurm.{key}"
        if not PASSTHROUGH_KEY.fullmatch(str(key)):
            problems.append(
                _problem(
                    node,
                    where,
                    f"slurm.{key} is not an sbatch option name "
                    "(expected lower-case letters, digits and '-', like "
                    "slurm.partition)",
                )
            )
            continue
        if key in RESERVED_OPTIONS:
            problems.append(
                _problem(
                    node,
                    where,
                    f"slurm.{key} is set by jobspec; use {RESERVED_OPTIONS[key]} instead",
                )
            )
            continue
        if value is None or isinstance(value, dict | list):
            problems.append(
                _problem(node, where, f"slurm.{key} must be a scalar, got {type(value).__name__}")
            )
            continue
        if value is True:
            options.append(f"--{key}")
            continue
        if value is False:
            continue
        text = _option_value(value)
        if "\n" in text or "\r" in text or "\x00" in text:
            problems.append(_problem(node, where, f"slurm.{key} must be one line, got {text!r}"))
            continue
        options.append(f"--{key}={shlex.quote(text)}")
    if problems:
        raise InvalidJobspec(problems)
    return options


def quote_argv(argv: list[str]) -> str:
    """An argv list as one shell line, every word quoted."""
    return shlex.join(argv)


def task_limit(task: PlanTask) -> int:
    """The exact time limit in seconds enforced by the job script (0: none)."""
    return task.attributes.duration or 0
