"""jobspec-core: the JobSpec v1 language, the normalized plan, the plugin hooks and the CLI.

Plugins write ``from jobspec_core import hookimpl``.
"""

from __future__ import annotations

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


def __getattr__(name: str) -> str:
    # __version__ is computed on first use: importlib.metadata costs ~10 ms at start-up,
    # which every `jobspec` command would otherwise pay.
    if name == "__version__":
        from importlib import metadata

        try:
            version = metadata.version("jobspec-core")
        except metadata.PackageNotFoundError:  # running from a source tree
            version = "0.0.0"
        globals()["__version__"] = version
        return version
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
