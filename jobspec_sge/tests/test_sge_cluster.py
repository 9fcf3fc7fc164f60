"""Real-Grid-Engine tests of jobspec_sge.testing.cluster (skipped unless installed + root)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jobspec_core.testing.daemons import pid_alive
from jobspec_sge.testing.cluster import CELL, LocalSGECluster, is_available, main

AVAILABLE, REASON = is_available()
pytestmark = [
    pytest.mark.sge,
    pytest.mark.skipif(not AVAILABLE, reason=f"no local Grid Engine: {REASON}"),
]


def qsub(cluster: LocalSGECluster, work: Path, *args: str) -> str:
    r = cluster.run(["qsub", "-terse", "-o", str(work), "-j", "y", *args], timeout=30, cwd=work)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().split(".")[0]


def accounted(cluster: LocalSGECluster, job_id: str, timeout: float = 30.0) -> dict[str, str]:
    """qacct -j's first record of ``job_id`` as {field: first word}, waiting for it."""
    deadline = time.monotonic() + timeout
    while True:
        r = cluster.run(["qacct", "-j", job_id], timeout=15)
        if r.returncode == 0:
            return {m[0]: m[1] for m in re.findall(r"^(\w+)\s+(\S*)", r.stdout, re.M)}
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} not accounted after {timeout}s: {r.stderr}")
        time.sleep(0.3)


def test_start_run_stop(sge_cluster: LocalSGECluster, tmp_path: Path) -> None:
    c = sge_cluster
    assert c.is_up()
    assert c.queue_state() == ""
    env = c.env
    assert env["SGE_ROOT"] == str(c.state_dir / "root") and env["SGE_CELL"] == CELL
    assert {env["SGE_QMASTER_PORT"], env["SGE_EXECD_PORT"]} <= {str(p) for p in range(1024, 65536)}
    assert env["SGE_QMASTER_PORT"] != env["SGE_EXECD_PORT"]
    # Everything lives in the private root: the package's cell is not used.
    bootstrap = (c.common_dir / "bootstrap").read_text()
    assert f"qmaster_spool_dir       {c.spool_dir / 'qmaster'}" in bootstrap
    conf = c.run(["qconf", "-sconf"]).stdout
    assert re.search(r"^min_uid\s+0$", conf, re.M) and re.search(r"^min_gid\s+0$", conf, re.M)
    assert re.search(r"^execd_spool_dir\s+" + re.escape(str(c.spool_dir / "execd")), conf, re.M)
    assert "schedule_interval                 0:0:1" in c.run(["qconf", "-ssconf"]).stdout
    assert re.search(r"^allocation_rule\s+\$pe_slots$", c.run(["qconf", "-sp", "smp"]).stdout, re.M)

    # A root job runs (min_uid 0) with the PE's cores, and qacct learns of it within seconds.
    work = tmp_path / "w"
    work.mkdir()
    script = work / "job.sh"
    script.write_text('#!/bin/bash\necho "slots=$NSLOTS task=$SGE_TASK_ID"\nexit 3\n')
    job = qsub(c, work, "-N", "probe", "-pe", "smp", "2", str(script))
    rec = accounted(c, job)
    assert rec["exit_status"] == "3" and rec["failed"] == "0" and rec["slots"] == "2"
    assert "slots=2 task=undefined" in (work / f"probe.o{job}").read_text()


def test_sync_submit_bounded(sge_cluster: LocalSGECluster, tmp_path: Path) -> None:
    """qsub -sync y returns the job's exit status (a hang would hit the timeout)."""
    script = tmp_path / "four.sh"
    script.write_text("#!/bin/sh\nexit 4\n")
    r = sge_cluster.run(
        ["qsub", "-sync", "y", "-o", "/dev/null", "-j", "y", str(script)],
        timeout=60,
        cwd=tmp_path,
    )
    assert r.returncode == 4, (r.stdout, r.stderr)


def test_array_hold_and_h_rt(sge_cluster: LocalSGECluster, tmp_path: Path) -> None:
    c = sge_cluster
    work = tmp_path
    script = work / "arr.sh"
    script.write_text("#!/bin/sh\nexit $SGE_TASK_ID\n")
    arr = qsub(c, work, "-N", "arr", "-t", "1-3", str(script))
    after = qsub(c, work, "-N", "after", "-hold_jid", arr, "-b", "y", "/bin/true")
    limit = qsub(c, work, "-N", "limit", "-l", "h_rt=1", "-b", "y", "/bin/sleep", "30")
    rec = accounted(c, after)
    assert rec["exit_status"] == "0"
    # -hold_jid is after-any: the dependent ran although every task failed.
    out = c.run(["qacct", "-j", arr]).stdout
    assert sorted(re.findall(r"^exit_status\s+(\d+)", out, re.M)) == ["1", "2", "3"]
    rec = accounted(c, limit)
    assert rec["failed"] == "37" and rec["exit_status"] == "137"


def test_stop_controller_keeps_jobs(sge_cluster: LocalSGECluster, tmp_path: Path) -> None:
    c = sge_cluster
    job = qsub(c, tmp_path, "-N", "survivor", "-b", "y", "/bin/sleep", "3")
    c.stop_controller()
    assert c.run(["qstat"], timeout=30).returncode != 0
    c.start_controller()
    assert accounted(c, job, timeout=60)["exit_status"] == "0"


def test_cli_and_private_cluster(tmp_path: Path) -> None:
    """A second cluster beside the session's: its own ports; stop ends only its daemons."""
    d = tmp_path / "cli"
    cmd = [sys.executable, "-m", "jobspec_sge.testing.cluster"]
    r = subprocess.run(
        [*cmd, "start", "--dir", str(d)], capture_output=True, text=True, timeout=120
    )
    try:
        assert r.returncode == 0, r.stderr
        exports = dict(re.findall(r"^export (\w+)=(\S+)$", r.stdout, re.M))
        assert exports["SGE_ROOT"] == str(d.resolve() / "root")
        other = LocalSGECluster(d)
        pids = [other._our_pid(n) for n in ("sge_qmaster", "sge_execd")]
        assert all(pids)
        env_out = subprocess.run([*cmd, "env", "--dir", str(d)], capture_output=True, text=True)
        assert dict(re.findall(r"^export (\w+)=(\S+)$", env_out.stdout, re.M)) == exports
        st = subprocess.run([*cmd, "status", "--dir", str(d)], capture_output=True, text=True)
        assert st.returncode == 0 and st.stdout.startswith("up:")
    finally:
        subprocess.run([*cmd, "stop", "--dir", str(d)], capture_output=True, timeout=120)
    assert not any(p and pid_alive(p) for p in pids)
    st = subprocess.run([*cmd, "status", "--dir", str(d)], capture_output=True, text=True)
    assert st.returncode == 3 and st.stdout.startswith("down:")


def test_session_cluster_unaffected(sge_cluster: LocalSGECluster) -> None:
    """Runs after the CLI test in file order: the session's cluster still answers."""
    assert sge_cluster.is_up()
    assert os.environ["SGE_ROOT"] == sge_cluster.env["SGE_ROOT"]


def test_status_of_never_started_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--dir", str(tmp_path / "none")]) == 3
    assert capsys.readouterr().out.startswith("down:")
