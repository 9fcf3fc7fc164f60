"""The Flux backend against a real Flux instance (``flux start --test-size=4``), through
both drivers: the ``flux`` command line and flux-python. Skipped where flux is absent."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from flux_helpers import NASTY, plan_of, run
from jobspec_core.errors import SubmitError
from jobspec_core.transformer import TaskHandle, TaskState
from jobspec_flux.states import parse_jobid
from jobspec_flux.transformer import FluxTransformer

pytestmark = pytest.mark.flux


def _python_api_or_skip(api: str) -> None:
    if api == "python":
        try:
            import flux  # noqa: F401
            import flux.job  # noqa: F401
        except Exception as exc:  # noqa: BLE001
            pytest.skip(f"flux-python cannot be imported here: {exc}")


@pytest.fixture(params=["cli", "python"])
def api(request, flux_instance) -> str:
    _python_api_or_skip(request.param)
    return request.param


def _flux_jobs(ids: list[str]) -> dict[int, dict]:
    out = subprocess.run(
        ["flux", "jobs", "-a", "--json"], capture_output=True, text=True, check=True
    ).stdout
    jobs = {int(j["id"]): j for j in json.loads(out)["jobs"]}
    return {int(i): jobs[int(i)] for i in ids if int(i) in jobs}


PIPELINE = """
version: 1
tasks:
  - name: build
    command: ["sh", "-c", "sleep 1; date +%s.%N > build.done"]
  - name: sim
    replicas: 3
    depends_on: [build]
    command: "test -e build.done && echo sim-$JOBSPEC_TASK_INDEX-of-$JOBSPEC_TASK_COUNT"
  - group: g
    depends_on: [build]
groups:
  - name: g
    tasks:
      - name: start
        local: true
        command: "echo started > service.txt"
      - name: a
        depends_on: [start]
        command: "cat service.txt"
      - name: b
        replicas: 2
        depends_on: [a]
        command: "echo b-$JOBSPEC_TASK_INDEX"
      - name: c
        depends_on: [b]
        command: ["echo", "after-both-b"]
      - group: nested
      - name: stop
        local: true
        command: "echo stopped >> service.txt"
  - name: nested
    tasks:
      - name: deep
        command: ["sh", "-c", "echo deep-$JOBSPEC_TASK_NAME"]
"""


def test_pipeline_runs_in_order_with_groups_replicas_and_locals(api, context):
    handles, statuses = run(plan_of(PIPELINE), context, api)
    assert {h.data.get("via") for h in handles if h.data.get("kind") == "job"} == {api}
    assert sorted(statuses) == sorted(
        [
            ("build", 0),
            ("sim", 0),
            ("sim", 1),
            ("sim", 2),
            ("g/start", 0),
            ("g/a", 0),
            ("g/b", 0),
            ("g/b", 1),
            ("g/c", 0),
            ("g/nested/deep", 0),
            ("g/stop", 0),
        ]
    )
    assert {k: s.state for k, s in statuses.items()} == {
        k: TaskState.COMPLETED for k in statuses
    }, statuses
    logs = {h.key: Path(h.log).read_text() for h in handles}
    assert [logs[("sim", i)].strip() for i in range(3)] == [f"sim-{i}-of-3" for i in range(3)]
    assert logs[("g/a", 0)].strip() == "started"
    assert logs[("g/b", 1)].strip() == "b-1"
    assert logs[("g/c", 0)].strip() == "after-both-b"  # one --dependency per replica of b
    assert logs[("g/nested/deep", 0)].strip() == "deep-g/nested/deep"
    assert (context.workdir / "service.txt").read_text() == "started\nstopped\n"


FAILURES = """
version: 1
tasks:
  - name: bad
    command: "exit 3"
  - name: after-bad
    depends_on: [bad]
    command: ["touch", "after-bad.ran"]
  - name: slow
    command: ["sleep", "60"]
    attributes: {duration: 2}
  - name: missing
    command: ["/no/such/program"]
  - group: g
groups:
  - name: g
    tasks:
      - name: ibad
        command: "sleep 1; exit 4"
      - name: iafter
        depends_on: [ibad]
        command: ["touch", "iafter.ran"]
      - name: islow
        command: ["sleep", "60"]
        attributes: {duration: 2}
