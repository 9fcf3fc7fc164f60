"""Submission and status logic against stand-in Slurm commands (shell scripts that record
their arguments and print what Slurm would). These check our parsing and bookkeeping
only; the behaviour of real Slurm is proven in test_slurm_run.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobspec_core.errors import BackendError, SubmitError
from jobspec_core.transformer import RunContext, TaskHandle, TaskState
from jobspec_slurm.states import SLURM_STATES, map_state
from jobspec_slurm.status import JobRow, combine, parse_records, parse_squeue, read_record
from slurm_helpers import plan_of

from jobspec_slurm import SlurmTransformer

FAKE_SBATCH = """#!/bin/sh
echo "$@" >> "{dir}/sbatch.calls"
n=$(wc -l < "{dir}/sbatch.calls")
if [ "$n" = "${{FAKE_SBATCH_FAIL_AT:-0}}" ]; then
  echo "${{FAKE_SBATCH_ERROR:-sbatch: error: Batch job submission failed: Invalid partition name specified}}" >&2
  exit 1
fi
echo $((100 + n))
"""
FAKE_RECORDER = """#!/bin/sh
echo "$@" >> "{dir}/{name}.calls"
cat "{dir}/{name}.out" 2>/dev/null
cat "{dir}/{name}.err" >&2 2>/dev/null
exit $(cat "{dir}/{name}.rc" 2>/dev/null || echo 0)
"""


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(FAKE_SBATCH.format(dir=bin_dir))
    for name in ("scancel", "squeue", "scontrol", "sinfo"):
        (bin_dir / name).write_text(FAKE_RECORDER.format(dir=bin_dir, name=name))
    for path in bin_dir.iterdir():
        path.chmod(0o755)
    return bin_dir


@pytest.fixture
def ctx(tmp_path: Path, fake: Path, monkeypatch) -> RunContext:
    # never the session's real cluster: its job completion file has real job ids
    monkeypatch.setenv("SLURM_CONF", str(tmp_path / "no-slurm.conf"))
    work = tmp_path / "work"
    work.mkdir()
    options = {
        name: str(fake / name) for name in ("sbatch", "scancel", "squeue", "scontrol", "sinfo")
    }
    return RunContext("R", tmp_path / "run", work, options)


def go(doc, ctx):
    plan = plan_of(doc)
    t = SlurmTransformer()
    submission = t.render(plan, ctx)
    submission.write(ctx.run_dir)
    return t.submit(plan, submission, ctx)


def calls(fake: Path, name: str) -> list[str]:
    path = fake / f"{name}.calls"
    return path.read_text().splitlines() if path.exists() else []


def test_replicas_100_is_one_sbatch_call(ctx, fake):
    handles = go("version: 1\ntasks:\n- {name: many, replicas: 100, command: [x]}", ctx)
    assert len(calls(fake, "sbatch")) == 1
    assert [h.native_id for h in handles] == [f"101_{i}" for i in range(100)]
    assert handles[7].log.endswith("/logs/many-7.out")


def test_sbatch_from_the_environment_variable(ctx, fake, monkeypatch):
    del ctx.options["sbatch"]
    monkeypatch.setenv("JOBSPEC_SLURM_SBATCH", str(fake / "sbatch"))
    go("version: 1\ntasks:\n- {name: t, command: [x]}", ctx)
    assert len(calls(fake, "sbatch")) == 1


def test_dependency_ids_come_from_earlier_submissions(ctx, fake):
    go(
        "version: 1\ntasks:\n- {name: a, command: [x]}\n- {name: b, depends_on: [a], command: [x]}",
        ctx,
    )
    second = calls(fake, "sbatch")[1]
    assert "--dependency=afterok:101 --kill-on-invalid-dep=yes" in second


def test_refused_third_submission_cancels_the_first_two(ctx, fake, monkeypatch):
    monkeypatch.setenv("FAKE_SBATCH_FAIL_AT", "3")
    doc = "version: 1\ntasks:\n" + "".join(f"- {{name: t{i}, command: [x]}}\n" for i in range(4))
    with pytest.raises(SubmitError) as info:
        go(doc, ctx)
    assert "t2" in str(info.value) and "Invalid partition" in str(info.value)
    assert [h.native_id for h in info.value.submitted] == ["101", "102"]
    assert calls(fake, "scancel") == ["101 102"]
    assert len(calls(fake, "sbatch")) == 3  # the fourth was never tried


def test_unreachable_controller_is_a_backend_error_naming_it(ctx, fake, monkeypatch):
    monkeypatch.setenv("FAKE_SBATCH_FAIL_AT", "1")
    monkeypatch.setenv(
        "FAKE_SBATCH_ERROR",
        "sbatch: error: Batch job submission failed: "
        "Unable to contact slurm controller (connect failure)",
    )
    monkeypatch.setenv("SLURM_CONF", "/some/slurm.conf")
    with pytest.raises(BackendError) as info:
        go("version: 1\ntasks:\n- {name: t, command: [x]}", ctx)
    assert "slurmctld" in str(info.value) and "/some/slurm.conf" in str(info.value)


def test_missing_sbatch_is_a_clear_error(ctx):
    ctx.options["sbatch"] = "/nonexistent/sbatch"
    with pytest.raises(BackendError, match="sbatch not found"):
        go("version: 1\ntasks:\n- {name: t, command: [x]}", ctx)


def test_submit_writes_no_step_files(ctx, fake):
    """write steps are the runner's (jobspec_core.workdirs.carry_out_writes, tested in
    jobspec_core); the backend only submits what was rendered."""
    go(
        {
            "version": 1,
            "tasks": [
                {
                    "name": "t",
                    "command": ["x"],
                    "steps": [{"name": "write", "path": "d/f.sh", "content": "hi"}],
                }
            ],
        },
        ctx,
    )
    assert not (ctx.workdir / "d").exists()


def test_status_of_arrays_steps_and_never_runnable_jobs(ctx, fake):
    handles = go(
        """
        version: 1
        tasks:
        - {name: arr, replicas: 2, command: [x]}
        - {name: child, depends_on: [arr], command: [x]}
        groups:
        - name: g
          tasks:
          - {name: s1, command: [x]}
          - {name: s2, command: [x]}
        """,
        ctx,
    )
    by_key = {h.key: h for h in handles}
    (fake / "squeue.out").write_text(
        "101_0|COMPLETED|None\n101_1|FAILED|NonZeroExitCode\n"
        "102|PENDING|DependencyNeverSatisfied\n103|RUNNING|None\n"
    )
    Path(by_key[("arr", 0)].data["record"]).write_text("completed 0 10.0 12.5\n")
    Path(by_key[("arr", 1)].data["record"]).write_text("failed 3 10.0 11.0\n")
    Path(by_key[("g/s1", 0)].data["record"]).write_text("running - 10.0 -\n")
    statuses = SlurmTransformer().status(handles, ctx)
    assert statuses[("arr", 0)].state is TaskState.COMPLETED
    assert statuses[("arr", 0)].finished_at == 12.5
    assert (statuses[("arr", 1)].state, statuses[("arr", 1)].exit_code) == (TaskState.FAILED, 3)
    assert statuses[("child", 0)].state is TaskState.NEVER_RUN
    assert statuses[("g/s1", 0)].state is TaskState.RUNNING
    assert statuses[("g/s2", 0)].state is TaskState.PENDING  # not started inside the allocation
    squeue = calls(fake, "squeue")
    assert len(squeue) == 1 and "-j 101,102,103" in squeue[0]  # one call for the whole run
    assert calls(fake, "scancel") == ["102"]  # the never-runnable dependent is cancelled


def test_jobs_gone_from_squeue_fall_back_to_scontrol_then_lost(ctx, fake):
    handles = go("version: 1\ntasks:\n- {name: a, command: [x]}\n- {name: b, command: [x]}", ctx)
    (fake / "scontrol.out").write_text(
        "JobId=101 JobName=a JobState=TIMEOUT Reason=TimeLimit ExitCode=0:15\n"
    )
    statuses = SlurmTransformer().status(handles, ctx)
    assert statuses[("a", 0)].state is TaskState.TIMEOUT
    assert statuses[("b", 0)].state is TaskState.LOST


def test_parsers():
    rows = parse_squeue("5|RUNNING|None\n6_1|PENDING|Dependency\n")
    assert rows["5"].reason is None and rows["6_1"].reason == "Dependency"
    records = parse_records(
        "JobId=8 UserId=root(0) Name=my job JobState=COMPLETED ArrayJobId=6 ArrayTaskId=1 "
        "DerivedExitCode=0:0 ExitCode=2:0\n",
        "jobcomp",
    )
    assert records["6_1"].exit_code == 2 and records["8"].state == "COMPLETED"


def test_record_reading(tmp_path):
    path = tmp_path / "r"
    path.write_text("timeout 124 1.5 4.5\n")
    record = read_record(str(path))
    assert (record.state, record.exit_code, record.started_at, record.finished_at) == (
        "timeout",
        124,
        1.5,
        4.5,
    )
    assert read_record(str(tmp_path / "missing")) is None


def test_state_map_covers_the_manual_and_reads_reasons():
    # squeue(1) JOB STATE CODES, Slurm 22.05
    manual = {
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "CONFIGURING",
        "COMPLETING",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PENDING",
        "PREEMPTED",
        "RUNNING",
        "RESV_DEL_HOLD",
        "REQUEUE_FED",
        "REQUEUE_HOLD",
        "REQUEUED",
        "RESIZING",
        "REVOKED",
        "SIGNALING",
        "SPECIAL_EXIT",
        "STAGE_OUT",
        "STOPPED",
        "SUSPENDED",
        "TIMEOUT",
    }
    assert manual <= set(SLURM_STATES)
    assert map_state("CANCELLED by 0") is TaskState.CANCELLED
    assert map_state("PENDING", "DependencyNeverSatisfied") is TaskState.NEVER_RUN
    assert map_state("CANCELLED", "DependencyNeverSatisfied") is TaskState.NEVER_RUN
    assert map_state("WHATEVER") is TaskState.UNKNOWN


def test_combine_for_steps_when_the_allocation_ended():
    ended = JobRow("CANCELLED", None)
    assert combine("step", ended, None).state is TaskState.CANCELLED
    assert combine("step", JobRow("TIMEOUT"), None).state is TaskState.TIMEOUT
    assert combine("step", None, None).state is TaskState.LOST


def test_combine_names_an_error_state_and_a_cancel_behind_jobspecs_back():
    held = combine("job", JobRow("SPECIAL_EXIT", "job requeued in held state"), None)
    assert held.state is TaskState.FAILED
    assert held.reason == "in Slurm's error state SPECIAL_EXIT (job requeued in held state)"
    deleted = combine("job", JobRow("CANCELLED", None), None)
    assert deleted.state is TaskState.CANCELLED
    assert "outside jobspec" in deleted.reason


def test_handles_survive_a_json_round_trip(ctx, fake):
    handles = go("version: 1\ntasks:\n- {name: t, replicas: 2, command: [x]}", ctx)
    again = [TaskHandle.from_dict(h.to_dict()) for h in handles]
    assert again == handles


def test_jobs_forgotten_by_the_controller_are_read_from_jobcomp(ctx, fake, tmp_path, monkeypatch):
    handles = go("version: 1\ntasks:\n- {name: arr, replicas: 2, command: [x]}", ctx)
    (fake / "squeue.err").write_text("slurm_load_jobs error: Invalid job id specified\n")
    (fake / "squeue.rc").write_text("1\n")
    jobcomp = tmp_path / "jobcomp.txt"
    jobcomp.write_text(
        "JobId=101 UserId=root(0) Name=arr JobState=COMPLETED ArrayJobId=101 ArrayTaskId=1 "
        "ExitCode=0:0\n"
        "JobId=102 UserId=root(0) Name=arr JobState=CANCELLED ArrayJobId=101 ArrayTaskId=0 "
        "ExitCode=0:0\n"
    )
    conf = tmp_path / "slurm.conf"
    conf.write_text(f"JobCompType=jobcomp/filetxt\nJobCompLoc={jobcomp}  # job records\n")
    monkeypatch.setenv("SLURM_CONF", str(conf))
    statuses = SlurmTransformer().status(handles, ctx)
    assert statuses[("arr", 0)].state is TaskState.CANCELLED
    assert statuses[("arr", 1)].state is TaskState.COMPLETED
    assert len(calls(fake, "scontrol")) == 1  # asked once, before the completion records
