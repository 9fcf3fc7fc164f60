"""Final states decided from facts that cannot race (issue 11, item 1).

A status reader reads the event log, then asks whether the supervisor lives. A supervisor
that records its last events and exits between those two steps must not be taken for one
that died: the reader re-reads the log once it sees the supervisor gone, and only then
declares an instance ``lost`` or ``never_run``. A ``lost`` recorded earlier is corrected
when the evidence (the instance's end in the event log) turns up later.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import jobspec_local.transformer as local_transformer
import pytest
from jobspec_core.runner import Runner
from jobspec_core.store import RunStore
from jobspec_core.transformer import RunContext, TaskHandle, TaskState, TaskStatus
from jobspec_local.events import EVENTS_FILE, append_events
from local_helpers import cli_env, jobspec_cmd


def _handle(run_dir: Path, task: str = "a", index: int = 0) -> TaskHandle:
    return TaskHandle(
        task,
        index,
        f"local:100:{task}:{index}",
        log=str(run_dir / "logs" / f"{task}.{index}.log"),
        data={"supervisor": 100, "start": 5, "run_dir": str(run_dir)},
    )


@pytest.mark.parametrize("started", [True, False], ids=["running", "not-started"])
def test_a_supervisor_that_finishes_between_read_and_liveness_check_is_not_dead(
    tmp_path, monkeypatch, started
):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    events = run_dir / EVENTS_FILE
    append_events(events, [["S", 100, 5, 1.0]])
    if started:
        append_events(events, [["R", "a", 0, 101, 6, 1.1]])

    def finishes_meanwhile(pid, start):
        # the supervisor records the end and its final line, then exits: exactly between
        # the reader's read of the log and its liveness check
        if pid == 100 and not events.read_text().endswith('["D",2.0]\n'):
            append_events(events, [["E", "a", 0, "completed", 0, None, 1.1, 1.9], ["D", 2.0]])
        return False

    monkeypatch.setattr(local_transformer, "alive", finishes_meanwhile)
    context = RunContext("r", run_dir, tmp_path)
    status = local_transformer.LocalTransformer().status([_handle(run_dir)], context)
    assert status[("a", 0)].state is TaskState.COMPLETED, status


def test_a_recorded_lost_is_corrected_when_the_end_turns_up(tmp_path, runner, make_plan):
    plan = make_plan('version: 1\ntasks:\n- {name: a, command: ["true"]}\n')
    run_id = runner.submit(plan, "local", workdir=tmp_path, options={"cores": "2"})
    assert runner.wait(run_id, timeout=120).succeeded
    # what a reader that lost the race recorded: the instance lost, the run failed
    lost = TaskStatus(TaskState.LOST, reason="process 1 is gone and its supervisor died")
    runner.store.update_tasks(run_id, {("a", 0): lost})
    runner.store.set_run_state(run_id, "failed")
    fresh = Runner(RunStore(runner.store.path), runner.registry)
    status = fresh.status(run_id)
    assert [t.state for t in status.tasks] == [TaskState.COMPLETED]
    assert status.run.state == "completed" and status.succeeded


def _job(tmp_path: Path, tasks: int) -> Path:
    path = tmp_path / "job.yaml"
    body = "".join(f'- {{name: t{i}, command: ["true"]}}\n' for i in range(tasks))
    path.write_text(textwrap.dedent("version: 1\ntasks:\n") + body)
    return path


@pytest.mark.slow
def test_eight_concurrent_runs_of_fifty_tasks_ten_times_all_complete(tmp_path):
    """Done means 2: 8 concurrent `jobspec run -O cores=4` x 50 tasks, 10 rounds, one store."""
    store = tmp_path / "runs.sqlite"
    job = _job(tmp_path, 50)
    env = cli_env(store)
    for round_ in range(10):
        procs = [
            subprocess.Popen(
                jobspec_cmd("run", "--json", "-O", "cores=4", str(job)),
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(8)
        ]
        for p in procs:
            out, err = p.communicate(timeout=600)
            assert p.returncode == 0, f"round {round_}: {out[-2000:]} {err[-2000:]}"
            data = json.loads(out)
            assert data["run"]["state"] == "completed", data["run"]
            assert len(data["tasks"]) == 50
            assert {t["state"] for t in data["tasks"]} == {"completed"}
    store_ = RunStore(store)
    runs = store_.list_runs(limit=1000)
    assert len(runs) == 80 and {r.state for r in runs} == {"completed"}
    for r in runs:
        tasks = store_.tasks(r.run_id)
        assert len(tasks) == 50 and {t.state for t in tasks} == {TaskState.COMPLETED}
        assert all(t.exit_code == 0 for t in tasks)
