"""The pytest plugin: ``pytest --transformer NAME`` runs the JobSpec conformance suite.

Registered through the ``pytest11`` entry point, so it is loaded by every pytest run where
``jobspec-conformance`` is installed; without ``--transformer`` it does nothing at all
(no collection, no report), so it never disturbs other projects' test runs.

With ``--transformer NAME``:

* the cases shipped in this package are collected, whatever paths were given (with no
  path, only the conformance cases are collected); ``--conformance-cases DIR`` adds
  site-local case folders, and case files given as paths are collected too;
* each case is one test, named by its id; it runs in ``--conformance-mode`` (``run``:
  really submitted and waited for through :class:`jobspec_core.runner.Runner`; ``render``:
  rendered only, no scheduler needed);
* the terminal summary shows a feature x outcome table, and ``--conformance-report PATH``
  writes it as JSON (PATH) and Markdown (PATH with a ``.md`` suffix).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from jobspec_core.errors import JobspecError
from jobspec_core.plugins import get_registry

from . import report as reporting
from .cases import CASE_SUFFIX, shipped_cases_dir
from .items import MODE_SKIP, REQUIRED_MARKER, CaseFile, CaseItem
from .settings import SETTINGS_KEY, CaseResult, Settings, settings_of

__all__ = [
    "pytest_addoption",
    "pytest_configure",
    "pytest_collect_file",
    "ConformanceSession",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("jobspec-conformance", "JobSpec conformance suite")
    group.addoption(
        "--transformer",
        metavar="NAME",
        default=None,
        help="run the JobSpec conformance suite against the transformer NAME "
        "(without this option the suite does nothing)",
    )
    group.addoption(
        "--conformance-mode",
        choices=("run", "render"),
        default="run",
        help="run: submit each case and check what its tasks did (default); "
        "render: only render each case (no scheduler needed)",
    )
    group.addoption(
        "--conformance-report",
        metavar="PATH",
        default=None,
        help="write the feature x outcome report as JSON to PATH and as Markdown to PATH.md",
    )
    group.addoption(
        "--conformance-cases",
        metavar="DIR",
        action="append",
        default=[],
        help="a folder of site-local *.jobspec-test.yaml cases, run with the shipped ones "
        "(repeatable)",
    )
    group.addoption(
        "--conformance-option",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="a transformer option handed to every run and rendering, as jobspec run -o "
        "would (repeatable; e.g. partition=debug)",
    )
    group.addoption(
        "--conformance-timeout",
        metavar="SECONDS",
        type=float,
        default=60.0,
        help="how long to wait for one case's run before cancelling it (default 60)",
    )
    group.addoption(
        "--conformance-duration-slack",
        metavar="SECONDS",
        type=float,
        default=5.0,
        help="tolerance added to a case's max_seconds, e.g. for schedulers that round time "
        "limits up to minutes (default 5)",
    )
    group.addoption(
        "--conformance-golden",
        metavar="DIR",
        default=None,
        help="render mode: compare each case's rendered files with DIR/<case-id>/<file>",
    )
    group.addoption(
        "--conformance-update-golden",
        action="store_true",
        default=False,
        help="render mode: write the rendered files into the --conformance-golden folder "
        "(review the diff before committing)",
    )


def pytest_configure(config: pytest.Config) -> None:
    name = config.getoption("transformer", None)
    if not name:
        return
    try:
        transformer = get_registry().transformer(name)
    except JobspecError as exc:
        raise pytest.UsageError(f"--transformer: {exc}") from None
    golden = config.getoption("conformance_golden")
    if config.getoption("conformance_update_golden") and not golden:
        raise pytest.UsageError("--conformance-update-golden needs --conformance-golden DIR")
    report = config.getoption("conformance_report")
    case_dirs = [Path(d).resolve() for d in config.getoption("conformance_cases")]
    for folder in case_dirs:
        if not folder.is_dir():
            raise pytest.UsageError(f"--conformance-cases: {folder} is not a folder")
    options = {}
    for item in config.getoption("conformance_option"):
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise pytest.UsageError(f"--conformance-option: expected KEY=VALUE, found {item!r}")
        options[key] = value
    settings = Settings(
        transformer_name=name,
        transformer=transformer,
        mode=config.getoption("conformance_mode"),
        timeout=config.getoption("conformance_timeout"),
        duration_slack=config.getoption("conformance_duration_slack"),
        report=Path(report).resolve() if report else None,
        case_dirs=case_dirs,
        golden=Path(golden).resolve() if golden else None,
        update_golden=config.getoption("conformance_update_golden"),
        options=options,
    )
    config.stash[SETTINGS_KEY] = settings
    config.addinivalue_line(
        "markers", f"{REQUIRED_MARKER}: a required JobSpec conformance case (portable basics)"
    )
    # The shipped cases are collected whatever the paths given; with none, only the cases.
    extra = [str(shipped_cases_dir()), *map(str, case_dirs)]
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        config.args.extend(p for p in extra if p not in config.args)
    else:
        config.args[:] = extra
    config.pluginmanager.register(ConformanceSession(settings), "jobspec-conformance-session")


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if settings_of(parent.config) is None or not file_path.name.endswith(CASE_SUFFIX):
        return None
    return CaseFile.from_parent(parent, path=file_path)


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
