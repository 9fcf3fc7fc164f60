"""The run store: where it lives, run ids, prefixes, records, schema version, WAL, and
eight processes writing at once without losing anything."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest
from jobspec_core.errors import StoreError
from jobspec_core.statedir import default_store_path, new_run_id, resolve_store_path
from jobspec_core.store import RunStore
from jobspec_core.transformer import TaskHandle, TaskState, TaskStatus


def test_store_path_flag_then_env_then_xdg(tmp_path):
    env = {"JOBSPEC_STORE": str(tmp_path / "env.sqlite"), "XDG_STATE_HOME": str(tmp_path / "xdg")}
    assert resolve_store_path(str(tmp_path / "flag.sqlite"), env) == tmp_path / "flag.sqlite"
    assert resolve_store_path(None, env) == tmp_path / "env.sqlite"
    del env["JOBSPEC_STORE"]
    assert resolve_store_path(None, env) == tmp_path / "xdg" / "jobspec" / "runs.sqlite"
    home_default = default_store_path({})
    assert home_default.parts[-4:] == (".local", "state", "jobspec", "runs.sqlite")


def test_run_ids_are_short_sortable_and_distinct():
    ids = [new_run_id(1_700_000_000 + i) for i in range(50)]
    assert ids == sorted(ids)
    assert all(len(i) == len("20231114-221320-abcd") for i in ids)
    assert len(set(new_run_id(1_700_000_000) for _ in range(200))) > 190


def _make(store, name="job", instances=(("a", 0), ("b", 0), ("b", 1))):
    return store.create_run(
        name=name,
        transformer="local",
        source="/x/job.yaml",
        workdir="/x",
        options={"cores": "2"},
        instances=list(instances),
    )


def test_records_round_trip(tmp_path):
    store = RunStore(tmp_path / "s.sqlite")
    run = _make(store)
    assert run.state == "submitting" and run.options == {"cores": "2"}
    assert (tmp_path / "runs" / run.run_id).is_dir()
    handles = [TaskHandle("a", 0, "n-a", log="/l/a", data={"k": 1}), TaskHandle("b", 1, "n-b1")]
    store.set_handles(run.run_id, handles)
    store.set_run_state(run.run_id, "running")
    changed = store.update_tasks(
        run.run_id,
        {
            ("a", 0): TaskStatus(TaskState.FAILED, 3, "exit code 3", 1.0, 2.0),
            ("b", 1): TaskStatus(TaskState.RUNNING, started_at=1.5),
        },
    )
    assert changed == 2
    assert (
        store.update_tasks(run.run_id, {("b", 1): TaskStatus(TaskState.RUNNING, started_at=1.5)})
        == 0
    )
    tasks = {t.key: t for t in store.tasks(run.run_id)}
    assert [t.key for t in store.tasks(run.run_id)] == [("a", 0), ("b", 0), ("b", 1)]
    assert tasks[("a", 0)].handle == handles[0] and tasks[("a", 0)].log == "/l/a"
    assert (tasks[("a", 0)].state, tasks[("a", 0)].exit_code) == (TaskState.FAILED, 3)
    assert tasks[("b", 0)].handle is None and tasks[("b", 0)].state is TaskState.PENDING
    store.set_run_state(run.run_id, "failed", error="boom")
    again = RunStore(tmp_path / "s.sqlite").get_run(run.run_id)
    assert again.state == "failed" and again.error == "boom" and again.finished_at is not None


def test_resolve_prefix_latest_and_errors(tmp_path):
    store = RunStore(tmp_path / "s.sqlite")
    with pytest.raises(StoreError, match="no runs recorded yet"):
        store.resolve(None)
    first, second = _make(store), _make(store)
    assert store.resolve(None) == second.run_id == store.resolve("latest")
    assert store.resolve(first.run_id) == first.run_id
    with pytest.raises(StoreError, match="ambiguous"):
        store.resolve(first.run_id[:9])
    with pytest.raises(StoreError, match="no run matches 'zzz'"):
        store.resolve("zzz")
    with pytest.raises(StoreError):
        store.resolve("%")  # LIKE wildcards are literal
    assert [r.run_id for r in store.list_runs()] == [second.run_id, first.run_id]
    assert [r.run_id for r in store.list_runs(limit=1)] == [second.run_id]


def test_wal_mode_and_schema_version(tmp_path):
    path = tmp_path / "s.sqlite"
    RunStore(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute("UPDATE schema_version SET version = 99")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema version 99"):
        RunStore(path)


def test_unusable_store_path_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="cannot open the run store"):
        RunStore(blocker / "sub" / "runs.sqlite")


WRITER = textwrap.dedent(
    """
    import sys, time
    from jobspec_core.store import RunStore
    from jobspec_core.transformer import TaskHandle, TaskState, TaskStatus
    store = RunStore(sys.argv[1])
    barrier = float(sys.argv[2])
    while time.time() < barrier:
        time.sleep(0.001)
    for n in range(5):
        inst = [(f"t{i}", 0) for i in range(20)]
        run = store.create_run(name=f"w{sys.argv[3]}-{n}", transformer="local", source=None,
                               workdir="/", instances=inst)
        store.set_handles(run.run_id, [TaskHandle(t, i, f"{run.run_id}:{t}") for t, i in inst])
        store.set_run_state(run.run_id, "running")
        store.update_tasks(run.run_id, {k: TaskStatus(TaskState.COMPLETED, 0) for k in inst})
        store.set_run_state(run.run_id, "completed")
    """
)


def test_eight_processes_writing_at_once_lose_nothing(tmp_path):
    import time

    path = tmp_path / "s.sqlite"
    RunStore(path).close()
    barrier = time.time() + 1.5
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(barrier), str(w)], stderr=subprocess.PIPE
        )
        for w in range(8)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    store = RunStore(path)
    runs = store.list_runs(limit=1000)
    assert len(runs) == 40 and len({r.run_id for r in runs}) == 40
    assert {r.name for r in runs} == {f"w{w}-{n}" for w in range(8) for n in range(5)}
    for run in runs:
        tasks = store.tasks(run.run_id)
        assert run.state == "completed" and len(tasks) == 20
        assert all(t.state is TaskState.COMPLETED and t.native_id for t in tasks)


def test_a_version_2_store_is_migrated_keeping_its_runs(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE schema_version (version INTEGER NOT NULL);
        INSERT INTO schema_version VALUES (2);
        CREATE TABLE runs (run_id TEXT PRIMARY KEY, name TEXT NOT NULL,
            transformer TEXT NOT NULL, source TEXT, workdir TEXT NOT NULL,
            run_dir TEXT NOT NULL, options TEXT NOT NULL DEFAULT '{}', submitter TEXT,
            created_at REAL NOT NULL, updated_at REAL NOT NULL, finished_at REAL,
            state TEXT NOT NULL, error TEXT);
        INSERT INTO runs VALUES ('20260101-000000-abcd', 'old', 'local', NULL, '/w', '/r',
            '{}', NULL, 1.0, 1.0, 2.0, 'completed', NULL);
        """
    )
    db.commit()
    db.close()
    store = RunStore(path)
    (run,) = store.list_runs()
    assert (run.run_id, run.name, run.state, run.owner) == (
        "20260101-000000-abcd",
        "old",
        "completed",
        None,
    )
    assert store.list_runs(owner="alice") == []
    store.close()
    assert sqlite3.connect(path).execute("SELECT version FROM schema_version").fetchone()[0] == 4


def test_runs_and_tokens_by_owner(tmp_path):
    from jobspec_core.tokens import create_token, revoke, verify_token

    store = RunStore(tmp_path / "s.sqlite")
    mine = store.create_run(name="a", transformer="local", source=None, workdir="/w", owner="al")
    store.create_run(name="b", transformer="local", source=None, workdir="/w", owner="bo")
    assert [r.run_id for r in store.list_runs(owner="al")] == [mine.run_id]
    assert len(store.list_runs()) == 2
    token_id, token = create_token(store, "al")
    assert verify_token(store, token).user == "al"
    assert verify_token(store, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert revoke(store, "al", token_id) == 1
    assert verify_token(store, token) is None
    assert revoke(store, "al") == 0
