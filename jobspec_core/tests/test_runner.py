"""The runner: capability refusal before anything is recorded, render failures forgotten,
partial submissions recorded, default transformer, and following a real local run from a
second Runner on the same store (as another process would)."""

from __future__ import annotations

import pytest
from jobspec_core.errors import SubmitError, UnsupportedFeature
from jobspec_core.plugins import Registry
from jobspec_core.runner import Runner, default_transformer, instances_of
from jobspec_core.store import RunStore
from jobspec_core.transformer import (
    Submission,
    TaskHandle,
    TaskState,
    TaskStatus,
    Transformer,
)

from jobspec_core import api, builtin_steps, hookimpl

CALLS: list[str] = []


class HalfTransformer(Transformer):
    """Submits the first instance, then fails the way a scheduler refusing a job would."""

    name = "half"
    capabilities = frozenset({"tasks", "command", "portable-variables", "depends_on"})

    def render(self, plan, context):
        CALLS.append("render")
        if plan.name == "render-fails":
            raise RuntimeError("cannot render this")
        return Submission(self.name)

    def submit(self, plan, submission, context):
        CALLS.append("submit")
        first = next(plan.tasks())
        handle = TaskHandle(first.id, 0, "half-1")
        raise SubmitError("the second submission was refused (queue full)", [handle])

    def status(self, handles, context):
        return {h.key: TaskStatus(TaskState.CANCELLED) for h in handles}

    def cancel(self, handles, context):
        CALLS.append("cancel")


class _Plugin:
    @hookimpl
    def jobspec_register_transformers(self, register):
        register(HalfTransformer)


@pytest.fixture
def registry():
    return Registry.from_modules([("core_steps", builtin_steps), ("half", _Plugin())])


@pytest.fixture
def runner(tmp_path, registry):
    CALLS.clear()
    return Runner(RunStore(tmp_path / "runs.sqlite"), registry)


def plan_of(text, registry):
    return api.plan(api.load_text(text, "job.yaml"), registry)


def test_unsupported_feature_is_refused_before_anything(runner, registry, tmp_path):
    plan = plan_of(
        "version: 1\ntasks:\n- name: a\n  replicas: 3\n  attributes: {watch: true}\n"
        "  command: [x]\n",
        registry,
    )
    with pytest.raises(UnsupportedFeature) as info:
        runner.submit(plan, "half", workdir=tmp_path)
    assert "attributes.watch" in str(info.value) and "replicas" in str(info.value)
    assert "nothing was submitted" in str(info.value)
    assert CALLS == []
    assert runner.list_runs() == []


def test_render_failure_leaves_no_run(runner, registry, tmp_path):
    plan = plan_of("version: 1\nname: render-fails\ntasks:\n- command: [x]\n", registry)
    with pytest.raises(RuntimeError):
        runner.submit(plan, "half", workdir=tmp_path)
    assert runner.list_runs() == []
    runs_dir = tmp_path / "runs"
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_partial_submission_is_recorded_and_the_run_failed(runner, registry, tmp_path):
    plan = plan_of(
        "version: 1\ntasks:\n- name: a\n  command: [x]\n- name: b\n  command: [y]\n", registry
    )
    with pytest.raises(SubmitError):
        runner.submit(plan, "half", workdir=tmp_path)
    (run,) = runner.list_runs()
    assert run.state == "failed" and "queue full" in run.error
    status = runner.status(run.run_id)
    tasks = {t.task_id: t for t in status.tasks}
    assert tasks["a"].native_id == "half-1" and tasks["a"].state is TaskState.CANCELLED
    assert tasks["b"].native_id is None and tasks["b"].state is TaskState.CANCELLED
    assert "not submitted" in tasks["b"].reason
    assert status.finished and not status.succeeded
    assert runner.wait(run.run_id, timeout=1).finished


def test_default_transformer_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("JOBSPEC_TRANSFORMER", raising=False)
    assert default_transformer() == "local"
    monkeypatch.setenv("JOBSPEC_TRANSFORMER", "slurm")
    assert default_transformer() == "slurm"


def test_instances_of_lists_every_replica(registry):
    plan = plan_of(
        "version: 1\ntasks:\n- {name: a, replicas: 2, command: [x]}\n- command: [y]\n", registry
    )
    assert instances_of(plan) == [("a", 0), ("a", 1), ("task-1", 0)]


def test_a_second_runner_follows_a_local_run(tmp_path):
    plugin = pytest.importorskip("jobspec_local.plugin")
    registry = Registry.from_modules([("core_steps", builtin_steps), ("local", plugin)])
    store = tmp_path / "runs.sqlite"
    plan = plan_of(
        "version: 1\ntasks:\n- {name: a, command: [sleep, '0.5']}\n"
        "- {name: b, depends_on: [a], command: ['true']}\n",
        registry,
    )
    run_id = Runner(RunStore(store), registry).submit(plan, "local", workdir=tmp_path)
    other = Runner(RunStore(store), registry)
    assert other.status(run_id[:17]).run.run_id == run_id  # a unique prefix resolves
    final = other.wait(run_id, timeout=120)
    assert final.succeeded and final.run.state == "completed"
    assert [t.state for t in final.tasks] == [TaskState.COMPLETED, TaskState.COMPLETED]
    # the submitter's own view agrees, from the store
    assert Runner(RunStore(store), registry).record(run_id).run.state == "completed"


def test_a_run_whose_submitter_died_during_submission_is_reported_lost(runner, tmp_path):
    import subprocess

    from jobspec_core.liveness import identity

    child = subprocess.Popen(["sleep", "0.01"])
    dead = identity(child.pid)
    child.wait()
    run = runner.store.create_run(
        name="interrupted",
        transformer="half",
        source=None,
        workdir=tmp_path,
        instances=[("a", 0), ("b", 0)],
        submitter=dead,
    )
    alive_run = runner.store.create_run(
        name="in-progress",
        transformer="half",
        source=None,
        workdir=tmp_path,
        instances=[("a", 0)],
        submitter=identity(),
    )
    status = runner.status(run.run_id)
    assert status.run.state == "failed" and "during submission" in status.run.error
    assert {t.state for t in status.tasks} == {TaskState.LOST}
    assert status.finished and not status.succeeded
    # a submission still in progress (its submitter is this live process) is left alone
    assert runner.record(alive_run.run_id).run.state == "submitting"


def test_store_of_schema_version_1_is_migrated(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE schema_version (version INTEGER NOT NULL);"
        "INSERT INTO schema_version VALUES (1);"
        "CREATE TABLE runs (run_id TEXT PRIMARY KEY, name TEXT NOT NULL, transformer TEXT NOT NULL,"
        " source TEXT, workdir TEXT NOT NULL, run_dir TEXT NOT NULL, options TEXT NOT NULL"
        " DEFAULT '{}', created_at REAL NOT NULL, updated_at REAL NOT NULL, finished_at REAL,"
        " state TEXT NOT NULL, error TEXT);"
        "INSERT INTO runs VALUES ('20200101-000000-aaaa', 'old', 'local', NULL, '/', '/r', '{}',"
        " 1.0, 1.0, 2.0, 'completed', NULL);"
    )
    db.close()
    store = RunStore(path)
    assert store.get_run("20200101-000000-aaaa").submitter is None
    run = store.create_run(
        name="new", transformer="local", source=None, workdir="/", submitter={"pid": 1, "start": 2}
    )
    assert store.get_run(run.run_id).submitter == {"pid": 1, "start": 2}
