"""The local backend's semantics with real processes: order, replicas, limits, failures,
environment, working directory, groups, local barriers, budget and steps."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jobspec_core.errors import JobspecError, StepError
from jobspec_core.transformer import RunContext, TaskState
from jobspec_local.transformer import LocalTransformer
from local_helpers import by_key

C = TaskState.COMPLETED


def test_build_then_ior_runs_in_order(make_plan, run_plan, tmp_path):
    plan = make_plan(
        """
        version: 1
        tasks:
        - name: ior
          depends_on: [build]
          command: ["sh", "-c", "test -f built && echo ran > ior.out"]
        - name: build
          command: ["sh", "-c", "sleep 0.5; touch built"]
        """
    )
    status = run_plan(plan)
    tasks = by_key(status)
    assert status.succeeded, status.to_dict()
    assert tasks[("ior", 0)].started_at >= tasks[("build", 0)].finished_at
    assert (tmp_path / "ior.out").read_text() == "ran\n"


def test_independent_task_not_serialized_behind_unrelated_one(make_plan, run_plan):
    plan = make_plan(
        """
        version: 1
        tasks:
        - name: A
          command: ["sleep", "2"]
        - name: B
          command: ["true"]
        - name: C
          depends_on: [B]
          command: ["true"]
        """
    )
    status = run_plan(plan)
    tasks = by_key(status)
    assert status.succeeded
    assert tasks[("C", 0)].finished_at < tasks[("A", 0)].finished_at
    assert tasks[("C", 0)].started_at >= tasks[("B", 0)].finished_at


def test_replicas_are_separate_processes_with_their_index(make_plan, run_plan, tmp_path):
    plan = make_plan(
        """
        version: 1
        tasks:
        - name: rep
          replicas: 4
          command: "echo $JOBSPEC_TASK_INDEX $JOBSPEC_TASK_COUNT $JOBSPEC_TASK_NAME $$ > out.$JOBSPEC_TASK_INDEX"
        """
    )
    status = run_plan(plan)
    assert status.succeeded
    assert sorted(t.index for t in status.tasks) == [0, 1, 2, 3]
    lines = [(tmp_path / f"out.{i}").read_text().split() for i in range(4)]
    assert [line[0] for line in lines] == ["0", "1", "2", "3"]
    assert all(line[1:3] == ["4", "rep"] for line in lines)
    assert len({line[3] for line in lines}) == 4  # four distinct processes
    assert len({t.native_id for t in status.tasks}) == 4


def test_duration_kills_whole_process_group_within_a_second(make_plan, run_plan, tmp_path):
    # The shell ignores SIGTERM and has a child: both must be gone, by SIGKILL if need be.
    plan = make_plan(
        """
        version: 1
        tasks:
        - name: slow
          attributes: {duration: 1}
          command: "trap '' TERM; sleep 30 & echo $! > child.pid; wait; sleep 30"
        - name: after
          depends_on: [slow]
          command: ["true"]
        """
    )
    status = run_plan(plan)
    slow = by_key(status)[("slow", 0)]
    assert slow.state is TaskState.TIMEOUT
    assert "duration limit 1s" in slow.reason
    elapsed = slow.finished_at - slow.started_at
    assert 1.0 <= elapsed <= 2.0, elapsed
    assert by_key(status)[("after", 0)].state is TaskState.NEVER_RUN
    child = int((tmp_path / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and Path(f"/proc/{child}").exists():
        if Path(f"/proc/{child}/stat").read_text().split(")")[1].split()[0] == "Z":
            break
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text()


def test_failure_skips_dependents_only(make_plan, run_plan, tmp_path):
    plan = make_plan(
        """
        version: 1
        tasks:
        - name: bad
          command: ["sh", "-c", "exit 3"]
        - name: child
          depends_on: [bad]
          command: ["touch", "child-ran"]
        - name: grandchild
          depends_on: [child]
          command: ["touch", "grandchild-ran"]
        - name: other
          command: ["touch", "other-ran"]
        """
    )
    status = run_plan(plan)
    tasks = by_key(status)
    assert not status.succeeded
    assert tasks[("bad", 0)].state is TaskState.FAILED and tasks[("bad", 0)].exit_code == 3
    assert tasks[("child", 0)].state is TaskState.NEVER_RUN
    assert tasks[("grandchild", 0)].state is TaskState.NEVER_RUN
    assert "bad" in tasks[("child", 0)].reason
    assert tasks[("other", 0)].state is C
    assert not (tmp_path / "child-ran").exists() and not (tmp_path / "grandchild-ran").exists()
    assert status.run.state == "failed"


def _environ_of(path: Path) -> dict[bytes, bytes]:
    out = {}
    for item in path.read_bytes().split(b"\0"):
        if item:
            key, _, value = item.partition(b"=")
            out[key] = value
    return out


def test_environment_and_cwd_reach_the_task_exactly(make_plan, run_plan, tmp_path):
    (tmp_path / "sub").mkdir()
    plan = make_plan(
        """
        version: 1
        attributes:
          environment: {GLOBAL: "g", OVER: "global"}
        tasks:
        - name: probe
          attributes:
            cwd: sub
            environment: {OVER: "task", SPACED: "a b  c", QUOTES: "it's \\"q\\""}
          command: ["env", "-0"]
        - name: where
          attributes: {cwd: sub}
          command: ["/bin/pwd", "-P"]
        """
    )
    status = run_plan(plan)
    assert status.succeeded
    tasks = by_key(status)
    # env prints its environment straight to the log: no shell in between to add PWD.
    seen = _environ_of(Path(tasks[("probe", 0)].log))
    expected = {k.encode(): v.encode() for k, v in os.environ.items()}
    expected.update(
        {
            b"GLOBAL": b"g",
            b"OVER": b"task",
            b"SPACED": b"a b  c",
            b"QUOTES": b'it\'s "q"',
            b"JOBSPEC_RUN_ID": status.run.run_id.encode(),
            b"JOBSPEC_TASK_NAME": b"probe",
            b"JOBSPEC_TASK_INDEX": b"0",
            b"JOBSPEC_TASK_COUNT": b"1",
        }
    )
    assert seen == expected
    where = Path(tasks[("where", 0)].log).read_text().strip()
    assert where == os.path.realpath(tmp_path / "sub")


def test_default_cwd_is_the_submit_directory(make_plan, run_plan, tmp_path):
    plan = make_plan('version: 1\ntasks:\n- command: ["sh", "-c", "/bin/pwd -P > where"]\n')
    assert run_plan(plan).succeeded
    assert (tmp_path / "where").read_text().strip() == os.path.realpath(tmp_path)


def test_group_local_entries_are_barriers_in_document_order(make_plan, run_plan, tmp_path):
    plan = make_plan(
        """
        version: 1
        groups:
        - name: g
          tasks:
          - local: true
            name: start
            command: ["sh", "-c", "sleep 0.3; echo start >> order"]
          - name: work
            replicas: 3
            command: ["sh", "-c", "test -f order && grep -q start order && echo work >> order"]
          - local: true
            name: stop
            command: ["sh", "-c", "echo stop >> order"]
        tasks:
        - group: g
        """
    )
    status = run_plan(plan)
    assert status.succeeded, status.to_dict()
    assert (tmp_path / "order").read_text().split() == ["start", "work", "work", "work", "stop"]


def test_stop_entry_runs_even_when_work_failed(make_plan, run_plan, tmp_path):
    plan = make_plan(
        """
        version: 1
        groups:
        - name: g
          tasks:
          - {name: work, command: ["false"]}
          - {name: stop, local: true, command: ["touch", "stopped"]}
        tasks:
        - group: g
        - {name: after-g, depends_on: [g], command: ["true"]}
        """
    )
    status = run_plan(plan)
    tasks = by_key(status)
    assert (tmp_path / "stopped").exists()
    assert tasks[("g/stop", 0)].state is C
    assert tasks[("after-g", 0)].state is TaskState.NEVER_RUN


def test_budget_makes_big_tasks_wait(make_plan, run_plan):
    plan = make_plan(
        """
        version: 1
        resources:
          two: {type: slot, count: 1, with: [{type: core, count: 2}]}
        tasks:
        - {name: x, resources: two, command: ["sleep", "0.5"]}
        - {name: y, resources: two, command: ["sleep", "0.5"]}
        """
    )
    serial = by_key(run_plan(plan, cores=2))
    overlap_serial = min(serial[("x", 0)].finished_at, serial[("y", 0)].finished_at) - max(
        serial[("x", 0)].started_at, serial[("y", 0)].started_at
    )
    assert overlap_serial <= 0.05  # one after the other
    parallel = by_key(run_plan(plan, cores=4))
    overlap = min(parallel[("x", 0)].finished_at, parallel[("y", 0)].finished_at) - max(
        parallel[("x", 0)].started_at, parallel[("y", 0)].started_at
    )
    assert overlap > 0.2  # side by side


def test_alternatives_pick_the_first_that_fits(make_plan, run_plan, tmp_path):
    plan = make_plan(
        """
        version: 1
        resources:
          big: {type: slot, count: 1, with: [{type: core, count: 64}]}
          small: {type: slot, count: 1, with: [{type: core, count: 1}]}
        tasks:
        - {name: t, resources: "big|small", command: ["true"]}
        """
    )
    status = run_plan(plan, cores=2)
    assert status.succeeded
    spec = json.loads((Path(status.run.run_dir) / "local-plan.json").read_text())
    assert spec["nodes"][0]["need"] == [1, 0]


def test_over_capacity_is_refused_before_anything_runs(make_plan, runner, tmp_path):
    plan = make_plan(
        """
        version: 1
        tasks:
        - name: huge
          resources: {type: node, count: 4, with: [{type: slot, count: 1, with: [{type: core, count: 4}]}]}
          command: ["touch", "ran"]
        """
    )
    with pytest.raises(JobspecError) as info:
        runner.submit(plan, "local", workdir=tmp_path, options={"cores": "2"})
    message = str(info.value)
    assert "huge" in message and "16 cores" in message and "2 cores" in message
    assert "job.yaml:" in message
    assert info.value.exit_code == 2
    (run,) = runner.list_runs()  # recorded as a failed run, with the reason
    assert run.state == "failed" and "16 cores" in run.error
    status = runner.wait(run.run_id, timeout=5)
    assert status.finished and {t.state for t in status.tasks} == {TaskState.CANCELLED}
    assert not (Path(run.run_dir) / "supervisor.json").exists()  # no supervisor started
    assert not (tmp_path / "ran").exists()
    # rendering alone does not fail: it says what submitting would refuse
    rendered = LocalTransformer().render(plan, RunContext("R", tmp_path, tmp_path, {"cores": "2"}))
    assert any("will be refused" in n and "16 cores" in n for n in rendered.notes)


def test_write_step_writes_inside_staging_directory(make_plan, run_plan, tmp_path):
    plan = make_plan(
        """
        version: 1
        tasks:
        - name: t
          steps:
          - {name: write, path: bin/hello.sh, content: "#!/bin/sh\\necho hi\\n", executable: true}
          - {name: stage, path: bin/hello.sh}
          command: ["sh", "-c", "./bin/hello.sh > out"]
        """
    )
    status = run_plan(plan)
    assert status.succeeded, status.to_dict()
    target = tmp_path / "bin" / "hello.sh"
    assert target.read_text() == "#!/bin/sh\necho hi\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert (tmp_path / "out").read_text() == "hi\n"
    log = (Path(status.run.run_dir) / "supervisor.log").read_text()
    assert "stage:" in log and "write:" in log


def test_write_step_does_not_follow_a_planted_symlink(make_plan, runner, tmp_path):
    """Writes are carried out at submission (spec decision 22): the run is refused."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "bin").symlink_to(outside)
    plan = make_plan(
        """
        version: 1
        tasks:
        - name: t
          steps: [{name: write, path: bin/x, content: "x"}]
          command: ["touch", "ran"]
        """
    )
    with pytest.raises(StepError, match="^t: write: cannot enter 'bin'"):
        runner.submit(plan, "local", workdir=tmp_path, options={"cores": "2"})
    (run,) = runner.list_runs()
    assert run.state == "failed"
    assert not (outside / "x").exists() and not (tmp_path / "ran").exists()


