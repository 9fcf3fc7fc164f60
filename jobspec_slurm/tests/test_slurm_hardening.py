"""Issue 11 on a real Slurm cluster: values sbatch must read back exactly, requests no node
can ever run, and interrupted submissions. Real slurmctld + slurmd (``slurm_cluster``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
