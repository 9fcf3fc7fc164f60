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