def test_stage_of_a_missing_path_fails_the_task(make_plan, run_plan):
    plan = make_plan(
        'version: 1\ntasks:\n- name: t\n  steps: [{name: stage, path: nope}]\n  command: ["true"]\n'
    )
    t = by_key(run_plan(plan))[("t", 0)]
    assert t.state is TaskState.FAILED and "nope" in t.reason


def test_missing_command_is_a_failure_with_reason(make_plan, run_plan):
    plan = make_plan('version: 1\ntasks:\n- name: t\n  command: ["no-such-command-xyz"]\n')
    t = by_key(run_plan(plan))[("t", 0)]
    assert t.state is TaskState.FAILED and t.exit_code == 127
    assert "no-such-command-xyz" in t.reason


def test_group_duration_stops_what_runs_inside(make_plan, run_plan):
    plan = make_plan(
        """
        version: 1
        groups:
        - name: g
          attributes: {duration: 1}
          tasks:
          - {name: long, command: ["sleep", "30"]}
          - {name: later, depends_on: [long], command: ["true"]}
        tasks:
        - group: g
        """
    )
    t0 = time.time()
    status = run_plan(plan)
    tasks = by_key(status)
    assert tasks[("g/long", 0)].state is TaskState.TIMEOUT
    assert tasks[("g/later", 0)].state is TaskState.NEVER_RUN
    assert time.time() - t0 < 15


