"""Issue 11 on a real Slurm cluster: values sbatch must read back exactly, requests no node
can ever run, and interrupted submissions. Real slurmctld + slurmd (``slurm_cluster``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm_cluster")]


def jobspec(*args: str, cwd: Path, store: Path, timeout: float = 180):
    env = {**os.environ, "JOBSPEC_STORE": str(store)}
    return subprocess.run(
        [sys.executable, "-m", "jobspec_core", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_percent_in_the_store_path_and_backslash_in_comment(tmp_path, slurm_cluster):
    store = tmp_path / "50%j store" / "runs.sqlite"
    job = tmp_path / "job.yaml"
    job.write_text(
        "version: 1\n"
        "tasks:\n"
        "- name: hello\n"
        "  replicas: 2\n"
        '  command: ["sh", "-c", "echo hello $JOBSPEC_TASK_INDEX"]\n'
        "  attributes:\n"
        "    slurm.comment: 'a\\b \"c\" #d'\n"
        "    slurm.hold: false\n"
    )
    result = jobspec("run", "-t", "slurm", "--json", str(job), cwd=tmp_path, store=store)
    assert result.returncode == 0, result.stdout + result.stderr
    status = json.loads(result.stdout)
    assert {t["state"] for t in status["tasks"]} == {"completed"}
    for t in status["tasks"]:
        assert "%" in t["log"] and Path(t["log"]).read_text() == f"hello {t['index']}\n"
    job_id = status["tasks"][0]["native_id"].split("_")[0]
    shown = slurm_cluster.run(["scontrol", "show", "job", job_id])
    if shown.returncode == 0 and "Comment=" in shown.stdout:
        assert 'Comment=a\\b "c" #d' in shown.stdout, shown.stdout
    else:  # already purged from the controller: the script says what sbatch was given
        script = next((store.parent / "runs").glob("*/slurm/hello.sh")).read_text()
        assert '#SBATCH --comment="a\\\\b \\"c\\" #d"' in script


UNRUNNABLE = """
version: 1
tasks:
- name: wide
  command: ["true"]
  resources: {type: slot, count: 1, with: [{type: core, count: 64}]}
- name: many-nodes
  command: ["true"]
  resources:
    type: node
    count: 5
    with: [{type: slot, count: 1, with: [{type: core, count: 1}]}]
- name: fine
  command: ["true"]
