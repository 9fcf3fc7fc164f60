"""``pytest --transformer local`` from an installed (non-editable) copy of the plugin, run in
an empty directory: the cases come from the installed package data, and every required
case passes. Takes about half a minute (the whole run-mode suite on the local backend)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CONFORMANCE = Path(__file__).resolve().parents[1]


def test_installed_copy_in_an_empty_directory_passes_every_required_case(tmp_path):
    target = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(CONFORMANCE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    shipped = sorted((target / "jobspec_conformance" / "cases").glob("*.jobspec-test.yaml"))
    assert len(shipped) >= 45
    assert (target / "jobspec_conformance" / "case.schema.json").is_file()

    empty = tmp_path / "empty"
    empty.mkdir()
    report = tmp_path / "report.json"
    env = dict(os.environ, PYTHONPATH=str(target), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "jobspec_conformance.plugin",
            "--transformer",
            "local",
            "--rootdir",
            str(empty),
            "-p",
            "no:cacheprovider",
            "--conformance-report",
            str(report),
            "-q",
        ],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    data = json.loads(report.read_text())
    files = {Path(c["file"]).parent for c in data["cases"]}
    assert files == {target / "jobspec_conformance" / "cases"}  # the installed copy's cases
    required = [c for c in data["cases"] if c["required"]]
    assert required and all(c["outcome"] == "passed" for c in required)
    assert data["summary"]["failed"] == 0
    assert list(empty.iterdir()) == []  # nothing left behind in the directory it ran in
