"""Regression tests of the rules that drifted between backends (issue 10): the local
backend now calls the one rule in jobspec_core for each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jobspec_core.errors import JobspecError, StepError
from jobspec_core.transformer import RunContext, TaskState
from jobspec_local.transformer import LocalTransformer


def test_drift_tilde_cwd_is_the_submitting_users_home(make_plan, tmp_path):
    """Drift 2: ``cwd: ~/x`` is RunContext.home/x on every backend (here: local)."""
    plan = make_plan(
        """
        version: 1
        tasks:
        - {name: t, command: ["true"], attributes: {cwd: "~/x"}}
        """
    )
    home = tmp_path / "somehome"
    context = RunContext("R", tmp_path / "run", tmp_path, {"cores": "2"}, home=home)
    spec = json.loads(LocalTransformer().render(plan, context).files["local-plan.json"].content)
    assert spec["nodes"][0]["cwd"] == str(home / "x")


def test_drift_nested_sum_group_wider_than_the_machine_runs(make_plan, run_plan):
    """Drift 4: a nested group whose tasks have no resources and whose summed replicas
    exceed the machine runs with less parallelism instead of pending forever."""
    plan = make_plan(
        """
        version: 1
        groups:
        - name: outer
          tasks:
          - group: inner
          - {name: solo, command: ["true"]}
        - name: inner
          tasks:
          - {name: wide, replicas: 3, command: ["true"]}
          - {name: wider, replicas: 2, command: ["true"]}
        tasks:
        - group: outer
        """
    )
    status = run_plan(plan, cores=2, timeout=60)
    assert {t.state for t in status.tasks} == {TaskState.COMPLETED}
    assert len(status.tasks) == 6


def test_drift_nested_group_that_can_never_fit_is_refused_up_front(make_plan, runner, tmp_path):
    """Drift 4, the other half: what cannot fit even with the cap is refused with a reason
    before anything runs, never left pending."""
    plan = make_plan(
        """
        version: 1
        groups:
        - name: outer
          tasks:
          - group: inner
        - name: inner
          tasks:
          - name: big
            resources: {type: slot, count: 1, with: [{type: core, count: 3}]}
            command: ["touch", "ran"]
        tasks:
        - group: outer
        """
    )
    with pytest.raises(JobspecError) as info:
        runner.submit(plan, "local", workdir=tmp_path, options={"cores": "2"})
    assert "big" in str(info.value) and "3 cores" in str(info.value)
    assert info.value.exit_code == 2
    assert not (tmp_path / "ran").exists()


def test_drift_write_with_relative_cwd_lands_in_the_working_directory(
    make_plan, run_plan, tmp_path
):
    """Drift 1: the file of a write step lands in the task's working directory."""
    plan = make_plan(
        """
        version: 1
        tasks:
        - name: t
          attributes: {cwd: sub}
          steps: [{name: write, path: conf/a.txt, content: "hello"}]
          command: ["sh", "-c", "cat conf/a.txt > seen"]
        """
    )
    (tmp_path / "sub").mkdir()
    status = run_plan(plan)
    assert status.succeeded
    assert (tmp_path / "sub/seen").read_text() == "hello"
    assert not (tmp_path / "conf").exists()


def test_drift_write_through_a_planted_symlink_is_refused(make_plan, runner, tmp_path):
    """Drift 3: a symlink planted in the staging directory is never followed; the run fails
    at submission, before anything runs."""
    outside = tmp_path / "outside"
    outside.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    (work / "conf").symlink_to(outside)
    plan = make_plan(
        """
        version: 1
        tasks:
        - name: t
          steps: [{name: write, path: conf/a.txt, content: "x"}]
          command: ["touch", "ran"]
        """
    )
    with pytest.raises(StepError, match="symbolic link"):
        runner.submit(plan, "local", workdir=work, options={"cores": "2"})
    assert list(outside.iterdir()) == []
    assert not (work / "ran").exists()
    (run,) = runner.list_runs()
    assert run.state == "failed" and "symbolic link" in run.error
    assert not (Path(run.run_dir) / "supervisor.json").exists()
