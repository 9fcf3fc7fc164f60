"""``jobspec run -t slurm`` of every example, and ``status``/``wait``/``cancel`` of those runs
from other processes, on the real Slurm cluster started by the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from jobspec_core.alternatives import unrunnable
from jobspec_slurm.submit import ClusterShape

from jobspec_core import api

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm_cluster")]

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "spec" / "examples").glob("*.yaml"))


def jobspec(
    *args: str, cwd: Path, store: Path, timeout: float = 180
) -> subprocess.CompletedProcess:
    env = {**os.environ, "JOBSPEC_STORE": str(store)}
    return subprocess.run(
        [sys.executable, "-m", "jobspec_core", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _fits_cluster(path: Path) -> bool:
    capacity = ClusterShape.query({}).capacity()
    plan = api.load_plan(path)
    return all(unrunnable(node.resources, capacity) is None for node, _ in plan.walk())


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_end_to_end(example: Path, tmp_path: Path):
    result = jobspec(
        "run", "-t", "slurm", "--json", str(example), cwd=tmp_path, store=tmp_path / "store.sqlite"
    )
    assert "Traceback" not in result.stderr
    if not _fits_cluster(example):
        # e.g. 4 nodes with GPUs on a one-node cluster: refused by sbatch, clearly.
        assert result.returncode == 1, result.stdout + result.stderr
        assert "sbatch refused" in result.stderr
        return
    assert result.returncode == 0, result.stdout + result.stderr
    status = json.loads(result.stdout)
    states = {(t["task_id"], t["index"]): t["state"] for t in status["tasks"]}
    assert states and set(states.values()) == {"completed"}, states


def test_status_wait_cancel_of_a_cli_run_from_other_processes(tmp_path: Path):
    spec = tmp_path / "job.yaml"
    spec.write_text(
        "version: 1\n"
        "tasks:\n"
        "- name: long\n  command: [sleep, '300']\n"
        "- name: after\n  depends_on: [long]\n  command: [echo, never]\n"
    )
    store = tmp_path / "store.sqlite"
    started = jobspec("run", "-t", "slurm", "--detach", str(spec), cwd=tmp_path, store=store)
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip().split()[-1]

    status = jobspec("status", run_id, "--json", cwd=tmp_path, store=store)
    assert status.returncode == 0, status.stderr
    states = {t["task_id"]: t["state"] for t in json.loads(status.stdout)["tasks"]}
    assert states["long"] in ("pending", "running") and states["after"] == "pending"

    cancelled = jobspec("cancel", run_id, cwd=tmp_path, store=store)
    assert cancelled.returncode == 0, cancelled.stderr

    waited = jobspec("wait", run_id, "--json", cwd=tmp_path, store=store)
    assert waited.returncode == 1  # the run did not succeed
    states = {t["task_id"]: t["state"] for t in json.loads(waited.stdout)["tasks"]}
    assert states["long"] == "cancelled"
    assert states["after"] in ("cancelled", "never_run")


def test_wait_of_a_detached_run_from_another_process_succeeds(tmp_path: Path):
    example = next(p for p in EXAMPLES if p.name == "replicas.yaml")
    store = tmp_path / "store.sqlite"
    started = jobspec("run", "-t", "slurm", "--detach", str(example), cwd=tmp_path, store=store)
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip().split()[-1]
    waited = jobspec("wait", run_id, cwd=tmp_path, store=store)
    assert waited.returncode == 0, waited.stdout + waited.stderr
    logs = jobspec("logs", run_id, cwd=tmp_path, store=store)
    assert logs.returncode == 0 and "hello" in logs.stdout, logs.stdout + logs.stderr


def test_controller_down_status_is_a_clear_error_and_wait_carries_on(tmp_path, slurm_cluster):
    spec = tmp_path / "job.yaml"
    spec.write_text("version: 1\ntasks:\n- name: t\n  command: [sleep, '5']\n")
    store = tmp_path / "store.sqlite"
    started = jobspec("run", "-t", "slurm", "--detach", str(spec), cwd=tmp_path, store=store)
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip().split()[-1]
    slurm_cluster.stop_controller()
    try:
        status = jobspec("status", run_id, cwd=tmp_path, store=store)
        assert status.returncode == 1
        assert "Traceback" not in status.stderr
        assert "slurmctld" in status.stderr and os.environ["SLURM_CONF"] in status.stderr
        env = {**os.environ, "JOBSPEC_STORE": str(store)}
        waiter = subprocess.Popen(
            [sys.executable, "-m", "jobspec_core", "wait", run_id],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            waiter.wait(timeout=12)
            pytest.fail(f"wait returned while the controller was down: {waiter.communicate()}")
        except subprocess.TimeoutExpired:
            pass  # still waiting, as it should
    finally:
        slurm_cluster.start_controller()
    out, err = waiter.communicate(timeout=180)
    assert waiter.returncode == 0, out + err
    assert "Traceback" not in err
