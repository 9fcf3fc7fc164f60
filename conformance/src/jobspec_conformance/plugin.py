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

from .settings import CASE_SUFFIX, SETTINGS_KEY, Settings, settings_of

# Only pytest and the small settings module are imported here: this module is loaded by
# every pytest session where the package is installed, and must cost nothing there. The
# suite itself (jobspec_core, jsonschema, the case machinery) loads with --transformer.

__all__ = ["pytest_addoption", "pytest_configure", "pytest_collect_file"]


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
    from jobspec_core.errors import JobspecError
    from jobspec_core.plugins import get_registry

    from .cases import shipped_cases_dir
    from .items import REQUIRED_MARKER
    from .session import ConformanceSession

    try:
        transformer = get_registry().transformer(name)
    except JobspecError as exc:
        raise pytest.UsageError(f"--transformer: {exc}") from None
    golden = config.getoption("conformance_golden")
    if config.getoption("conformance_update_golden") and not golden:
        raise pytest.UsageError("--conformance-update-golden needs --conformance-golden DIR")
    if golden and config.getoption("conformance_mode") != "render":
        raise pytest.UsageError(
            "--conformance-golden compares rendered files: add --conformance-mode render"
        )
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
    from .items import CaseFile

    return CaseFile.from_parent(parent, path=file_path)
