"""Faults and other processes: `jobspec run` killed with SIGKILL, the supervisor killed,
cancel and wait from another process, eight runs at once on one store. Real processes,
the real CLI, generous timeouts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

from jobspec_core.runner import Runner
from jobspec_core.store import RunStore
from local_helpers import cli_env, jobspec_cmd

TIMEOUT = 120


def _write(tmp_path: Path, text: str, name: str = "job.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _cli(tmp_path, store, *args, timeout=TIMEOUT):
    return subprocess.run(
        jobspec_cmd(*args),
        cwd=tmp_path,
        env=cli_env(store),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _status_json(tmp_path, store, run_ref=None):
    proc = _cli(tmp_path, store, "status", "--json", *([run_ref] if run_ref else []))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    data = json.loads(proc.stdout)
    return data, {t["task_id"]: t for t in data["tasks"]}


def _until(predicate, timeout=60, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _states(store):
    runner = Runner(RunStore(store))
    try:
        status = runner.status(runner.store.resolve(None))
    except Exception:
        return {}
    return {t.task_id: t.state.value for t in status.tasks}


PIPELINE = """
    version: 1
    tasks:
    - {name: quick, command: ["true"]}
    - {name: slow, command: ["sleep", "3"]}
    - {name: after, depends_on: [slow], command: ["true"]}
