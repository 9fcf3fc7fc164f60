"""The run commands through the real CLI: exit codes, output, --json, watch streaming, the
TTY progress line, and clear errors (never a traceback). Uses the installed local backend."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("jobspec_local", reason="the run commands are tested on the local backend")

TIMEOUT = 120


@pytest.fixture
def env(tmp_path):
    out = dict(os.environ)
    out.pop("JOBSPEC_TRANSFORMER", None)
    out["JOBSPEC_STORE"] = str(tmp_path / "state" / "runs.sqlite")
    return out


def cli(tmp_path, env, *args, timeout=TIMEOUT):
    proc = subprocess.run(
        [sys.executable, "-m", "jobspec_core", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def write(tmp_path: Path, text: str, name: str = "job.yaml") -> str:
    (tmp_path / name).write_text(textwrap.dedent(text))
    return name


OK = """
    version: 1
    tasks:
    - name: build
      command: ["sh", "-c", "echo built"]
    - name: test
      depends_on: [build]
      replicas: 2
      attributes: {watch: true}
      command: ["sh", "-c", "echo hello from $JOBSPEC_TASK_INDEX; printf 'no newline'"]
"""


def test_run_success_prints_status_and_streams_watched_output(tmp_path, env):
    proc = cli(tmp_path, env, "run", write(tmp_path, OK))
    assert proc.returncode == 0, proc.stderr
    assert "submitted to local (3 task instances)" in proc.stderr
    assert "[test.0] hello from 0" in proc.stdout and "[test.1] hello from 1" in proc.stdout
    assert "[test.0] no newline" in proc.stdout
    assert "[build.0]" not in proc.stdout  # not watched
    assert "completed" in proc.stdout and "3 completed" in proc.stdout
    # not a terminal: plain lines, one per instance as it ends
    assert "build.0: completed (exit 0)" in proc.stderr


def test_run_failure_exit_1_and_dependents_never_started(tmp_path, env):
    job = write(
        tmp_path,
        """
        version: 1
        tasks:
        - {name: bad, command: ["sh", "-c", "echo oops >&2; exit 7"]}
        - {name: dep, depends_on: [bad], command: ["touch", "dep-ran"]}
        """,
    )
    proc = cli(tmp_path, env, "run", "--json", job)
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    tasks = {t["task_id"]: t for t in data["tasks"]}
    assert tasks["bad"]["state"] == "failed" and tasks["bad"]["exit_code"] == 7
    assert tasks["dep"]["state"] == "never_run"
    assert not (tmp_path / "dep-ran").exists()
    logs = cli(tmp_path, env, "logs", data["run"]["run_id"][:17], "bad")
    assert logs.returncode == 0 and logs.stdout == "oops\n"
    waited = cli(tmp_path, env, "wait", "latest")
    assert waited.returncode == 1


def test_json_output_stays_parseable_with_watched_tasks(tmp_path, env):
    proc = cli(tmp_path, env, "run", "--json", write(tmp_path, OK))
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["succeeded"] is True
    assert "[test.0] hello from 0" in proc.stderr


def test_invalid_document_exit_2_and_nothing_recorded(tmp_path, env):
    job = write(tmp_path, 'version: 1\ntasks:\n- name: a\n  comand: ["true"]\n')
    proc = cli(tmp_path, env, "run", job)
    assert proc.returncode == 2
    assert "job.yaml:" in proc.stderr and "comand" in proc.stderr
    listed = cli(tmp_path, env, "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []


def test_unknown_transformer_and_bad_option_are_usage_errors(tmp_path, env):
    job = write(tmp_path, OK)
    proc = cli(tmp_path, env, "run", "-t", "nope", job)
    assert proc.returncode == 2 and "no such transformer" in proc.stderr and "local" in proc.stderr
    proc = cli(tmp_path, env, "run", "-O", "cores", job)
    assert proc.returncode == 2 and "KEY=VALUE" in proc.stderr


def test_over_capacity_is_exit_2_with_the_task_named(tmp_path, env):
    job = write(
        tmp_path,
        """
        version: 1
        tasks:
        - name: wide
          resources: {type: slot, count: 1, with: [{type: core, count: 64}]}
          command: ["true"]
        """,
    )
    proc = cli(tmp_path, env, "run", "-O", "cores=2", job)
    assert proc.returncode == 2
    assert "wide" in proc.stderr and "64 cores" in proc.stderr


def test_status_list_logs_and_errors(tmp_path, env):
    empty = cli(tmp_path, env, "status")
    assert empty.returncode == 1 and "no runs recorded yet" in empty.stderr
    run = cli(tmp_path, env, "run", "--detach", write(tmp_path, OK))
    run_id = run.stdout.strip()
    assert cli(tmp_path, env, "wait", run_id).returncode == 0
    status = cli(tmp_path, env, "status")
    assert status.returncode == 0 and run_id in status.stdout
    assert "local:" in status.stdout  # native ids are shown
    as_json = json.loads(cli(tmp_path, env, "status", "--json", run_id).stdout)
    assert as_json["succeeded"] is True and as_json["counts"] == {"completed": 3}
    listed = cli(tmp_path, env, "list")
    assert run_id in listed.stdout and "completed" in listed.stdout
    logs = cli(tmp_path, env, "logs", run_id)
    assert "==> build.0 <==\nbuilt\n" in logs.stdout and "==> test.1 <==" in logs.stdout
    one = cli(tmp_path, env, "logs", run_id, "test.1")
    assert one.stdout == "hello from 1\nno newline"
    missing = cli(tmp_path, env, "logs", run_id, "nope")
    assert missing.returncode == 1 and "build, test" in missing.stderr
    unknown = cli(tmp_path, env, "status", "zzz")
    assert unknown.returncode == 1 and "no run matches 'zzz'" in unknown.stderr


def test_store_flag_overrides_the_environment(tmp_path, env):
    job = write(tmp_path, 'version: 1\ntasks:\n- command: ["true"]\n')
    other = tmp_path / "other.sqlite"
    assert cli(tmp_path, env, "run", "--store", str(other), job).returncode == 0
    assert other.exists()
    assert json.loads(cli(tmp_path, env, "list", "--json").stdout) == []
    assert len(json.loads(cli(tmp_path, env, "list", "--json", "--store", str(other)).stdout)) == 1


def test_wait_timeout_on_a_running_run(tmp_path, env):
    job = write(tmp_path, 'version: 1\ntasks:\n- command: ["sleep", "20"]\n')
    run_id = cli(tmp_path, env, "run", "--detach", job).stdout.strip()
    proc = cli(tmp_path, env, "wait", run_id, "--timeout", "0.5")
    assert proc.returncode == 1 and "has not finished after 0.5 s" in proc.stderr
    assert cli(tmp_path, env, "cancel", run_id).returncode == 0
    final = json.loads(cli(tmp_path, env, "status", "--json", run_id).stdout)
    assert final["tasks"][0]["state"] == "cancelled" and final["run"]["state"] == "cancelled"


def test_progress_line_on_a_terminal(tmp_path, env):
    job = write(
        tmp_path, 'version: 1\ntasks:\n- {name: a, replicas: 3, command: ["sleep", "0.3"]}\n'
    )
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobspec_core", "run", job],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=follower,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=TIMEOUT)
    os.close(leader)
    shown = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert "\r" in shown and "completed" in shown
    assert "a.0: completed" not in shown  # the plain per-instance lines are for non-terminals


def test_detach_json_then_wait_json_and_cancel_json(tmp_path, env):
    """Every run command's --json is one parseable document, from any process."""
    job = write(tmp_path, 'version: 1\ntasks:\n- {name: a, command: ["sh", "-c", "exit 0"]}\n')
    detached = cli(tmp_path, env, "run", "--detach", "--json", job)
    assert detached.returncode == 0, detached.stderr
    run_id = json.loads(detached.stdout)["run_id"]
    waited = cli(tmp_path, env, "wait", "--json", run_id)
    assert waited.returncode == 0, waited.stderr
    status = json.loads(waited.stdout)
    assert status["run"]["run_id"] == run_id and status["succeeded"] is True
    assert [(t["task_id"], t["state"]) for t in status["tasks"]] == [("a", "completed")]
    cancelled = cli(tmp_path, env, "cancel", "--json", run_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout)["tasks"][0]["state"] == "completed"
