"""The suite's settings for one pytest session, kept in ``config.stash``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from jobspec_core.transformer import Transformer

__all__ = ["CASE_SUFFIX", "Settings", "SETTINGS_KEY", "settings_of", "CaseResult"]

#: The suffix that marks a file as a conformance case.
CASE_SUFFIX = ".jobspec-test.yaml"


@dataclass
class CaseResult:
    """The outcome of one case, for the report."""

    id: str
    description: str
    file: str
    required: bool
    features: list[str]
    outcome: str  #: passed | failed | skipped
    reason: str = ""
    duration: float = 0.0


@dataclass
class Settings:
    """What ``--transformer`` and the ``--conformance-*`` options asked for."""

    transformer_name: str
    transformer: Transformer
    mode: str
    timeout: float
    duration_slack: float
    report: Path | None = None
    case_dirs: list[Path] = field(default_factory=list)
    golden: Path | None = None
    update_golden: bool = False
    options: dict[str, str] = field(default_factory=dict)
    results: dict[str, CaseResult] = field(default_factory=dict)
    broken: list[dict[str, str]] = field(default_factory=list)
    seen_ids: dict[str, str] = field(default_factory=dict)


SETTINGS_KEY = pytest.StashKey[Settings]()


def settings_of(config: pytest.Config) -> Settings | None:
    """The session's settings, or ``None`` when ``--transformer`` was not given."""
    return config.stash.get(SETTINGS_KEY, None)
