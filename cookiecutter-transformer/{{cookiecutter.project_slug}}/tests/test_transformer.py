"""The transformer's own promises beyond the conformance suite, through the stand-in
scheduler: cancelling, a submission refused part-way, and following a run from another
process. They keep holding when you change scheduler.py (run them with the stand-in:
``{{ cookiecutter.__env_prefix }}_SCHEDULER=local pytest tests/test_transformer.py``).
"""

import os
import stat
import sys
import time

import pytest
from jobspec_core import api
from jobspec_core.errors import BackendError, SubmitError
from jobspec_core.plugins import load_registry
from jobspec_core.transformer import RunContext, TaskHandle, TaskState

# Found the way jobspec finds it: through the entry point in pyproject.toml.
Transformer = load_registry().transformers["{{ cookiecutter.transformer_name }}"]
commands = sys.modules[Transformer.__module__].commands

THREE_JOBS = """
version: 1
tasks:
- name: first
  command: ["sleep", "30"]
- name: second
  command: ["sleep", "30"]
- name: third
  command: ["true"]
"""


@pytest.fixture
def context(tmp_path, monkeypatch):
    monkeypatch.setenv("{{ cookiecutter.__env_prefix }}_SCHEDULER", "local")
    for verb in ("SUBMIT", "STATUS", "CANCEL"):
        monkeypatch.delenv(f"{{ cookiecutter.__env_prefix }}_{verb}", raising=False)
    (tmp_path / "work").mkdir()
    return RunContext("test-run", tmp_path / "run", tmp_path / "work")


def submit(text, context):
    plan = api.plan(api.load_text(text, "test.yaml"))
    transformer = Transformer()
    submission = transformer.render(plan, context)
    submission.write(context.run_dir)
    return transformer, plan, submission, transformer.submit(plan, submission, context)


