"""Reading a conformance run's outcomes, for the plugin's own tests.

A module with a name of its own (not ``conftest``): several test folders of the workspace
have a conftest.py, and ``from conftest import ...`` would pick whichever comes first on
sys.path.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

__all__ = ["outcomes_by_case", "failed_ids"]


def outcomes_by_case(report_path: Path) -> dict[str, str]:
    """case id -> outcome, from a --conformance-report JSON file."""
    data = json.loads(report_path.read_text(encoding="utf-8"))
    return {c["id"]: c["outcome"] for c in data["cases"]}


def failed_ids(output: str) -> set[str]:
    """Case ids listed as FAILED in pytest's short summary."""
    return set(re.findall(r"^FAILED \S*::(\S+)", output, flags=re.M))