"""


def test_a_request_no_node_can_ever_run_fails_with_the_schedulers_reason(tmp_path, slurm_cluster):
    """Done means 4: 64 cores on an 8-core node, 5 nodes on a 1-node cluster."""
    job = tmp_path / "job.yaml"
    job.write_text(UNRUNNABLE)
    t0 = time.monotonic()
    result = jobspec(
        "run",
        "-t",
        "slurm",
        "--json",
        str(job),
        cwd=tmp_path,
        store=tmp_path / "s.sqlite",
        timeout=120,
    )
    elapsed = time.monotonic() - t0
    assert "Traceback" not in result.stderr
    assert result.returncode in (1, 2), result.stdout + result.stderr
    assert elapsed < 60, f"took {elapsed:.0f}s"
    if result.returncode == 2:  # refused before anything was submitted
        assert "wide" in result.stderr and "many-nodes" in result.stderr
        return
    tasks = {t["task_id"]: t for t in json.loads(result.stdout)["tasks"]}
    assert tasks["fine"]["state"] == "completed"
    for name in ("wide", "many-nodes"):  # Slurm's reason: PartitionConfig or ...NodeLimit
        assert tasks[name]["state"] == "failed", tasks[name]
        reason = tasks[name]["reason"]
        assert "never" in reason and ("PartitionConfig" in reason or "NodeLimit" in reason)
    ids = [tasks[n]["native_id"] for n in ("wide", "many-nodes")]
    queue = slurm_cluster.run(["squeue", "-h", "-j", ",".join(ids), "-t", "PD,R", "-o", "%i"])
    assert queue.stdout.strip() == "", queue.stdout


def _left(marks: list[str]) -> list[str]:
    out = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True).stdout
    return [
        line
        for line in out.splitlines()
        if not line.lstrip().startswith("Z") and any(m in line for m in marks)
    ]


def _until(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


ESCAPER = "setsid sleep {a} & (setsid sleep {b} &); touch {name}.ready; sleep {c}"


@pytest.mark.parametrize("how", ["cancel", "duration"])
def test_nothing_a_job_starts_outlives_its_cancel_or_duration(tmp_path, slurm_cluster, how):
    if slurm_cluster.proctrack != "cgroup":
        pytest.skip(
            f"the test cluster tracks processes by parent id here: {slurm_cluster.proctrack_note}"
        )
    base = 4600 if how == "cancel" else 4700
    marks = [f"sleep {base + i}" for i in (1, 2, 3)]
    limit = "\n  attributes: {duration: 4}" if how == "duration" else ""
    job = tmp_path / "job.yaml"
    job.write_text(
        "version: 1\ntasks:\n- name: escaper\n"
        f'  command: "{ESCAPER.format(a=base + 1, b=base + 2, c=base + 3, name="escaper")}"'
        f"{limit}\n"
    )
    store = tmp_path / "s.sqlite"
    detached = jobspec("run", "-t", "slurm", "--detach", str(job), cwd=tmp_path, store=store)
    assert detached.returncode == 0, detached.stderr
    run_id = detached.stdout.strip()
    _until(lambda: (tmp_path / "escaper.ready").exists() and len(_left(marks)) >= 3)
    if how == "cancel":
        cancelled = jobspec("cancel", run_id, cwd=tmp_path, store=store)
        assert cancelled.returncode == 0, cancelled.stderr
        expected = "cancelled"
    else:
        waited = jobspec("wait", run_id, cwd=tmp_path, store=store)
        assert waited.returncode == 1, waited.stdout + waited.stderr
        expected = "timeout"
    _until(lambda: not _left(marks), 30, f"no process left, still: {_left(marks)}")
    status = json.loads(jobspec("status", "--json", run_id, cwd=tmp_path, store=store).stdout)
    assert status["tasks"][0]["state"] == expected, status["tasks"][0]


def test_kill_9_of_jobspec_run_during_submission_leaves_no_job_and_a_true_record(
    tmp_path, slurm_cluster
):
    """40 jobs, one sbatch each; jobspec run killed part-way through submitting them."""
    job = tmp_path / "job.yaml"
    job.write_text(
        "version: 1\ntasks:\n"
        + "".join(f'- {{name: hr-int-{i}, command: ["sleep", "300"]}}\n' for i in range(40))
    )
    store = tmp_path / "s.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobspec_core", "run", "-t", "slurm", str(job)],
        cwd=tmp_path,
        env={**os.environ, "JOBSPEC_STORE": str(store)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def ours() -> list[str]:
        out = slurm_cluster.run(["squeue", "-h", "-t", "PD,R,CG", "-o", "%i|%j"]).stdout
        return [line for line in out.split() if "|hr-int-" in line]

    _until(lambda: len(ours()) >= 5, 120, "five jobs submitted")
    proc.kill()
    proc.wait(timeout=30)
    submitted = len(ours())
    assert 0 < submitted, "nothing was submitted before the kill"
    status = jobspec("status", "--json", cwd=tmp_path, store=store)
    assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr
    data = json.loads(status.stdout)
    assert data["run"]["state"] == "failed" and "during submission" in data["run"]["error"]
    states = {t["task_id"]: t for t in data["tasks"]}
    assert {t["state"] for t in states.values()} == {"cancelled"}, states
    with_job = [t for t in states.values() if t["native_id"]]
    # every job sbatch accepted is recorded, but the one (at most) it was accepting as it
    # was killed, which the cancel finds by its script's path (cancel_unrecorded)
    assert len(with_job) >= submitted - 1
    assert all("cancelled with the rest" in t["reason"] for t in with_job)
    never = [t for t in states.values() if not t["native_id"]]
    assert all("not submitted" in t["reason"] for t in never)
    _until(lambda: not ours(), 30, "every job of the run gone from the queue")
    again = jobspec("cancel", data["run"]["run_id"], cwd=tmp_path, store=store)
    assert again.returncode == 0 and "Traceback" not in again.stderr