def test_nested_groups_run_inside_their_allocation(make_plan, run_plan, tmp_path):
    plan = make_plan(
        """
        version: 1
        groups:
        - name: outer
          tasks:
          - {name: first, command: ["sh", "-c", "echo first >> order"]}
          - {group: inner, depends_on: [first]}
        - name: inner
          tasks:
          - {name: a, command: ["sh", "-c", "echo inner >> order"]}
        tasks:
        - group: outer
        - {name: last, depends_on: [outer], command: ["sh", "-c", "echo last >> order"]}
        """
    )
    status = run_plan(plan)
    assert status.succeeded, status.to_dict()
    assert (tmp_path / "order").read_text().split() == ["first", "inner", "last"]
    assert {t.task_id for t in status.tasks} == {"outer/first", "outer/inner/a", "last"}


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stat = Path(f"/proc/{pid}/stat")
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def test_services_live_until_their_group_ends_and_stragglers_are_ended(
    make_plan, run_plan, tmp_path
):
    plan = make_plan(
        """
        version: 1
        groups:
        - name: g
          tasks:
          - {name: start, local: true, command: "sleep 60 & echo $! > svc.pid"}
          - name: work
            command: ["sh", "-c", "kill -0 $(cat svc.pid) && echo alive > work.out"]
          - {name: stop, local: true, command: ["true"]}
        tasks:
        - group: g
        - {name: leaves, command: "sleep 60 & echo $! > bg.pid"}
        """
    )
    status = run_plan(plan)
    assert status.succeeded, status.to_dict()
    assert (tmp_path / "work.out").read_text() == "alive\n"  # the service ran during the work
    assert _gone(int((tmp_path / "svc.pid").read_text()))  # and ended with its group
    assert _gone(int((tmp_path / "bg.pid").read_text()))  # a task's leftovers end with it


