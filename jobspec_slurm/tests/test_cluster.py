"""Real-Slurm tests of jobspec_slurm.testing.cluster (skipped unless Slurm is installed + root)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jobspec_slurm.testing.cluster import LocalSlurmCluster, cgroup_v1_freezer, is_available, main

AVAILABLE, REASON = is_available()
needs_slurm = pytest.mark.skipif(not AVAILABLE, reason=f"no local Slurm: {REASON}")

TERMINAL = {
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
}


def sbatch(cluster: LocalSlurmCluster, *args: str) -> str:
    r = cluster.run(["sbatch", "--parsable", *args])
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().split(";")[0]


def states(cluster: LocalSlurmCluster, job_id: str) -> dict[str, tuple[str, str]]:
    """{job or task id: (state, reason)} from one squeue call, finished jobs included."""
    r = cluster.run(["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%i|%T|%r"])
    assert r.returncode == 0, r.stderr
    rows = [line.split("|") for line in r.stdout.splitlines() if line.strip()]
    return {row[0]: (row[1], row[2]) for row in rows}


def wait_until(cluster: LocalSlurmCluster, job_id: str, pred, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        st = states(cluster, job_id)
        if st and pred(st):
            return st
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {st} after {timeout}s")
        time.sleep(0.2)


def wait_done(cluster: LocalSlurmCluster, job_id: str, timeout: float = 30.0):
    return wait_until(
        cluster, job_id, lambda st: all(s in TERMINAL for s, _ in st.values()), timeout
    )


def jobcomp_record(cluster: LocalSlurmCluster, job_id: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cluster.jobcomp_path.exists():
            for line in cluster.jobcomp_path.read_text().splitlines():
                fields = dict(re.findall(r"(\w+)=(\S*)", line))
                if fields.get("JobId") == job_id:
                    return fields
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} not in {cluster.jobcomp_path}")


def show_job(cluster: LocalSlurmCluster, job_id: str) -> dict[str, str]:
    r = cluster.run(["scontrol", "-o", "show", "job", job_id])
    assert r.returncode == 0, r.stderr
    return dict(re.findall(r"(\w+)=(\S*)", r.stdout.splitlines()[0]))


def test_conf_contents(tmp_path: Path) -> None:
    """Runs everywhere: the generated slurm.conf has the settings the tests rely on."""
    c = LocalSlurmCluster(tmp_path)
    text = c.write_conf().read_text()
    for needle in (
        "SlurmctldHost=localhost",
        "SlurmdParameters=config_overrides",
        "batch_sched_delay=0",
        "JobCompType=jobcomp/filetxt",
        f"NodeName={c.node_name} NodeHostname=localhost",
        f"Nodes={c.node_name} ",
        "PartitionName=debug",
        "MinJobAge=300",
    ):
        assert needle in text
    # cgroup process tracking wherever the machine allows it (issue 11 item 3)
    usable = cgroup_v1_freezer()[0] is not None
    assert f"ProctrackType=proctrack/{'cgroup' if usable else 'linuxproc'}" in text
    assert (tmp_path / "cgroup.conf").exists() is usable
    assert c.node_name != LocalSlurmCluster(tmp_path / "other").node_name  # own cgroups
    assert f"StateSaveLocation={tmp_path.resolve() / 'state'}" in text
    ports = {int(m) for m in re.findall(r"Slurm(?:ctld|d)Port=(\d+)", text)}
    assert len(ports) == 2
    assert c.env == {"SLURM_CONF": str(tmp_path.resolve() / "slurm.conf")}


def test_cli_env(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == f"export SLURM_CONF={tmp_path / 'slurm.conf'}"
    assert main(["status", "--dir", str(tmp_path)]) == 3  # nothing started there


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    if not AVAILABLE:
        pytest.skip(f"no local Slurm: {REASON}")
    c = LocalSlurmCluster(tmp_path_factory.mktemp("slurm"))
    t0 = time.monotonic()
    with c:
        print(f"cluster started in {time.monotonic() - t0:.2f}s")
        yield c
    assert not c.is_up()


@needs_slurm
def test_echo_job_completes(cluster: LocalSlurmCluster, tmp_path: Path) -> None:
    t0 = time.monotonic()
    job = sbatch(cluster, "-o", str(tmp_path / "%j.out"), "--wrap", "echo hi")
    st = wait_done(cluster, job)
    print(f"echo job done in {time.monotonic() - t0:.2f}s")
    assert st == {job: ("COMPLETED", "None")}
    assert (tmp_path / f"{job}.out").read_text() == "hi\n"
    assert show_job(cluster, job)["ExitCode"] == "0:0"
    rec = jobcomp_record(cluster, job)
    assert rec["JobState"] == "COMPLETED" and rec["ExitCode"] == "0:0"


@needs_slurm
def test_failing_job_records_exit_code(cluster: LocalSlurmCluster) -> None:
    job = sbatch(cluster, "-o", "/dev/null", "--wrap", "exit 3")
    assert wait_done(cluster, job) == {job: ("FAILED", "NonZeroExitCode")}
    assert show_job(cluster, job)["ExitCode"] == "3:0"
    assert jobcomp_record(cluster, job)["ExitCode"] == "3:0"


@needs_slurm
def test_array_has_four_tasks(cluster: LocalSlurmCluster, tmp_path: Path) -> None:
    job = sbatch(
        cluster,
        "--array=0-3",
        "-o",
        str(tmp_path / "%A_%a.out"),
        "--wrap",
        "echo task $SLURM_ARRAY_TASK_ID",
    )
    st = wait_done(cluster, job)
    assert sorted(st) == [f"{job}_{i}" for i in range(4)]
    assert {s for s, _ in st.values()} == {"COMPLETED"}
    for i in range(4):
        assert (tmp_path / f"{job}_{i}.out").read_text() == f"task {i}\n"
    r = cluster.run(["squeue", "-h", "-t", "all", "-j", job, "-o", "%F|%K"])
    assert sorted(r.stdout.split()) == [f"{job}|{i}" for i in range(4)]


@needs_slurm
def test_dependency_on_failed_parent(cluster: LocalSlurmCluster) -> None:
    parent = sbatch(cluster, "-o", "/dev/null", "--wrap", "exit 1")
    child = sbatch(cluster, "-o", "/dev/null", f"--dependency=afterok:{parent}", "--wrap", "true")
    killed = sbatch(
        cluster,
        "-o",
        "/dev/null",
        f"--dependency=afterok:{parent}",
        "--kill-on-invalid-dep=yes",
        "--wrap",
        "true",
    )
    wait_done(cluster, parent)
    # Default: the child stays PENDING forever with this reason.
    assert wait_until(cluster, child, lambda st: st[child][1] == "DependencyNeverSatisfied") == {
        child: ("PENDING", "DependencyNeverSatisfied")
    }
    # --kill-on-invalid-dep=yes: slurmctld cancels it instead.
    assert wait_done(cluster, killed) == {killed: ("CANCELLED", "DependencyNeverSatisfied")}
    cluster.run(["scancel", child])
    assert wait_done(cluster, child)[child][0] == "CANCELLED"


@needs_slurm
def test_second_cluster_does_not_clash(cluster: LocalSlurmCluster, tmp_path: Path) -> None:
    with LocalSlurmCluster(tmp_path / "other", cluster_name="other") as other:
        assert other.conf_path.read_text() != cluster.conf_path.read_text()
        job = sbatch(other, "-o", "/dev/null", "--wrap", "true")
        assert wait_done(other, job) == {job: ("COMPLETED", "None")}
    assert not other.is_up()
    assert cluster.is_up()


@needs_slurm
def test_controller_restart_keeps_jobs(cluster: LocalSlurmCluster, tmp_path: Path) -> None:
    """Clients fail while slurmctld is down; after a restart it still knows the running job.

    The job outlives the outage (client calls against a down controller take ~9 s to fail). A
    job that *ends* during an outage is reported only by slurmstepd's retry, every 15 s.
    """
    job = sbatch(cluster, "-o", str(tmp_path / "%j.out"), "--wrap", "sleep 12; echo late")
    wait_until(cluster, job, lambda st: st[job][0] == "RUNNING")
    cluster.stop_controller()
    assert cluster.run(["scontrol", "ping"]).returncode == 1  # fails at once
    down = cluster.run(["squeue", "-h", "-j", job])
    assert down.returncode == 1
    assert "Unable to contact slurm controller" in down.stderr
    cluster.start_controller()
    assert states(cluster, job)[job][0] in {"RUNNING", "COMPLETING", "COMPLETED"}
    assert wait_done(cluster, job, timeout=60) == {job: ("COMPLETED", "None")}
    assert (tmp_path / f"{job}.out").read_text() == "late\n"
    assert show_job(cluster, job)["ExitCode"] == "0:0"


@needs_slurm
def test_cli_start_status_stop_across_processes(tmp_path: Path) -> None:
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [
            sys.executable,
            "-m",
            "jobspec_slurm.testing.cluster",
            *args,
            "--dir",
            str(tmp_path),
        ]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)

    started = cli("start")
    try:
        assert started.returncode == 0, started.stderr
        assert f"export SLURM_CONF={tmp_path / 'slurm.conf'}" in started.stdout
        status = cli("status")
        assert status.returncode == 0 and status.stdout.startswith("up:"), status.stdout
    finally:
        assert cli("stop").returncode == 0
    status = cli("status")
    assert status.returncode == 3 and status.stdout.startswith("down:"), status.stdout
