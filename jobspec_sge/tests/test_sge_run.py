"""The sge transformer on a real Grid Engine started by the tests (``sge_cluster``).

Every test submits real jobs with qsub and reads real states back with qstat and qacct;
skipped with the reason where Grid Engine cannot be started (not installed, not root).
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
from jobspec_core.batch import LocalRunner
from jobspec_core.errors import SubmitError
from jobspec_core.transformer import RunContext, TaskState
from jobspec_core.workdirs import carry_out_writes
from jobspec_sge.scheduler import GridEngine
from jobspec_sge.testing.faults import SgeFaults
from jobspec_sge.transformer import SgeTransformer

from jobspec_core import api

pytestmark = [pytest.mark.sge, pytest.mark.usefixtures("sge_cluster")]

WAIT = 120  # seconds; generous, the machine is shared


class Recording(LocalRunner):
    """Runs commands for real and remembers each argv."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def run(self, argv, **kw):
        self.calls.append(list(argv))
        return super().run(argv, **kw)


class RecordingTransformer(SgeTransformer):
    poll_interval = 0.5
    runner = Recording()

    def command_runner(self, context):
        return self.runner


@pytest.fixture
def transformer() -> RecordingTransformer:
    RecordingTransformer.runner = Recording()
    return RecordingTransformer()


@pytest.fixture
def context(tmp_path: Path) -> RunContext:
    work = tmp_path / "work"
    work.mkdir()
    return RunContext(f"run-{tmp_path.name}", tmp_path / "run", work)


def submit(transformer, spec: str, context: RunContext, edit=None):
    """Like the runner: capacity, render, write, write steps, submit; the handles."""
    plan = api.plan(api.load_text(textwrap.dedent(spec), "test.yaml"))
    context.capacity = transformer.capacity(plan, context)
    submission = transformer.render(plan, context)
    if edit:
        edit(submission)
    submission.write(context.run_dir)
    carry_out_writes(plan, context)
    return transformer.submit(plan, submission, context)


