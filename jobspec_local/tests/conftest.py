"""Fixtures for the local backend's tests: a private run store, a registry with only the
built-in steps and the local transformer, and helpers that build plans from YAML text."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from jobspec_core.plugins import Registry
from jobspec_core.runner import Runner, RunStatus
from jobspec_core.store import RunStore

from jobspec_core import api, builtin_steps
from jobspec_local import plugin

#: generous: the machine running the tests is shared and loaded.
WAIT = 120.0


@pytest.fixture
def registry() -> Registry:
    return Registry.from_modules([("core_steps", builtin_steps), ("local", plugin)])


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "runs.sqlite"


@pytest.fixture
def runner(store_path: Path, registry: Registry) -> Runner:
    return Runner(RunStore(store_path), registry)


@pytest.fixture
def make_plan(tmp_path: Path, registry: Registry):
    """``make_plan(yaml_text)`` -> a Plan (the text is dedented; its file is job.yaml)."""

    def make(text: str, name: str = "job.yaml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return api.plan(api.load_text(path.read_text(), str(path)), registry)

    return make


@pytest.fixture
def run_plan(runner: Runner, tmp_path: Path):
    """``run_plan(plan, cores=8, **options)`` -> the final RunStatus (submitted from tmp_path)."""

    def run(plan, cores: int | None = 8, timeout: float = WAIT, **options) -> RunStatus:
        opts = {k: str(v) for k, v in options.items()}
        if cores is not None:
            opts["cores"] = str(cores)
        run_id = runner.submit(plan, "local", workdir=tmp_path, options=opts)
        status = runner.wait(run_id, timeout=timeout)
        assert status.finished, f"run did not finish within {timeout}s: {status.counts()}"
        return status

    return run
