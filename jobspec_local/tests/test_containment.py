"""Nothing a task starts outlives cancel, its duration limit or a dead supervisor (issue 11,
item 3). Tasks here escape their process group on purpose (``setsid``, a double fork that
leaves a daemon); ``ps`` is the judge: no process of the run may be left afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

from jobspec_core.store import RunStore
from local_helpers import cli_env, jobspec_cmd

TIMEOUT = 120


def _cli(tmp_path, store, *args, timeout=TIMEOUT):
    return subprocess.run(
        jobspec_cmd(*args),
        cwd=tmp_path,
        env=cli_env(store),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _job(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def _left(marks: list[str]) -> list[str]:
    """Processes whose command line holds one of ``marks`` (zombies are gone already)."""
    out = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True).stdout
    return [
        line
        for line in out.splitlines()
        if not line.lstrip().startswith("Z") and any(m in line for m in marks)
    ]


def _running(marks: list[str]) -> bool:
    """Every mark is the whole command line of a live process."""
    lines = {line.split(None, 1)[1] for line in _left(marks) if " " in line.strip()}
    return all(m in lines for m in marks)


def _until(predicate, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _none_left(marks, timeout=15.0):
    try:
        _until(lambda: not _left(marks), timeout, "the run's processes to be gone")
    except AssertionError:
        raise AssertionError(f"left running: {_left(marks)}") from None


def _tasks(tmp_path, store, run_id):
    proc = _cli(tmp_path, store, "status", "--json", run_id)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    data = json.loads(proc.stdout)
    return data, {(t["task_id"], t["index"]): t for t in data["tasks"]}


# Each command leaves a setsid'd child and a double-forked daemon, then waits.
ESCAPER = "setsid sleep {a} & (setsid sleep {b} & echo started > {name}.ready); sleep {c}"


def test_cancel_stops_what_tasks_started_outside_their_process_group(tmp_path):
    store = tmp_path / "runs.sqlite"
    marks = ["sleep 4101", "sleep 4102", "sleep 4103"]
    job = _job(
        tmp_path,
        f"""
        version: 1
        tasks:
        - name: escaper
          command: "{ESCAPER.format(a=4101, b=4102, c=4103, name="escaper")}"
        """,
    )
    detached = _cli(tmp_path, store, "run", "--detach", str(job))
    assert detached.returncode == 0, detached.stderr
    run_id = detached.stdout.strip()
    _until(lambda: (tmp_path / "escaper.ready").exists() and _running(marks))
    cancelled = _cli(tmp_path, store, "cancel", run_id)
    assert cancelled.returncode == 0, cancelled.stderr
    _none_left(marks)
    data, tasks = _tasks(tmp_path, store, run_id)
    assert tasks[("escaper", 0)]["state"] == "cancelled" and data["run"]["state"] == "cancelled"


def test_a_duration_limit_stops_what_the_task_started(tmp_path):
    store = tmp_path / "runs.sqlite"
    marks = ["sleep 4201", "sleep 4202", "sleep 4203"]
    job = _job(
        tmp_path,
        f"""
        version: 1
        tasks:
        - name: limited
          command: "{ESCAPER.format(a=4201, b=4202, c=4203, name="limited")}"
          attributes: {{duration: 2}}
        """,
    )
    result = _cli(tmp_path, store, "run", "--json", str(job))
    assert result.returncode == 1, result.stdout + result.stderr
    tasks = {t["task_id"]: t for t in json.loads(result.stdout)["tasks"]}
    assert tasks["limited"]["state"] == "timeout"
    _none_left(marks)


def test_a_task_that_ends_takes_what_it_left_with_it(tmp_path):
    store = tmp_path / "runs.sqlite"
    marks = ["sleep 4401", "sleep 4402"]
    job = _job(
        tmp_path,
        """
        version: 1
        tasks:
        - name: leaver
          command: "setsid sleep 4401 & (setsid sleep 4402 &); true"
        """,
    )
    result = _cli(tmp_path, store, "run", "--json", str(job))
    assert result.returncode == 0, result.stdout + result.stderr
    _none_left(marks)


def test_kill_9_of_the_supervisor_stops_every_task_and_status_says_so(tmp_path):
    store = tmp_path / "runs.sqlite"
    marks = ["sleep 4301", "sleep 4302", "sleep 4303", "sleep 4304"]
    job = _job(
        tmp_path,
        f"""
        version: 1
        tasks:
        - name: limited
          command: "{ESCAPER.format(a=4301, b=4302, c=4303, name="limited")}"
          attributes: {{duration: 3}}
        - name: forever
          command: ["sleep", "4304"]
        - name: after
          depends_on: [limited]
          command: ["touch", "after-ran"]
        """,
    )
    detached = _cli(tmp_path, store, "run", "--detach", "-O", "cores=4", str(job))
    assert detached.returncode == 0, detached.stderr
    run_id = detached.stdout.strip()
    _until(lambda: (tmp_path / "limited.ready").exists() and _running(marks))
    run_dir = Path(RunStore(store).get_run(run_id).run_dir)
    supervisor = json.loads((run_dir / "supervisor.json").read_text())["pid"]
    t0 = time.monotonic()
    os.kill(supervisor, signal.SIGKILL)
    _none_left(marks, timeout=3.0)  # well before the 3 s limit would have fired
    assert time.monotonic() - t0 < 3.0
    data, tasks = _tasks(tmp_path, store, run_id)
    for key in (("limited", 0), ("forever", 0)):
        assert tasks[key]["state"] == "failed", tasks[key]
        assert "supervisor" in tasks[key]["reason"] and "killed" in tasks[key]["reason"]
    assert tasks[("after", 0)]["state"] == "never_run"
    assert data["finished"] and not data["succeeded"] and data["run"]["state"] == "failed"
    assert not (tmp_path / "after-ran").exists()
    cancelled = _cli(tmp_path, store, "cancel", run_id)
    assert cancelled.returncode in (0, 1) and "Traceback" not in cancelled.stderr
