"""The per-session collector of outcomes: prints the feature table, writes the report.

Registered by :func:`jobspec_conformance.plugin.pytest_configure` only when
``--transformer`` is given.
"""

from __future__ import annotations

import pytest

from . import report as reporting
from .items import MODE_SKIP, CaseItem
from .settings import CASE_SUFFIX, CaseResult, Settings

__all__ = ["ConformanceSession"]


class ConformanceSession:
    """Collects outcomes, prints the table, writes the report (one per session)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.items: dict[str, CaseItem] = {}

    def pytest_itemcollected(self, item: pytest.Item) -> None:
        if isinstance(item, CaseItem):
            self.items[item.nodeid] = item

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and report.nodeid.endswith(CASE_SUFFIX):
            self.settings.broken.append({"file": report.nodeid, "message": str(report.longrepr)})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        item = self.items.get(report.nodeid)
        if item is None:
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            outcome = report.outcome
            reason = ""
            if report.skipped and isinstance(report.longrepr, tuple):
                reason = str(report.longrepr[2]).removeprefix("Skipped: ")
                if reason.startswith(MODE_SKIP):
                    outcome = "not applicable"
            elif report.failed:
                reason = _first_mismatch(str(report.longrepr))
            case = item.case
            self.settings.results[case.id] = CaseResult(
                id=case.id,
                description=case.description,
                file=str(case.path),
                required=case.required,
                features=list(case.features),
                outcome=outcome,
                reason=reason,
                duration=round(report.duration, 3),
            )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.settings.report is not None:
            reporting.write(reporting.build_report(self.settings), self.settings.report)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        data = reporting.build_report(self.settings)
        terminalreporter.section(
            f"jobspec conformance: {self.settings.transformer_name} ({self.settings.mode} mode)"
        )
        terminalreporter.write_line(reporting.terminal_table(data))
        if self.settings.report is not None:
            json_path = self.settings.report
            if json_path.suffix == ".md":
                json_path = json_path.with_suffix(".json")
            terminalreporter.write_line(
                f"report written to {json_path} and {json_path.with_suffix('.md')}"
            )


def _first_mismatch(text: str) -> str:
    """The first expected/seen pair of a failure text, on one line, for the report."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("- ") and i + 2 < len(lines):
            return " ".join(part.strip() for part in lines[i : i + 3])
    return lines[0] if lines else ""