"""


def test_failed_local_entry_blocks_its_dependents(api, context):
    plan = plan_of(
        """
        version: 1
        tasks:
          - group: g
        groups:
          - name: g
            tasks:
              - name: svc
                local: true
                command: "exit 5"
              - name: work
                depends_on: [svc]
                command: ["touch", "work.ran"]
        """
    )
    handles, statuses = run(plan, context, api)
    assert (statuses[("g/svc", 0)].state, statuses[("g/svc", 0)].exit_code) == (TaskState.FAILED, 5)
    assert statuses[("g/work", 0)].state is TaskState.NEVER_RUN
    assert not (context.workdir / "work.ran").exists()


def test_failures_timeouts_and_dependents_never_run(api, context):
    started = time.monotonic()
    handles, statuses = run(plan_of(FAILURES), context, api)
    assert time.monotonic() - started < 60
    got = {k: (s.state, s.exit_code) for k, s in statuses.items()}
    assert got[("bad", 0)] == (TaskState.FAILED, 3)
    assert got[("after-bad", 0)][0] is TaskState.NEVER_RUN
    assert got[("slow", 0)] == (TaskState.TIMEOUT, 142)
    assert got[("missing", 0)] == (TaskState.FAILED, 127)
    assert got[("g/ibad", 0)] == (TaskState.FAILED, 4)
    assert got[("g/iafter", 0)][0] is TaskState.NEVER_RUN
    # read from the group's end-of-script `flux jobs -a --json` dump (no end marker)
    assert got[("g/islow", 0)] == (TaskState.TIMEOUT, 142)
    assert not (context.workdir / "after-bad.ran").exists()
    assert not (context.workdir / "iafter.ran").exists()


def test_status_and_cancel_from_another_process(api, context):
    plan = plan_of(
        """
        version: 1
        tasks:
          - name: long
            replicas: 2
            command: ["sleep", "300"]
          - group: g
        groups:
          - name: g
            tasks:
              - name: inner
                command: ["sleep", "300"]
        """
    )
    context.options["api"] = api
    transformer = FluxTransformer()
    submission = transformer.render(plan, context)
    submission.write(context.run_dir)
    handles = transformer.submit(plan, submission, context)
    stored = json.dumps([h.to_dict() for h in handles])
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from jobspec_core.transformer import RunContext, TaskHandle\n"
        "from jobspec_flux.transformer import FluxTransformer\n"
        "hs = [TaskHandle.from_dict(d) for d in json.loads(sys.argv[1])]\n"
        "ctx = RunContext(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))\n"
        "t = FluxTransformer()\n"
        "if sys.argv[5] == 'cancel': t.cancel(hs, ctx)\n"
        "st = t.wait(hs, ctx, timeout=60) if sys.argv[5] == 'cancel' else t.status(hs, ctx)\n"
        "print(json.dumps({f'{k[0]}@{k[1]}': v.state.value for k, v in st.items()}))\n"
    )
    argv = [
        sys.executable,
        "-c",
        script,
        stored,
        context.run_id,
        str(context.run_dir),
        str(context.workdir),
    ]
    deadline = time.monotonic() + 60
    while True:
        seen = json.loads(
            subprocess.run([*argv, "status"], capture_output=True, text=True, check=True).stdout
        )
        if set(seen.values()) == {"running"} or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert set(seen.values()) == {"running"}, seen
    seen = json.loads(
        subprocess.run([*argv, "cancel"], capture_output=True, text=True, check=True).stdout
    )
    assert set(seen.values()) == {"cancelled"}, seen
    jobs = _flux_jobs([h.native_id for h in handles])
    assert {j["result"] for j in jobs.values()} == {"CANCELED"}


def test_refused_third_submission_cancels_what_was_submitted(api, context):
    plan = plan_of(
        """
        version: 1
        tasks:
          - name: one
            command: ["sleep", "300"]
          - name: two
            replicas: 2
            command: ["sleep", "300"]
          - name: three
            command: ["true"]
            attributes:
              flux.queue: no-such-queue
        """
    )
    context.options["api"] = api
    transformer = FluxTransformer()
    submission = transformer.render(plan, context)
    submission.write(context.run_dir)
    with pytest.raises(SubmitError) as caught:
        transformer.submit(plan, submission, context)
    assert "three" in str(caught.value) and "queue" in str(caught.value)
    submitted = caught.value.submitted
    assert sorted(h.key for h in submitted) == [("one", 0), ("two", 0), ("two", 1)]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        jobs = _flux_jobs([h.native_id for h in submitted])
        if all(j["state"] == "INACTIVE" for j in jobs.values()):
            break
        time.sleep(0.2)
    assert len(jobs) == 3
    assert {j["result"] for j in jobs.values()} == {"CANCELED"}


def test_environment_cwd_and_argv_reach_the_task_exactly(api, context):
    (context.workdir / "sub dir").mkdir()
    doc = {
        "version": 1,
        "tasks": [
            {
                "name": "show",
                "replicas": 2,
                "command": [
                    sys.executable,
                    "-c",
                    "import os,json,sys; print(json.dumps([dict(os.environ), "
                    "os.getcwd(), sys.argv[1:]]))",
                    "{cc}",
                    "$HOME",
                    "a b",
                    "{{id}}",
                ],
                "attributes": {"environment": NASTY, "cwd": "sub dir"},
            }
        ],
    }
    handles, statuses = run(plan_of(yaml.safe_dump(doc, allow_unicode=True)), context, api)
    assert {s.state for s in statuses.values()} == {TaskState.COMPLETED}
    for handle in handles:
        env, cwd, args = json.loads(Path(handle.log).read_text())
        assert {k: env[k] for k in NASTY} == NASTY
        assert env["JOBSPEC_TASK_INDEX"] == str(handle.index)
        # the handle of replica i is the job Flux ran with FLUX_JOB_CC=i
        assert parse_jobid(env["FLUX_JOB_ID"]) == int(handle.native_id)
        assert cwd == str(context.workdir / "sub dir")
        assert args == ["{cc}", "$HOME", "a b", "{{id}}"]


def test_stage_and_write_steps_on_flux(api, context):
    (context.workdir / "data").mkdir()
    (context.workdir / "data" / "input.txt").write_text("staged content\n")
    plan = plan_of(
        """
        version: 1
        tasks:
          - name: use
            command: "cat data/input.txt conf.ini"
            steps:
              - name: stage
                path: data/input.txt
              - name: write
                path: conf.ini
                content: "written\\n"
        """
    )
    handles, statuses = run(plan, context, api)
    assert statuses[("use", 0)].state is TaskState.COMPLETED, statuses
    assert Path(handles[0].log).read_text() == "staged content\nwritten\n"
    archive = subprocess.run(
        ["flux", "archive", "list", "-n", f"jobspec.{context.run_id}.use.0"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "input.txt" in archive


def test_resource_alternative_that_fits_is_chosen(api, context):
    plan = plan_of(
        """
        version: 1
        resources:
          huge: {type: node, count: 1, with: [{type: core, count: 4096}]}
          small: {type: core, count: 2}
        tasks:
          - name: flexible
            resources: huge|small
            command: ["true"]
        """
    )
    handles, statuses = run(plan, context, api)
    assert statuses[("flexible", 0)].state is TaskState.COMPLETED, statuses
    job = _flux_jobs([handles[0].native_id])[int(handles[0].native_id)]
    assert job["ncores"] == 2
    # drift 5: what ran is what was rendered (chosen before rendering, not at submit)
    argv = FluxTransformer().render(plan, context).units[0].argv
    assert argv[argv.index("-c") + 1] == "2"


def test_watch_streams_output_and_keeps_the_log(api, context, capfd):
    plan = plan_of(
        """
        version: 1
        tasks:
          - name: watched
            attributes: {watch: true}
            command: "echo first; sleep 1; echo second"
          - name: after
            depends_on: [watched]
            command: ["true"]
        """
    )
    handles, statuses = run(plan, context, api)
    assert {s.state for s in statuses.values()} == {TaskState.COMPLETED}
    out = capfd.readouterr().out
    assert "[watched] first" in out and "[watched] second" in out
    log = next(h.log for h in handles if h.task_id == "watched")
    assert Path(log).read_text() == "first\nsecond\n"


def test_replicas_100_is_one_flux_submit_call(flux_instance, context, tmp_path):
    """Counts real calls through a logging shim in front of the real flux."""
    real = subprocess.run(
        ["sh", "-c", "command -v flux"], capture_output=True, text=True, check=True
    ).stdout.strip()
    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    calls = tmp_path / "calls.log"
    shim = shim_dir / "flux"
    shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {calls}\nexec {real} "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    plan = plan_of(
        """
        version: 1
        tasks:
          - name: many
            replicas: 100
            command: 'echo "$FLUX_JOB_ID $JOBSPEC_TASK_INDEX"'
        """
    )
    old_path = os.environ["PATH"]
    os.environ["PATH"] = f"{shim_dir}:{old_path}"
    try:
        handles, statuses = run(plan, context, "cli", timeout=180)
    finally:
        os.environ["PATH"] = old_path
    submits = [c for c in calls.read_text().splitlines() if c.startswith("submit ")]
    assert len(submits) == 1 and "--cc=0-99" in submits[0]
    assert len({h.native_id for h in handles}) == 100
    assert {s.state for s in statuses.values()} == {TaskState.COMPLETED}
    for handle in handles:  # replica i's handle is the job Flux ran with FLUX_JOB_CC=i
        job, index = Path(handle.log).read_text().split()
        assert (parse_jobid(job), int(index)) == (int(handle.native_id), handle.index)
    assert sorted(h.index for h in handles) == list(range(100))


def test_python_driver_validates_with_flux_validator(flux_instance):
    _python_api_or_skip("python")
    from jobspec_flux.api_backend import build_jobspec
    from jobspec_flux.driver import Refused
    from jobspec_flux.jobs import JobRequest

    good = build_jobspec(
        JobRequest("t", "task", ["true"], slots=2, cores_per_slot=1, duration=5, cwd="/tmp"), [123]
    )
    spec = json.loads(good.dumps())
    assert spec["attributes"]["system"]["duration"] == 5
    assert spec["attributes"]["system"]["dependencies"] == [{"scheme": "afterok", "value": "123"}]
    with pytest.raises(Refused):
        build_jobspec(JobRequest("t", "task", ["true"], slots=1, nodes=2), [])


def test_unreachable_instance_is_a_clear_backend_error(flux_instance, context, api):
    from jobspec_core.errors import BackendError

    handle = TaskHandle("t", 0, "12345", None, {"kind": "job", "via": api})
    context.options["api"] = api
    old = os.environ["FLUX_URI"]
    os.environ["FLUX_URI"] = "local:///nonexistent/flux-socket"
    try:
        with pytest.raises(BackendError, match="Flux"):
            FluxTransformer().status([handle], context)
    finally:
        os.environ["FLUX_URI"] = old
