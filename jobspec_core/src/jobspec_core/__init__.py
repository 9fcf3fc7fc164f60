"""jobspec-core: the JobSpec v1 language, the normalized plan, the plugin hooks and the CLI.

Plugins write ``from jobspec_core import hookimpl``.
"""

from __future__ import annotations

from importlib import metadata

from .errors import InvalidJobspec, JobspecError, Problem
from .hookspecs import hookimpl
from .plan import Plan, PlanGroup, PlanTask
from .transformer import (
    RenderedFile,
    RunContext,
    Submission,
    SubmissionUnit,
    TaskHandle,
    TaskState,
    TaskStatus,
    Transformer,
)

try:
    __version__ = metadata.version("jobspec-core")
except metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "__version__",
    "hookimpl",
    "InvalidJobspec",
    "JobspecError",
    "Problem",
    "Plan",
    "PlanGroup",
    "PlanTask",
    "RenderedFile",
    "RunContext",
    "Submission",
    "SubmissionUnit",
    "TaskHandle",
    "TaskState",
    "TaskStatus",
    "Transformer",
]
