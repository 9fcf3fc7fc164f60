"""The Slurm backend on a real Slurm cluster started by the tests (``slurm_cluster``).

Every test here submits real jobs with sbatch and reads real states back; they are skipped
with the reason where Slurm cannot be started (not installed, not root).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from jobspec_core.errors import BackendError, SubmitError
from jobspec_core.transformer import TaskHandle, TaskState
from slurm_helpers import plan_of, submit

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm_cluster")]

WAIT = 90  # seconds; generous, the machine is shared


def states(statuses):
    return {key: status.state for key, status in statuses.items()}


def squeue_states(cluster, job_ids) -> dict[str, str]:
    r = cluster.run(["squeue", "-h", "-r", "-t", "all", "-j", ",".join(job_ids), "-o", "%i|%T|%r"])
    assert r.returncode == 0, r.stderr
    return {line.split("|")[0]: line.split("|")[1] for line in r.stdout.split()}


def test_task_array_and_dependency_run_in_order(transformer, context):
    plan = plan_of(
        """
        version: 1
        tasks:
        - name: first
          command: ["sh", "-c", "date +%s.%N > first.t; sleep 1"]
        - name: second
          replicas: 3
          depends_on: [first]
          command: ["sh", "-c", "date +%s.%N > second.$JOBSPEC_TASK_INDEX.t; echo idx=$JOBSPEC_TASK_INDEX n=$JOBSPEC_TASK_COUNT name=$JOBSPEC_TASK_NAME run=$JOBSPEC_RUN_ID"]
        """
    )
    handles = submit(transformer, plan, context)
    assert [h.native_id.split("_")[-1] for h in handles[1:]] == ["0", "1", "2"]
    final = transformer.wait(handles, context, timeout=WAIT)
    assert set(states(final).values()) == {TaskState.COMPLETED}, final
    work = context.workdir
    first = float((work / "first.t").read_text())
    for i in range(3):
        assert float((work / f"second.{i}.t").read_text()) >= first + 1
        log = Path(handles[1 + i].log).read_text()
        assert f"idx={i} n=3 name=second run={context.run_id}" in log


def test_group_steps_run_in_parallel_and_honour_dependencies(transformer, context):
    # A sleeps 6 s; C depends on B only: C must finish long before A does.
    plan = plan_of(
        """
        version: 1
        groups:
        - name: g
          tasks:
          - name: A
            command: ["sh", "-c", "sleep 6; date +%s.%N > A.t"]
          - name: B
            command: ["sh", "-c", "date +%s.%N > B.t"]
          - name: C
            depends_on: [B]
            command: ["sh", "-c", "test -e B.t && date +%s.%N > C.t"]
        """
    )
    handles = submit(transformer, plan, context)
    assert len({h.native_id for h in handles}) == 1  # one allocation
    final = transformer.wait(handles, context, timeout=WAIT)
    assert set(states(final).values()) == {TaskState.COMPLETED}, final
    work = context.workdir
    a, b, c = (float((work / f"{n}.t").read_text()) for n in "ABC")
    assert b <= c < a - 2, (a, b, c)


def test_failure_inside_group_records_never_run_dependents(transformer, context):
    plan = plan_of(
        """
        version: 1
        groups:
        - name: g
          tasks:
          - name: bad
            command: ["sh", "-c", "exit 7"]
          - name: after
            depends_on: [bad]
            command: ["touch", "after-ran"]
          - name: other
            command: ["true"]
        """
    )
    handles = submit(transformer, plan, context)
    final = transformer.wait(handles, context, timeout=WAIT)
    assert final[("g/bad", 0)].state is TaskState.FAILED
    assert final[("g/bad", 0)].exit_code == 7
    assert final[("g/after", 0)].state is TaskState.NEVER_RUN
    assert final[("g/other", 0)].state is TaskState.COMPLETED
    assert not (context.workdir / "after-ran").exists()


def test_dependent_of_failed_job_is_never_run_and_not_left_pending(
    transformer, context, slurm_cluster
):
    plan = plan_of(
        """
        version: 1
        tasks:
        - name: parent
          command: ["false"]
        - name: child
          depends_on: [parent]
          command: ["touch", "child-ran"]
        """
    )
    handles = submit(transformer, plan, context)
    final = transformer.wait(handles, context, timeout=WAIT)
    assert final[("parent", 0)].state is TaskState.FAILED
    assert final[("child", 0)].state is TaskState.NEVER_RUN
    child_job = handles[1].native_id
    assert squeue_states(slurm_cluster, [child_job])[child_job] == "CANCELLED"
    assert not (context.workdir / "child-ran").exists()


def test_pending_forever_dependent_is_detected_and_cancelled(transformer, context, slurm_cluster):
    # Without --kill-on-invalid-dep (a job submitted by hand, or a site that strips it),
    # Slurm leaves the dependent PENDING with reason DependencyNeverSatisfied forever.
    context.run_dir.mkdir(parents=True)
    # -o: without it sbatch writes slurm-N.out into the tests' working directory.
    out = ["-o", str(context.run_dir / "%j.out")]
    parent = slurm_cluster.run(["sbatch", "--parsable", *out, "--wrap", "exit 1"]).stdout.strip()
    child = slurm_cluster.run(
        ["sbatch", "--parsable", *out, f"--dependency=afterok:{parent}", "--wrap", "true"]
    ).stdout.strip()
    handle = TaskHandle("child", 0, child, data={"job": child, "kind": "job"})
    final = transformer.wait([handle], context, timeout=WAIT)
    status = final[("child", 0)]
    assert status.state is TaskState.NEVER_RUN
    assert "DependencyNeverSatisfied" in status.reason
    deadline = time.monotonic() + 30
    while squeue_states(slurm_cluster, [child])[child] != "CANCELLED":
        assert time.monotonic() < deadline, "the never-runnable job was not cancelled"
        time.sleep(0.5)


def test_refused_third_submission_leaves_no_job(transformer, context, slurm_cluster):
    plan = plan_of(
        """
        version: 1
        tasks:
        - name: one
          command: ["sleep", "60"]
        - name: two
          replicas: 2
          command: ["sleep", "60"]
        - name: three
          command: ["sleep", "60"]
          attributes:
            slurm.partition: nosuch
        """
    )
    with pytest.raises(SubmitError) as info:
        submit(transformer, plan, context)
    message = str(info.value)
    assert "three" in message and "3 of 3" in message and "cancelled" in message
    submitted = info.value.submitted
    assert [h.task_id for h in submitted] == ["one", "two", "two"]
    jobs = sorted({h.data["job"] for h in submitted})
    deadline = time.monotonic() + 30
    while True:
        live = {
            j: s for j, s in squeue_states(slurm_cluster, jobs).items() if s not in ("CANCELLED",)
        }
        if not live:
            break
        assert time.monotonic() < deadline, f"jobs left behind: {live}"
        time.sleep(0.5)
    statuses = transformer.status(submitted, context)
    assert set(states(statuses).values()) == {TaskState.CANCELLED}


def test_duration_limit_is_enforced(transformer, context):
    plan = plan_of(
        """
        version: 1
        tasks:
        - name: slow
          command: ["sleep", "120"]
          attributes:
            duration: 3s
        """
    )
    started = time.monotonic()
    handles = submit(transformer, plan, context)
    final = transformer.wait(handles, context, timeout=WAIT)
    assert final[("slow", 0)].state is TaskState.TIMEOUT
    assert time.monotonic() - started < 60  # well before Slurm's own 1-minute --time


def test_write_stage_cwd_and_local_entries(transformer, context, tmp_path):
    staged = tmp_path / "inputs"
    staged.mkdir()
    (staged / "data.txt").write_text("staged data\n")
    sub = context.workdir / "sub"
    sub.mkdir()
    plan = plan_of(
        {
            "version": 1,
            "groups": [
                {
                    "name": "g",
                    "attributes": {"cwd": str(sub)},
                    "steps": [{"name": "stage", "path": str(staged)}],
                    "tasks": [
                        {"local": True, "command": ["sh", "-c", "echo up > service"]},
                        {
                            "name": "use",
                            "steps": [
                                {
                                    "name": "write",
                                    "path": "cfg/in.txt",
                                    "content": "written $x 'q'\n",
                                }
                            ],
                            "command": [
                                "sh",
                                "-c",
                                "cat service cfg/in.txt inputs/data.txt > seen 2>&1 "
                                "|| cat cfg/in.txt $0 > seen",
                                str(staged / "data.txt"),
                            ],
                        },
                        {"local": True, "command": ["sh", "-c", "echo down >> service"]},
                    ],
                }
            ],
        }
    )
    handles = submit(transformer, plan, context)
    final = transformer.wait(handles, context, timeout=WAIT)
    assert set(states(final).values()) == {TaskState.COMPLETED}, final
    assert (sub / "cfg" / "in.txt").read_text() == "written $x 'q'\n"
    seen = (sub / "seen").read_text()
    assert "written $x 'q'" in seen and "staged data" in seen
    assert (sub / "service").read_text() == "up\ndown\n"
    allocation_log = (context.run_dir / "logs" / "g.allocation.out").read_text()
    assert "stage:" in allocation_log and "present on 1 node(s) (exit 0)" in allocation_log


def test_controller_down_is_a_clear_error_and_wait_carries_on(transformer, context, slurm_cluster):
    plan = plan_of(
        """
        version: 1
        tasks:
        - name: t
          command: ["sleep", "4"]
        """
    )
    handles = submit(transformer, plan, context)
    slurm_cluster.stop_controller()
    try:
        with pytest.raises(BackendError) as info:
            transformer.status(handles, context)
        message = str(info.value)
        assert "slurmctld" in message and os.environ["SLURM_CONF"] in message
        with pytest.raises(BackendError, match="slurmctld"):
            submit(transformer, plan, context)
        # the CLI-facing wait keeps trying while the controller is away
        result = {}
        waiter = threading.Thread(
            target=lambda: result.update(transformer.wait(handles, context, timeout=WAIT))
        )
        waiter.start()
        time.sleep(3)
        assert waiter.is_alive()
    finally:
        slurm_cluster.start_controller()
    waiter.join(WAIT + 10)
    assert not waiter.is_alive()
    assert result[("t", 0)].state is TaskState.COMPLETED


def test_replicas_100_is_one_sbatch_call(transformer, context, tmp_path, monkeypatch):
    calls = tmp_path / "sbatch-calls"
    wrapper = tmp_path / "sbatch-wrapper"
    real = subprocess.run(["which", "sbatch"], capture_output=True, text=True).stdout.strip()
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec {real} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("JOBSPEC_SLURM_SBATCH", str(wrapper))
    plan = plan_of(
        """
        version: 1
        tasks:
        - name: many
          replicas: 100
          command: ["sh", "-c", "echo $JOBSPEC_TASK_INDEX > out.$JOBSPEC_TASK_INDEX"]
        """
    )
    handles = submit(transformer, plan, context)
    assert len(calls.read_text().splitlines()) == 1
    assert len(handles) == 100
    final = transformer.wait(handles, context, timeout=180)
    assert set(states(final).values()) == {TaskState.COMPLETED}
    seen = sorted(int((context.workdir / f"out.{i}").read_text()) for i in range(100))
    assert seen == list(range(100))


def test_status_wait_cancel_from_another_process(transformer, context):
    plan = plan_of(
        """
        version: 1
        tasks:
        - name: long
          command: ["sleep", "300"]
        - name: quick
          command: ["true"]
        """
    )
    handles = submit(transformer, plan, context)
    saved = context.run_dir / "handles.json"
    saved.write_text(json.dumps([h.to_dict() for h in handles]))
    other = f"""