def wait_for(transformer, handles, context, states, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        statuses = transformer.status(handles, context)
        if all(s.state in states for s in statuses.values()) or time.monotonic() > deadline:
            return statuses
        time.sleep(0.1)


def test_cancel_stops_running_jobs_and_reports_them_cancelled(context):
    transformer, _, _, handles = submit(THREE_JOBS, context)
    running = wait_for(transformer, handles[:2], context, {TaskState.RUNNING})
    assert {s.state for s in running.values()} == {TaskState.RUNNING}
    transformer.cancel(handles, context)
    final = transformer.wait(handles, context, timeout=20)
    assert final[("first", 0)].state is TaskState.CANCELLED
    assert final[("second", 0)].state is TaskState.CANCELLED
    assert final[("third", 0)].state in (TaskState.COMPLETED, TaskState.CANCELLED)


def test_a_submission_refused_part_way_cancels_what_was_submitted(context, tmp_path):
    # A submit command that works twice, then is refused, as a full queue would.
    count = tmp_path / "count"
    wrapper = tmp_path / "submit-twice"
    real = " ".join(f"'{word}'" for word in commands(context)["submit"])
    wrapper.write_text(
        "#!/bin/sh\n"
        f'n=$(cat "{count}" 2>/dev/null || echo 0); echo $((n + 1)) >"{count}"\n'
        '[ "$n" -lt 2 ] || { echo "queue full" >&2; exit 1; }\n'
        f'exec {real} "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    context.options["submit"] = str(wrapper)
    with pytest.raises(SubmitError) as refused:
        submit(THREE_JOBS, context)
    assert "queue full" in str(refused.value)
    submitted = refused.value.submitted
    assert [h.task_id for h in submitted] == ["first", "second"]
    del context.options["submit"]
    final = Transformer().wait(submitted, context, timeout=20)
    assert {s.state for s in final.values()} == {TaskState.CANCELLED}


def test_status_works_from_a_fresh_instance_with_stored_handles(context, monkeypatch):
    transformer, _, _, handles = submit(THREE_JOBS.replace('"30"', '"0"'), context)
    stored = [h.to_dict() for h in handles]  # what the run store keeps
    again = [TaskHandle.from_dict(d) for d in stored]
    # Another shell, another environment: the handles still reach the jobs' scheduler.
    monkeypatch.setenv("{{ cookiecutter.__env_prefix }}_SCHEDULER", "native")
    monkeypatch.setenv("{{ cookiecutter.__env_prefix }}_STATUS", "/nonexistent/status-command")
    final = Transformer().wait(again, context, timeout=20)
    assert {s.state for s in final.values()} == {TaskState.COMPLETED}
    assert all(s.exit_code == 0 for s in final.values())
    assert all(os.path.exists(h.log) for h in again)


def test_an_unreachable_scheduler_is_a_clear_error(context):
    context.options["status"] = "/nonexistent/qstat"
    transformer = Transformer()
    handle = TaskHandle("t", 0, "1", data={"record": str(context.run_dir / "records" / "t.0")})
    with pytest.raises(BackendError, match="/nonexistent/qstat"):
        transformer.status([handle], context)


def test_dependents_of_a_failure_are_never_run_and_independent_work_goes_on(context):
    text = """
version: 1
tasks:
- name: bad
  command: ["sh", "-c", "exit 3"]
- name: after-bad
  depends_on: [bad]
  command: ["true"]
- group: g
groups:
- name: g
  tasks:
  - name: fails
    command: ["sh", "-c", "exit 4"]
  - name: blocked
    depends_on: [fails]
    command: ["true"]
  - name: independent
    command: ["sh", "-c", "sleep 1; echo still here"]
"""
    transformer, _, _, handles = submit(text, context)
    final = transformer.wait(handles, context, timeout=30)
    assert final[("bad", 0)].state is TaskState.FAILED and final[("bad", 0)].exit_code == 3
    assert final[("after-bad", 0)].state is TaskState.NEVER_RUN
    assert final[("g/blocked", 0)].state is TaskState.NEVER_RUN
    # The group's job kept running its independent task: it was not cancelled with the rest.
    assert final[("g/independent", 0)].state is TaskState.COMPLETED
    log = next(h.log for h in handles if h.task_id == "g/independent")
    assert open(log).read() == "still here\n"


def test_the_launcher_is_put_before_each_instance_command(context, monkeypatch):
    scheduler = sys.modules[Transformer.__module__].scheduler
    monkeypatch.setattr(scheduler, "launcher", lambda task: ["env", "LAUNCHED_BY=site launcher"])
    text = """
version: 1
tasks:
- name: t
  replicas: 2
  command: ["sh", "-c", "echo $LAUNCHED_BY $JOBSPEC_TASK_INDEX"]
"""
    transformer, _, _, handles = submit(text, context)
    final = transformer.wait(handles, context, timeout=20)
    assert {s.state for s in final.values()} == {TaskState.COMPLETED}
    outputs = sorted(open(h.log).read() for h in handles)
    assert outputs == ["site launcher 0\n", "site launcher 1\n"]


def test_the_first_resource_alternative_that_fits_the_largest_node_is_used(context):
    native = sys.modules[Transformer.__module__.rsplit(".", 1)[0] + ".native"]
    text = """
version: 1
resources:
  huge: {type: node, count: 1, with: [{type: slot, count: 1, with: [{type: core, count: 64}]}]}
  small: {type: slot, count: 1, with: [{type: core, count: 2}]}
tasks:
- name: t
  resources: huge|small
  command: ["true"]
"""
    plan = api.plan(api.load_text(text, "alternatives.yaml"))
    resources = plan.node("t").resources
    chosen, note = native.choose_alternative(resources, native.NodeShape(cores=8))
    assert (chosen.name, chosen.cores_per_slot) == ("small", 2)
    assert "huge needs 64 cores on one node, the largest has 8" in note
    chosen, note = native.choose_alternative(resources, native.NodeShape(cores=64))
    assert (chosen.name, note) == ("huge", None)
    chosen, note = native.choose_alternative(resources, native.NodeShape(cores=1))
    assert chosen.name == "huge" and "no alternative fits" in note


def test_a_job_whose_processes_died_is_reported_ended_not_running(context):
    import signal

    transformer, _, _, handles = submit(THREE_JOBS, context)
    wait_for(transformer, handles[:1], context, {TaskState.RUNNING})
    # Kill the first job's whole session at once, as a crashed node would: nothing records.
    job = context.run_dir / ".localsched" / handles[0].native_id.split(".")[0]
    sid = int((job / "pid").read_text().split()[0])
    os.killpg(sid, signal.SIGKILL)
    final = wait_for(transformer, handles[:1], context, {TaskState.FAILED, TaskState.LOST})
    assert final[("first", 0)].state in (TaskState.FAILED, TaskState.LOST)
    assert handles[0].native_id in final[("first", 0)].reason
    transformer.cancel(handles, context)
