"""The batch layer submitting for real, through the stand-in scheduler on this machine:
arrays, after-any guards, never-run, error states, jobs deleted behind jobspec's back,
lost jobs, validation, rollback of a partial submission, status from stored handles, and
the one command-runner seam."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_vocabulary import (
    GenericTransformer,
    GridEngineTransformer,
    GridEngineWords,
    HugeTransformer,
    ValidatingTransformer,
)
from jobspec_core.batch import BatchTransformer, LocalRunner
from jobspec_core.batch.transformer import STANDIN
from jobspec_core.errors import SubmitError
from jobspec_core.transformer import RunContext, TaskHandle, TaskState
from jobspec_core.workdirs import carry_out_writes

from jobspec_core import api

pytestmark = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="the stand-in needs /proc")


@pytest.fixture
def context(tmp_path):
    (tmp_path / "work").mkdir()
    return RunContext("run-1", tmp_path / "run dir 'x'", tmp_path / "work")


def submit(transformer: BatchTransformer, text: str, context: RunContext):
    plan = api.plan(api.load_text(text, "test.yaml"))
    submission = transformer.render(plan, context)
    submission.write(context.run_dir)
    carry_out_writes(plan, context)  # the runner's part
    return submission, transformer.submit(plan, submission, context)


def wait_for(transformer, handles, context, states, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        statuses = transformer.status(handles, context)
        if all(s.state in states for s in statuses.values()) or time.monotonic() > deadline:
            return statuses
        time.sleep(0.1)


class Recording(LocalRunner):
    """The command-runner seam: every scheduler command passes here."""

    calls: list[list[str]] = []

    def run(self, argv, **kw):
        Recording.calls.append(list(argv))
        return super().run(argv, **kw)


class RecordingGE(GridEngineTransformer):
    def command_runner(self, context):
        return Recording()


DEPENDENCIES = """
version: 1
tasks:
- name: prep
  command: ["sh", "-c", "cat in.txt"]
  steps:
  - {name: write, path: in.txt, content: "staged\\n"}
- name: many
  depends_on: [prep]
  replicas: 4
  command: echo "element $JOBSPEC_TASK_INDEX of $JOBSPEC_TASK_COUNT"
- name: bad
  command: ["sh", "-c", "exit 3"]
- name: after-bad
  depends_on: [bad]
  command: ["touch", "should-not-exist"]
- group: g
groups:
- name: g
  tasks:
  - {name: a, command: ["sh", "-c", "exit 4"]}
  - {name: b, depends_on: [a], command: ["true"]}
  - {name: c, command: ["sh", "-c", "echo independent"]}
