"""Helpers shared by the local backend's tests (imported by name: pytest puts this
folder on sys.path)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from jobspec_core.runner import RunStatus

__all__ = ["by_key", "jobspec_cmd", "cli_env"]


def by_key(status: RunStatus) -> dict[tuple[str, int], object]:
    return {t.key: t for t in status.tasks}


def jobspec_cmd(*args: str) -> list[str]:
    """The ``jobspec`` CLI as a subprocess argv (the installed package, this Python)."""
    return [sys.executable, "-m", "jobspec_core", *args]


def cli_env(store: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("JOBSPEC_TRANSFORMER", None)
    env["JOBSPEC_STORE"] = str(store)
    env.update(extra)
    return env