def test_missing_cwd_and_path_from_the_task_environment(make_plan, run_plan, tmp_path):
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "my-tool").write_text("#!/bin/sh\necho tool ran\n")
    (tools / "my-tool").chmod(0o755)
    plan = make_plan(
        f"""
        version: 1
        tasks:
        - name: nowhere
          attributes: {{cwd: does-not-exist}}
          command: ["true"]
        - name: tool
          attributes:
            environment: {{PATH: "{tools}:/usr/bin:/bin"}}
          command: ["my-tool"]
        """
    )
    tasks = by_key(run_plan(plan))
    nowhere = tasks[("nowhere", 0)]
    assert nowhere.state is TaskState.FAILED and "does-not-exist" in nowhere.reason
    assert tasks[("tool", 0)].state is C
    assert Path(tasks[("tool", 0)].log).read_text() == "tool ran\n"


def test_nul_bytes_are_refused_before_anything_runs(make_plan, runner, tmp_path):
    # Validation refuses NUL in a document (see the malformed corpus); a plan built or
    # altered in Python skips validation, so the backend checks again before starting.
    plan = make_plan(
        """
        version: 1
        tasks:
        - {name: a, attributes: {environment: {A: "xy"}}, command: ["touch", "ran"]}
        """
    )
    next(plan.tasks()).attributes.environment["A"] = "x\0y"
    with pytest.raises(JobspecError, match="NUL byte") as info:
        runner.submit(plan, "local", workdir=tmp_path)
    assert info.value.exit_code == 2 and not (tmp_path / "ran").exists()


def test_supervisor_survives_a_task_it_cannot_start(make_plan, tmp_path):
    """A bad value that slipped past every check fails its task, not the whole run."""
    plan = make_plan(
        """
        version: 1
        tasks:
        - {name: bad, command: ["true"]}
        - {name: good, command: ["touch", "good-ran"]}
        """
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    submission = LocalTransformer().render(plan, RunContext("R1", run_dir, tmp_path, {}))
    spec = json.loads(submission.files["local-plan.json"].content)
    spec["nodes"][0]["argv"] = ["true", "nul\x00here"]
    (run_dir / "local-plan.json").write_text(json.dumps(spec))
    proc = subprocess.run(
        [sys.executable, "-m", "jobspec_local.supervisor", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout.split()[0].isdigit()
    events_file = run_dir / "events.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and '"D"' not in events_file.read_text():
        time.sleep(0.05)
    ends = {e[1]: e for e in map(json.loads, events_file.read_text().splitlines()) if e[0] == "E"}
    assert ends["bad"][3] == "failed" and "null byte" in ends["bad"][5]
    assert ends["good"][3] == "completed" and (tmp_path / "good-ran").exists()
