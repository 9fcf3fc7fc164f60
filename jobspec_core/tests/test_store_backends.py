"""The run store's contract, against both of its databases: SQLite (the embedded default)
and a real PostgreSQL server started by these tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from jobspec_core.store import RunStore
from jobspec_core.testing.postgres import LocalPostgres, unavailable
from jobspec_core.tokens import create_token, revoke, verify_token
from jobspec_core.transformer import TaskHandle, TaskState, TaskStatus


@pytest.fixture(scope="module")
def postgres():
    why = unavailable()
    if why:
        pytest.skip(why)
    # Reachable by the postgres user (not below pytest's 0700 base directory).
    state = tempfile.mkdtemp(prefix="jobspec-pg-", dir="/tmp")
    server = LocalPostgres(Path(state)).start()
    yield server
    server.stop()
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path, monkeypatch):
    monkeypatch.setenv("JOBSPEC_RUNS_DIR", str(tmp_path / "runs"))
    if request.param == "sqlite":
        return str(tmp_path / "runs.sqlite")
    server = request.getfixturevalue("postgres")
    return server.fresh_database(f"t{time.monotonic_ns()}")


def test_runs_round_trip_with_exact_times(store_url):
    store = RunStore(store_url)
    before = time.time()
    run = store.create_run(
        name="demo",
        transformer="local",
        source="/x/job.yaml",
        workdir="/w",
        options={"cores": "2"},
        instances=[("a", 0), ("b", 0), ("b", 1)],
        owner="al",
    )
    assert before <= run.created_at <= time.time()  # seconds kept (not a 4-byte float)
    assert abs(run.created_at - before) < 5
    assert store.get_run(run.run_id).options == {"cores": "2"}
    assert store.resolve(run.run_id[:12]) == run.run_id
    assert store.resolve("latest") == run.run_id
    assert [t.key for t in store.tasks(run.run_id)] == [("a", 0), ("b", 0), ("b", 1)]
    assert [r.run_id for r in store.list_runs(owner="al")] == [run.run_id]
    assert store.list_runs(owner="bo") == []
    assert Path(run.run_dir).is_dir()


def test_handles_and_statuses(store_url):
    store = RunStore(store_url)
    run = store.create_run(
        name="d", transformer="local", source=None, workdir="/w", instances=[("a", 0), ("a", 1)]
    )
    store.set_handles(run.run_id, [TaskHandle("a", 0, "n0", log="/l0", data={"k": [1, "x"]})])
    (first, second) = store.tasks(run.run_id)
    assert first.handle.data == {"k": [1, "x"]} and second.handle is None
    changed = store.update_tasks(
        run.run_id,
        {("a", 0): TaskStatus(TaskState.FAILED, 3, "exit code 3", 10.25, 11.5)},
    )
    assert changed == 1
    again = store.update_tasks(
        run.run_id, {("a", 0): TaskStatus(TaskState.FAILED, 3, "exit code 3", 10.25, 11.5)}
    )
    assert again == 0
    first = store.tasks(run.run_id)[0]
    assert (first.state, first.exit_code, first.reason, first.started_at, first.finished_at) == (
        TaskState.FAILED,
        3,
        "exit code 3",
        10.25,
        11.5,
    )
    store.set_run_state(run.run_id, "failed", error="it failed; 100% sure")
    got = store.get_run(run.run_id)
    assert got.state == "failed" and got.finished_at is not None
    assert got.error == "it failed; 100% sure"


def test_tokens(store_url):
    store = RunStore(store_url)
    token_id, token = create_token(store, "al", admin=True)
    assert verify_token(store, token).admin is True
    assert [t["token_id"] for t in store.tokens("al")] == [token_id]
    assert revoke(store, "al") == 1
    assert verify_token(store, token) is None


def test_eight_writers_lose_nothing(store_url, tmp_path):
    script = textwrap.dedent(
        """
        import sys
        from jobspec_core.store import RunStore
        from jobspec_core.transformer import TaskState, TaskStatus
        store = RunStore(sys.argv[1])
        for n in range(15):
            run = store.create_run(name=f"w{sys.argv[2]}-{n}", transformer="local",
                                   source=None, workdir="/w", instances=[("t", 0), ("t", 1)])
            store.update_tasks(run.run_id, {("t", 0): TaskStatus(TaskState.COMPLETED, 0)})
            store.set_run_state(run.run_id, "running")
        """
    )
    env = {**os.environ}
    writers = [
        subprocess.Popen([sys.executable, "-c", script, store_url, str(w)], env=env)
        for w in range(8)
    ]
    assert [w.wait(timeout=180) for w in writers] == [0] * 8
    store = RunStore(store_url)
    runs = store.list_runs(limit=1000)
    assert len(runs) == 120 and len({r.run_id for r in runs}) == 120
    assert sorted(r.name for r in runs) == sorted(f"w{w}-{n}" for w in range(8) for n in range(15))
    for run in runs:
        states = [t.state for t in store.tasks(run.run_id)]
        assert states == [TaskState.COMPLETED, TaskState.PENDING]
        assert run.state == "running"


def test_a_password_never_appears_in_messages(postgres):
    from jobspec_core.errors import StoreError

    url = f"postgresql://postgres:s3cret@127.0.0.1:{postgres.port}/no_such_database"
    with pytest.raises(StoreError) as info:
        RunStore(url)
    assert "s3cret" not in str(info.value) and "no_such_database" in str(info.value)


def test_parameters_are_recorded_and_a_version_3_store_is_migrated(store_url):
    """Schema 3 -> 4 adds runs.parameters; runs recorded before keep reading as ``{}``."""
    store = RunStore(store_url)
    # make it a version-3 store holding one run, as the previous release left it
    store._db.execute("ALTER TABLE runs DROP COLUMN parameters")
    store._db.execute("UPDATE schema_version SET version = 3")
    store._db.execute(
        "INSERT INTO runs (run_id, name, transformer, source, workdir, run_dir, options,"
        " created_at, updated_at, state) VALUES ('20260101-000000-abcd', 'old', 'local',"
        " NULL, '/w', '/r', '{}', 1.0, 1.0, 'completed')"
    )
    store.close()
    store = RunStore(store_url)
    (old,) = store.list_runs()
    assert (old.run_id, old.parameters) == ("20260101-000000-abcd", {})
    assert store._db.execute("SELECT version FROM schema_version").fetchone()[0] == 4
    values = {"nodes": 4, "mode": "fast", "ratio": 0.5, "debug": False, "time": "5m"}
    run = store.create_run(
        name="swept", transformer="local", source=None, workdir="/w", parameters=values
    )
    assert store.get_run(run.run_id).parameters == values
    assert [r.parameters for r in store.list_runs()] == [values, {}]
    bare = store.create_run(name="bare", transformer="local", source=None, workdir="/w")
    assert store.get_run(bare.run_id).parameters == {}
    assert (
        store._db.execute(
            "SELECT parameters FROM runs WHERE run_id = ?", (bare.run_id,)
        ).fetchone()[0]
        is None
    )
    store.close()