"""


def test_sigkill_of_jobspec_run_leaves_a_truthful_store(tmp_path):
    store = tmp_path / "runs.sqlite"
    job = _write(tmp_path, PIPELINE)
    proc = subprocess.Popen(
        jobspec_cmd("run", str(job)),
        cwd=tmp_path,
        env=cli_env(store),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _until(lambda: _states(store).get("slow") == "running", what="slow running")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=TIMEOUT)
    data, tasks = _status_json(tmp_path, store)
    # The run goes on (its supervisor is detached): the store says exactly that.
    assert tasks["quick"]["state"] == "completed" and tasks["quick"]["exit_code"] == 0
    assert tasks["slow"]["state"] == "running"
    assert tasks["after"]["state"] == "pending"
    waited = _cli(tmp_path, store, "wait", data["run"]["run_id"])
    assert waited.returncode == 0, waited.stdout + waited.stderr
    data, tasks = _status_json(tmp_path, store)
    assert {t["state"] for t in tasks.values()} == {"completed"}
    assert data["run"]["state"] == "completed"


def test_sigkill_of_the_supervisor_stops_its_tasks_and_reports_them(tmp_path):
    store = tmp_path / "runs.sqlite"
    job = _write(
        tmp_path,
        """
        version: 1
        tasks:
        - {name: quick, command: ["true"]}
        - {name: short, command: ["sleep", "1"]}
        - {name: long, command: ["sleep", "30"]}
        - {name: after, depends_on: [short], command: ["true"]}
        """,
    )
    detached = _cli(tmp_path, store, "run", "--detach", "-O", "cores=8", str(job))
    assert detached.returncode == 0, detached.stderr
    run_id = detached.stdout.strip()
    _until(lambda: _states(store).get("short") == "running", what="short running")
    _until(lambda: _states(store).get("quick") == "completed", what="quick completed")
    run_dir = Path(RunStore(store).get_run(run_id).run_dir)
    supervisor = json.loads((run_dir / "supervisor.json").read_text())["pid"]
    os.kill(supervisor, signal.SIGKILL)
    # Nothing of a run outlives its supervisor: its guardian stops what was running and
    # records it (issue 11 item 3; test_containment.py checks the processes with ps).
    _until(lambda: _status_json(tmp_path, store, run_id)[0]["finished"], what="recorded")
    data, tasks = _status_json(tmp_path, store, run_id)
    assert tasks["quick"]["state"] == "completed"
    for name in ("short", "long"):
        assert tasks[name]["state"] == "failed", tasks[name]
        assert "killed: its supervisor" in tasks[name]["reason"]
        assert "SIGKILL" in tasks[name]["reason"]
    assert tasks["after"]["state"] == "never_run"
    assert data["finished"] is True and data["succeeded"] is False
    cancelled = _cli(tmp_path, store, "cancel", run_id)
    assert cancelled.returncode in (0, 1), cancelled.stderr
    assert "Traceback" not in cancelled.stderr


def test_cancel_from_another_process(tmp_path):
    store = tmp_path / "runs.sqlite"
    job = _write(
        tmp_path,
        """
        version: 1
        tasks:
        - {name: long, command: ["sh", "-c", "echo $$ > long.pid; exec sleep 60"]}
        - {name: after, depends_on: [long], command: ["touch", "after-ran"]}
        """,
    )
    follower = subprocess.Popen(
        jobspec_cmd("run", str(job)),
        cwd=tmp_path,
        env=cli_env(store),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _until(lambda: _states(store).get("long") == "running", what="long running")
    _until(lambda: (tmp_path / "long.pid").exists() and (tmp_path / "long.pid").read_text())
    t0 = time.monotonic()
    cancelled = _cli(tmp_path, store, "cancel", "latest")
    assert cancelled.returncode == 0, cancelled.stderr
    assert time.monotonic() - t0 < 30
    out, err = follower.communicate(timeout=TIMEOUT)
    assert follower.returncode == 1, out + err
    data, tasks = _status_json(tmp_path, store)
    assert tasks["long"]["state"] == "cancelled"
    assert tasks["after"]["state"] in ("cancelled", "never_run")
    assert data["run"]["state"] == "cancelled"
    pid = int((tmp_path / "long.pid").read_text())
    stat = Path(f"/proc/{pid}/stat")
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    assert not (tmp_path / "after-ran").exists()


def test_detach_then_wait_from_another_process(tmp_path):
    store = tmp_path / "runs.sqlite"
    good = _write(
        tmp_path, 'version: 1\ntasks:\n- {name: a, command: ["sleep", "0.5"]}\n', "good.yaml"
    )
    bad = _write(tmp_path, 'version: 1\ntasks:\n- {name: a, command: ["false"]}\n', "bad.yaml")
    first = _cli(tmp_path, store, "run", "--detach", str(good))
    assert first.returncode == 0 and first.stdout.strip()
    second = _cli(tmp_path, store, "run", "--detach", "--json", str(bad))
    second_id = json.loads(second.stdout)["run_id"]
    ok = _cli(tmp_path, store, "wait", first.stdout.strip())
    assert ok.returncode == 0, ok.stdout + ok.stderr
    failed = _cli(tmp_path, store, "wait", second_id)
    assert failed.returncode == 1 and "failed" in failed.stdout


def test_eight_runs_at_once_on_one_store(tmp_path):
    store = tmp_path / "runs.sqlite"
    job = _write(
        tmp_path,
        """
        version: 1
        tasks:
        - {name: a, replicas: 3, command: ["true"]}
        - {name: b, depends_on: [a], command: ["true"]}
        """,
    )
    procs = [
        subprocess.Popen(
            jobspec_cmd("run", str(job)),
            cwd=tmp_path,
            env=cli_env(store),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    for p in procs:
        out, err = p.communicate(timeout=TIMEOUT)
        assert p.returncode == 0, out + err
    listed = _cli(tmp_path, store, "list", "--json")
    runs = json.loads(listed.stdout)
    assert len(runs) == 8 and len({r["run_id"] for r in runs}) == 8
    assert {r["state"] for r in runs} == {"completed"}
    for r in runs:
        data, _ = _status_json(tmp_path, store, r["run_id"])
        assert len(data["tasks"]) == 4
        assert {t["state"] for t in data["tasks"]} == {"completed"}


def test_ctrl_c_on_jobspec_run_cancels_the_run(tmp_path):
    store = tmp_path / "runs.sqlite"
    job = _write(tmp_path, 'version: 1\ntasks:\n- {name: long, command: ["sleep", "60"]}\n')
    proc = subprocess.Popen(
        jobspec_cmd("run", str(job)),
        cwd=tmp_path,
        env=cli_env(store),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _until(lambda: _states(store).get("long") == "running", what="long running")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 130, out + err
    assert "cancelling run" in err and "Traceback" not in err
    data, tasks = _status_json(tmp_path, store)
    assert tasks["long"]["state"] == "cancelled" and data["run"]["state"] == "cancelled"