import json, sys
from pathlib import Path
from jobspec_core.transformer import RunContext, TaskHandle
from jobspec_slurm import SlurmTransformer
ctx = RunContext({context.run_id!r}, Path({str(context.run_dir)!r}), Path({str(context.workdir)!r}))
hs = [TaskHandle.from_dict(d) for d in json.loads(Path({str(saved)!r}).read_text())]
t = SlurmTransformer()
what = sys.argv[1]
if what == "cancel":
    t.cancel([h for h in hs if h.task_id == "long"], ctx)
out = t.wait(hs, ctx, timeout=60) if what == "wait" else t.status(hs, ctx)
print(json.dumps({{f"{{k[0]}}.{{k[1]}}": s.state.value for k, s in out.items()}}))
"""

    def in_other_process(what: str) -> dict:
        r = subprocess.run(
            [sys.executable, "-c", other, what],
            capture_output=True,
            text=True,
            timeout=120,
            env=os.environ,
        )
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    assert in_other_process("status")["long.0"] in ("pending", "running")
    assert in_other_process("cancel")["long.0"] in ("cancelled", "running")
    assert in_other_process("wait") == {"long.0": "cancelled", "quick.0": "completed"}


def test_missing_cwd_fails_the_task_instead_of_running_in_tmp(transformer, context, tmp_path):
    # Slurm's own --chdir falls back to /tmp when the directory is missing; we must not.
    missing = str(tmp_path / "does-not-exist")
    plan = plan_of(
        {
            "version": 1,
            "tasks": [
                {
                    "name": "top",
                    "command": ["sh", "-c", "pwd > /tmp/jobspec-top-ran"],
                    "attributes": {"cwd": missing},
                }
            ],
            "groups": [
                {
                    "name": "g",
                    "tasks": [
                        {"name": "step", "command": ["true"], "attributes": {"cwd": missing}},
                        {"name": "fine", "command": ["true"]},
                    ],
                }
            ],
        }
    )
    Path("/tmp/jobspec-top-ran").unlink(missing_ok=True)
    handles = submit(transformer, plan, context)
    final = transformer.wait(handles, context, timeout=WAIT)
    assert final[("top", 0)].state is TaskState.FAILED
    assert final[("g/step", 0)].state is TaskState.FAILED
    assert final[("g/fine", 0)].state is TaskState.COMPLETED
    assert not Path("/tmp/jobspec-top-ran").exists()
    log = Path(handles[0].log).read_text()
    assert "cannot enter the working directory" in log and missing in log


def test_drift_submit_submits_what_render_produced(transformer, context):
    """Drift 5: the alternative is chosen when rendering, from the capacity sinfo gave
    (``Transformer.capacity``), and submit submits exactly the rendered files: no second
    render, so ``jobspec transform`` shows what runs."""
    plan = plan_of(
        """
        version: 1
        resources:
          huge: {type: node, count: 64}
          small:
            type: slot
            count: 1
            with: [{type: core, count: 2}]
        tasks:
        - name: flexible
          resources: huge|small
          command: ["sh", "-c", "echo cpus=$SLURM_CPUS_PER_TASK"]
        """
    )
    context.capacity = transformer.capacity(plan, context)
    assert context.capacity is not None
    rendered = transformer.render(plan, context)
    script = rendered.files["slurm/flexible.sh"].content
    assert "--nodes=64" not in script and "--cpus-per-task=2" in script
    assert any("small is used" in n for n in rendered.notes)
    rendered.write(context.run_dir)
    handles = transformer.submit(plan, rendered, context)
    final = transformer.wait(handles, context, timeout=WAIT)
    assert final[("flexible", 0)].state is TaskState.COMPLETED
    for name, file in rendered.files.items():
        assert (context.run_dir / name).read_text() == file.content, name
    assert "cpus=2" in Path(handles[0].log).read_text()


def test_jobs_that_left_squeue_are_found_in_job_completion_records(
    transformer, tmp_path, monkeypatch
):
    # A cluster of its own that forgets finished jobs after 2 s (MinJobAge): then only the
    # jobcomp/filetxt records know how a job that never ran (no status record) ended.
    from jobspec_core.transformer import RunContext
    from jobspec_slurm.testing.cluster import LocalSlurmCluster

    cluster = LocalSlurmCluster(tmp_path / "forgetful", min_job_age=2)
    cluster.start()
    try:
        monkeypatch.setenv("SLURM_CONF", cluster.env["SLURM_CONF"])
        work = tmp_path / "work"
        work.mkdir()
        context = RunContext("forget", tmp_path / "run", work)
        plan = plan_of(
            """
            version: 1
            tasks:
            - {name: quick, command: ["true"]}
            - {name: long, command: [sleep, "300"]}
            - {name: after, depends_on: [long], command: ["true"]}
            """
        )
        handles = submit(transformer, plan, context)
        transformer.wait(handles[:1], context, timeout=WAIT)
        transformer.cancel(handles[1:], context)
        deadline = time.monotonic() + 60
        jobs = sorted({h.data["job"] for h in handles})
        while cluster.run(["squeue", "-h", "-t", "all", "-j", ",".join(jobs)]).stdout.strip():
            assert time.monotonic() < deadline, "jobs never left squeue"
            time.sleep(1)
        statuses = transformer.status(handles, context)
        assert statuses[("quick", 0)].state is TaskState.COMPLETED
        assert statuses[("long", 0)].state is TaskState.CANCELLED
        assert statuses[("after", 0)].state is TaskState.CANCELLED
    finally:
        cluster.stop()