"""


@pytest.mark.parametrize("transformer", [RecordingGE, GenericTransformer])
def test_arrays_dependencies_and_never_run(transformer, context):
    Recording.calls.clear()
    t = transformer()
    _, handles = submit(t, DEPENDENCIES, context)
    final = t.wait(handles, context, timeout=60)
    states = {key: s.state for key, s in final.items()}
    assert states[("prep", 0)] is TaskState.COMPLETED
    assert all(states[("many", i)] is TaskState.COMPLETED for i in range(4))
    logs = sorted(Path(h.log).read_text() for h in handles if h.task_id == "many")
    assert logs == [f"element {i} of 4\n" for i in range(4)]
    assert final[("bad", 0)].state is TaskState.FAILED and final[("bad", 0)].exit_code == 3
    assert states[("after-bad", 0)] is TaskState.NEVER_RUN
    assert not (context.workdir / "should-not-exist").exists()
    assert states[("g/a", 0)] is TaskState.FAILED
    assert states[("g/b", 0)] is TaskState.NEVER_RUN
    assert states[("g/c", 0)] is TaskState.COMPLETED
    if transformer is RecordingGE:
        submits = [c for c in Recording.calls if "qsub" in c and "-terse" in c]
        assert len(submits) == 5  # prep, the array, bad, after-bad, g
        array = [c for c in submits if "many.sh" in c[-1]]
        assert len(array) == 1 and "-hold_jid" in array[0]
        assert "#$ -t 1-4" in (context.run_dir / "many.sh").read_text()
        assert {h.native_id for h in handles if h.task_id == "many"} == {
            f"{array_id}.{i}" for i in range(1, 5) for array_id in [handles[1].data["job"]]
        }
        assert all(c[:3] == STANDIN for c in Recording.calls)


def test_replicas_100_is_exactly_one_submit_command(context):
    Recording.calls.clear()
    t = RecordingGE()
    _, handles = submit(
        t, "version: 1\ntasks:\n- {name: t, replicas: 100, command: ['true']}\n", context
    )
    assert len([c for c in Recording.calls if "-terse" in c]) == 1
    assert len(handles) == 100
    final = t.wait(handles, context, timeout=120)
    assert {s.state for s in final.values()} == {TaskState.COMPLETED}


def test_a_job_in_an_error_state_fails_with_the_reason_and_is_deleted(context):
    class NoSuchDir(GridEngineWords):
        def cwd_options(self, path):
            return [["-wd", path + "/missing"]]

    class T(GridEngineTransformer):
        scheduler = NoSuchDir()

    t = T()
    _, handles = submit(t, "version: 1\ntasks:\n- {name: t, command: ['true']}\n", context)
    final = t.wait(handles, context, timeout=20)
    status = final[("t", 0)]
    assert status.state is TaskState.FAILED
    assert "error state (Eqw)" in status.reason and "deleted" in status.reason
    # the explain command (qstat -j) says why
    assert "error: can't chdir to directory" in status.reason, status.reason
    job = context.run_dir / ".standin" / handles[0].data["job"]
    assert (job / "state").read_text() == "cancelled"  # deleted, not pending forever
    assert T().status(handles, context)[("t", 0)].state is TaskState.FAILED  # it holds


def test_a_job_deleted_behind_jobspecs_back_is_cancelled(context):
    t = GridEngineTransformer()
    _, handles = submit(t, "version: 1\ntasks:\n- {name: t, command: [sleep, '30']}\n", context)
    wait_for(t, handles, context, {TaskState.RUNNING})
    qdel = [*STANDIN, "--kind", "sge", "qdel", handles[0].data["job"]]
    assert subprocess.run(qdel, cwd=context.run_dir, capture_output=True).returncode == 0
    final = t.wait(handles, context, timeout=20)
    assert final[("t", 0)].state is TaskState.CANCELLED
    assert "deleted outside jobspec" in final[("t", 0)].reason


def test_a_job_that_vanished_is_lost_after_the_grace(context):
    t = GenericTransformer()  # no accounting: only the grace decides
    type(t.scheduler).lost_grace = 1.0
    try:
        _, handles = submit(t, "version: 1\ntasks:\n- {name: t, command: [sleep, '30']}\n", context)
        wait_for(t, handles, context, {TaskState.RUNNING})
        job = context.run_dir / ".standin" / handles[0].data["job"]
        os.killpg(int((job / "pid").read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(job)  # the scheduler forgot it
        first = t.status(handles, context)[("t", 0)]
        assert first.state is TaskState.RUNNING and "not in the queue" in first.reason
        final = t.wait(handles, context, timeout=10)
        assert final[("t", 0)].state is TaskState.LOST
    finally:
        type(t.scheduler).lost_grace = 60.0


def test_validation_refuses_before_anything_is_submitted(context):
    text = (
        "version: 1\ntasks:\n- {name: ok, command: ['true']}\n"
        "- name: big\n  resources: {type: slot, count: 1, with: [{type: core, count: 5000}]}\n"
        "  command: ['true']\n"
    )
    with pytest.raises(SubmitError, match="refuses big; nothing was submitted") as refused:
        submit(HugeTransformer(), text, context)
    assert refused.value.submitted == []
    assert not any((context.run_dir / ".standin").glob("[0-9]*"))


def test_a_submit_command_that_validates_refuses_with_its_reason(context):
    """submit_validates: no separate validation pass; the refusal is the scheduler's, and
    what was submitted before it is cancelled (Decision 68)."""
    text = (
        "version: 1\ntasks:\n- {name: ok, command: [sleep, '30']}\n"
        "- name: big\n  resources: {type: slot, count: 1, with: [{type: core, count: 5000}]}\n"
        "  command: ['true']\n"
    )
    plan = api.plan(api.load_text(text, "test.yaml"))
    submission = ValidatingTransformer().render(plan, context)
    assert not any("validation command" in note for note in submission.notes)
    assert [u["validate"] for u in submission.data["batch"]["units"].values()] == [None, None]
    assert any("checks each job as it is submitted" in note for note in submission.notes)
    with pytest.raises(SubmitError) as refused:
        submit(ValidatingTransformer(), text, context)
    message = str(refused.value)
    assert "Grid Engine refuses big; the 1 job(s) submitted before it were cancelled" in message
    assert "no suitable queues" in message
    assert [h.task_id for h in refused.value.submitted] == ["ok"]
    final = ValidatingTransformer().wait(refused.value.submitted, context, timeout=20)
    assert final[("ok", 0)].state is TaskState.CANCELLED


def test_a_submission_refused_part_way_cancels_what_was_submitted(context, tmp_path):
    count = tmp_path / "count"
    wrapper = tmp_path / "submit-twice"
    real = " ".join(f"'{w}'" for w in [*STANDIN, "--kind", "sge", "qsub", "-terse"])
    wrapper.write_text(
        "#!/bin/sh\n"
        f'n=$(cat "{count}" 2>/dev/null || echo 0); echo $((n + 1)) >"{count}"\n'
        '[ "$n" -lt 2 ] || { echo "queue full" >&2; exit 1; }\n'
        f'exec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    context.options["submit"] = str(wrapper)
    three = "version: 1\ntasks:\n" + "".join(
        f"- {{name: t{i}, command: [sleep, '30']}}\n" for i in range(3)
    )
    with pytest.raises(SubmitError, match="queue full") as refused:
        submit(GridEngineTransformer(), three, context)
    submitted = refused.value.submitted
    assert [h.task_id for h in submitted] == ["t0", "t1"]
    del context.options["submit"]
    final = GridEngineTransformer().wait(submitted, context, timeout=20)
    assert {s.state for s in final.values()} == {TaskState.CANCELLED}


def test_status_from_a_fresh_instance_with_stored_handles(context, monkeypatch):
    t = GridEngineTransformer()
    _, handles = submit(
        t, "version: 1\ntasks:\n- {name: t, replicas: 2, command: ['true']}\n", context
    )
    again = [TaskHandle.from_dict(h.to_dict()) for h in handles]
    # Another shell, another environment: the handles still reach the jobs' scheduler.
    monkeypatch.setenv("JOBSPEC_TEST_GE_SCHEDULER", "native")
    monkeypatch.setenv("JOBSPEC_TEST_GE_STATUS", "/nonexistent/qstat")
    final = GridEngineTransformer().wait(again, context, timeout=20)
    assert {s.state for s in final.values()} == {TaskState.COMPLETED}


def test_submit_submits_what_render_produced(context):
    Recording.calls.clear()
    t = RecordingGE()
    plan = api.plan(api.load_text("version: 1\ntasks:\n- {name: t, command: ['true']}\n", "t.yaml"))
    submission = t.render(plan, context)
    submission.units[0].argv[-1:-1] = ["-N", "edited"]  # a change made after render is what runs
    submission.write(context.run_dir)

    def no_render(*args, **kw):
        raise AssertionError("submit rendered again")

    t.render = no_render  # type: ignore[method-assign]
    handles = t.submit(plan, submission, context)
    submitted = [c for c in Recording.calls if "-terse" in c]
    assert submitted == [submission.units[0].argv]
    final = t.wait(handles, context, timeout=20)
    assert final[("t", 0)].state is TaskState.COMPLETED


def test_overrides_use_the_jobspec_prefix_not_the_schedulers(context, monkeypatch):
    monkeypatch.setenv("SGE_SUBMIT", "/bin/false")  # the scheduler's namespace is not ours
    commands = GridEngineTransformer().commands(context)
    assert commands["submit"][-2:] == ["qsub", "-terse"]
    monkeypatch.setenv("JOBSPEC_TEST_GE_SUBMIT", "my-qsub -terse")
    monkeypatch.setenv("JOBSPEC_TEST_GE_VALIDATE", "")
    commands = GridEngineTransformer().commands(context)
    assert commands["submit"] == ["my-qsub", "-terse"] and commands["validate"] is None
    assert sys.executable in GridEngineTransformer().commands(context)["status"]


@pytest.mark.parametrize("transformer", [GridEngineTransformer, GenericTransformer])
def test_stand_in_faults_end_as_a_scheduler_site_needs(transformer, context):
    t = transformer()
    faults = t.conformance_faults(t)
    text = (
        "version: 1\ntasks:\n"
        + "".join(f"- {{name: {n}, command: [sleep, '60']}}\n" for n in ("e", "d", "l"))
        + "- {name: after, depends_on: [e], command: ['true']}\n"
    )
    _, handles = submit(t, text, context)
    by = {h.task_id: h for h in handles}
    wait_for(t, [by["e"], by["d"], by["l"]], context, {TaskState.RUNNING})
    faults.force_error(by["e"], context)
    faults.delete_behind(by["d"], context)
    faults.limit_behind(by["l"], context, 1)
    final = t.wait(handles, context, timeout=30)
    assert final[("e", 0)].state is TaskState.FAILED and "error state" in final[("e", 0)].reason
    assert final[("after", 0)].state is TaskState.NEVER_RUN
    assert final[("d", 0)].state in (TaskState.CANCELLED, TaskState.FAILED)
    assert final[("d", 0)].reason
    if transformer is GenericTransformer:  # the test's Grid Engine words leave qacct's 37 out
        assert final[("l", 0)].state is TaskState.TIMEOUT


def test_accounting_is_read_per_array_element(context):
    """An element's own accounting entry decides for it, its job's only when there is none:
    element 1 was killed at the limit while the array as a whole says failed."""
    from batch_vocabulary import GenericWords
    from jobspec_core.batch import CommandResult, JobState, NativeStatus

    class Words(GenericWords):
        accounting_command = ("acct",)

        def parse_status(self, result, job_ids):
            return {}  # gone from the queue

        def parse_accounting(self, results, job_ids):
            assert job_ids == ["7"]
            return {
                "7": NativeStatus(JobState.FAILED, "failed 1", 1, "node failure"),
                "7.1": NativeStatus(JobState.TIMEOUT, "failed 37", None, "h_rt"),
            }

    class Canned(LocalRunner):
        def run(self, argv, **kw):
            return CommandResult(tuple(argv), 0, "", "")

    class T(BatchTransformer):
        name = "test_acct"
        scheduler = Words()

        def command_runner(self, context):
            return Canned()

    records = context.run_dir / "records"
    records.mkdir(parents=True)
    follow = {"status": ["st"], "cancel": ["cn"], "accounting": ["acct"], "explain": None}
    handles = [
        TaskHandle(
            "t",
            i,
            f"7.{i}",
            None,
            {
                "job": "7",
                "record": str(records / f"t.{i}"),
                "after": [],
                "duration": None,
                "commands": follow,
            },
        )
        for i in (0, 1)
    ]
    statuses = T().status(handles, context)
    assert statuses[("t", 1)].state is TaskState.TIMEOUT and "h_rt" in statuses[("t", 1)].reason
    assert statuses[("t", 0)].state is TaskState.FAILED
    assert "node failure" in statuses[("t", 0)].reason
