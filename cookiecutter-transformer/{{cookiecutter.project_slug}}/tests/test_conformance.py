"""The conformance suite against this transformer: the certificate a site runs.

Each test runs ``pytest --transformer {{ cookiecutter.transformer_name }}`` in a fresh empty directory, exactly as
a site engineer types it (the suite's cases come from the installed jobspec-conformance
plugin), and keeps the report (JSON and a Markdown table) next to the test's temporary
directory. Render mode needs no scheduler. Run mode really submits, through whatever
plugin.py points at: the stand-in scheduler on this machine until you switch it to
``native`` (then run it where the scheduler is reachable).
"""

import os
import subprocess
import sys

import pytest

NAME = "{{ cookiecutter.transformer_name }}"

pytest.importorskip("jobspec_conformance", reason="pip install -e '.[test]' installs it")


def conformance(mode: str, tmp_path) -> subprocess.CompletedProcess:
    report = tmp_path / f"conformance-{mode}.json"
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "--transformer",
        NAME,
        "--conformance-mode",
        mode,
        "--conformance-report",
        str(report),
    ]
    done = subprocess.run(
        argv,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    print(done.stdout[-20000:], done.stderr[-5000:])
    return done


def test_render_mode_passes_every_case_for_the_declared_capabilities(tmp_path):
    done = conformance("render", tmp_path)
    assert done.returncode == 0, "conformance (render mode) failed: see the output above"
    assert " passed" in done.stdout


@pytest.mark.slow
def test_run_mode_passes_every_case_for_the_declared_capabilities(tmp_path):
    done = conformance("run", tmp_path)
    assert done.returncode == 0, "conformance (run mode) failed: see the output above"
    assert " passed" in done.stdout