def wait_for(transformer, handles, context, pred, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while True:
        statuses = transformer.status(handles, context)
        if pred(statuses):
            return statuses
        assert time.monotonic() < deadline, statuses
        time.sleep(0.5)


def leaves_queue(cluster, job: str, timeout: float = 30) -> None:
    """Wait until ``job`` is no longer listed by qstat (a deleted job shows "dr" a moment)."""
    deadline = time.monotonic() + timeout
    while job in cluster.run(["qstat", "-u", "*"]).stdout.split():
        assert time.monotonic() < deadline, f"job {job} is still in the queue"
        time.sleep(0.5)


def states(statuses) -> dict:
    return {key: s.state for key, s in statuses.items()}


def test_replicas_100_is_exactly_one_qsub_t_1_100(transformer, context, sge_cluster):
    spec = """
    version: 1
    tasks:
      - name: many
        replicas: 100
        command: ["sh", "-c", "echo i=$JOBSPEC_TASK_INDEX n=$JOBSPEC_TASK_COUNT"]
    """
    handles = submit(transformer, spec, context)
    qsubs = [c for c in transformer.runner.calls if c[0] == "qsub"]
    assert len(qsubs) == 1
    script = Path(qsubs[0][-1]).read_text()
    assert "#$ -t 1-100" in script.splitlines()
    job = handles[0].data["job"]
    assert [h.native_id for h in handles] == [f"{job}.{i}" for i in range(1, 101)]
    final = transformer.wait(handles, context, timeout=WAIT)
    assert set(states(final).values()) == {TaskState.COMPLETED}
    assert Path(handles[41].log).read_text().strip() == "i=41 n=100"
    # Grid Engine accounts one job of 100 tasks (records are flushed every second)
    deadline = time.monotonic() + 30
    while (r := sge_cluster.run(["qacct", "-j", job])).stdout.count("taskid") < 100:
        assert time.monotonic() < deadline, r.stdout[-500:] + r.stderr
        time.sleep(0.5)
    assert r.stdout.count(f"jobnumber    {job} ") == 100


def test_after_any_hold_is_guarded(transformer, context):
    """-hold_jid releases the dependent whatever the array did; it must not run."""
    spec = """
    version: 1
    tasks:
      - name: first
        replicas: 2
        command: ["sh", "-c", "exit $JOBSPEC_TASK_INDEX"]
      - name: then
        depends_on: [first]
        command: ["touch", "then-ran"]
    """
    handles = submit(transformer, spec, context)
    assert "-hold_jid" in transformer.runner.calls[-1]
    final = transformer.wait(handles, context, timeout=WAIT)
    assert states(final) == {
        ("first", 0): TaskState.COMPLETED,
        ("first", 1): TaskState.FAILED,
        ("then", 0): TaskState.NEVER_RUN,
    }
    assert final[("first", 1)].exit_code == 1
    assert not (context.workdir / "then-ran").exists()


def test_error_state_fails_with_reason_and_deletes(transformer, context, sge_cluster):
    """A job Grid Engine puts into Eqw (its directory is missing) fails, never waits."""

    def missing_wd(submission):
        argv = submission.units[0].argv
        argv[-1:-1] = ["-wd", str(context.run_dir / "gone")]

    spec = """
    version: 1
    tasks:
      - name: stuck
        command: ["true"]
    """
    handles = submit(transformer, spec, context, missing_wd)
    job = handles[0].data["job"]
    final = transformer.wait(handles, context, timeout=WAIT)
    status = final[("stuck", 0)]
    assert status.state is TaskState.FAILED
    assert f"job {job} is in an error state (Eqw)" in status.reason
    assert "error: can't chdir to" in status.reason, status.reason  # qstat -j says why
    leaves_queue(sge_cluster, job)  # jobspec deleted it


def test_forced_error_on_a_running_job(transformer, context):
    spec = """
    version: 1
    tasks:
      - name: victim
        command: ["sleep", "300"]
      - name: after
        depends_on: [victim]
        command: ["true"]
    """
    handles = submit(transformer, spec, context)
    wait_for(transformer, handles, context, lambda s: s[("victim", 0)].state is TaskState.RUNNING)
    SgeFaults(transformer).force_error(handles[0], context)
    final = transformer.wait(handles, context, timeout=WAIT)
    assert final[("victim", 0)].state is TaskState.FAILED
    assert "error state" in final[("victim", 0)].reason
    assert final[("after", 0)].state is TaskState.NEVER_RUN


def test_deleted_behind_and_h_rt_read_from_qacct(transformer, context, sge_cluster):
    spec = """
    version: 1
    tasks:
      - name: victim
        command: ["sleep", "300"]
      - name: limited
        command: ["sleep", "300"]
    """

    def site_limit(submission):  # a site's queue limit: h_rt the script does not know of
        argv = submission.units[1].argv
        argv[-1:-1] = ["-l", "h_rt=0:0:3"]

    handles = submit(transformer, spec, context, site_limit)
    wait_for(transformer, handles, context, lambda s: s[("victim", 0)].state is TaskState.RUNNING)
    SgeFaults(transformer).delete_behind(handles[0], context)
    final = transformer.wait(handles, context, timeout=WAIT)
    victim, limited = final[("victim", 0)], final[("limited", 0)]
    assert victim.state in (TaskState.CANCELLED, TaskState.FAILED) and victim.reason
    assert limited.state is TaskState.TIMEOUT
    assert "time limit" in limited.reason and "failed 37" in limited.reason


def test_cancel_deletes_the_jobs(transformer, context, sge_cluster):
    spec = """
    version: 1
    tasks:
      - name: long
        replicas: 3
        command: ["sleep", "300"]
    """
    handles = submit(transformer, spec, context)
    job = handles[0].data["job"]
    transformer.cancel(handles, context)
    assert ["qdel", job] in transformer.runner.calls
    final = transformer.wait(handles, context, timeout=WAIT)
    assert set(states(final).values()) == {TaskState.CANCELLED}
    leaves_queue(sge_cluster, job)


def test_refused_submission_leaves_nothing(transformer, context, sge_cluster, monkeypatch):
    """qsub -w e refuses a PE that does not exist; the first job is rolled back."""
    spec = """
    version: 1
    tasks:
      - name: fine
        command: ["sleep", "300"]
      - name: wide
        resources: {type: slot, count: 1, with: [{type: core, count: 2}]}
        command: ["true"]
    """
    monkeypatch.setattr(RecordingTransformer, "scheduler", GridEngine(pe="no_such_pe"))
    with pytest.raises(SubmitError, match="no_such_pe") as info:
        submit(transformer, spec, context)
    refusal = "Grid Engine refuses wide; the 1 job(s) submitted before it were cancelled"
    assert refusal in str(info.value)
    (fine,) = info.value.submitted
    job = fine.data["job"]
    assert ["qdel", job] in transformer.runner.calls
    leaves_queue(sge_cluster, job)


def test_request_no_queue_can_run_is_refused_by_qsub(transformer, context, monkeypatch):
    """With the host size unknown, qsub -w e refuses it with Grid Engine's reason."""
    monkeypatch.delenv("JOBSPEC_SGE_CORES_PER_NODE")
    spec = """
    version: 1
    tasks:
      - name: impossible
        resources: {type: slot, count: 1, with: [{type: core, count: 100000}]}
        command: ["true"]
    """
    with pytest.raises(SubmitError, match="no suitable queues") as info:
        submit(transformer, spec, context)
    assert "Grid Engine refuses impossible; nothing was submitted" in str(info.value)
    assert info.value.submitted == []


def test_job_scripts_run_with_sh_and_argv_as_written(transformer, context):
    """The queue's shell is bash; -S /bin/sh runs the POSIX script as written ($0 kept)."""
    spec = """
    version: 1
    tasks:
      - name: script
        attributes: {cwd: bin dir}
        steps:
          - name: write
            path: run.sh
            executable: true
            content: |
              #!/bin/sh
              echo "zero=$0 one=$1"
        command: [./run.sh, "a b"]
    """
    handles = submit(transformer, spec, context)
    final = transformer.wait(handles, context, timeout=WAIT)
    assert final[("script", 0)].state is TaskState.COMPLETED
    assert Path(handles[0].log).read_text().strip() == "zero=./run.sh one=a b"
