"""``jobspec serve`` submitting to the real Slurm cluster these tests start: a document with
dependencies, replicas and a group, followed, logged and cancelled through the service."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")

from jobspec_core.testing.service import Server, jobspec_cli  # noqa: E402

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm_cluster")]

JOB = """\
version: 1
tasks:
- name: first
  command: [sh, -c, "echo first ran"]
- name: wide
  depends_on: [first]
  replicas: 2
  command: echo "replica $JOBSPEC_TASK_INDEX"
- group: pair
  depends_on: [wide]
groups:
- name: pair
  tasks:
  - name: a
    command: [sh, -c, "echo a in the group"]
  - name: b
    depends_on: [a]
    command: [sh, -c, "echo b in the group"]
"""

LONG = "version: 1\ntasks:\n- name: sleeper\n  command: [sleep, '300']\n"


def test_service_runs_on_slurm(tmp_path):
    store = tmp_path / "runs.sqlite"
    made = jobspec_cli("token", "create", "alice", store=store)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    env = {"SLURM_CONF": os.environ["SLURM_CONF"], "JOBSPEC_TRANSFORMER": "slurm"}
    server = Server(store, tmp_path / "server.log", env)
    try:
        status, body = server.request(
            "POST", "/api/v1/runs", {"jobspec": JOB, "transformer": "slurm"}, token
        )
        assert status == 201, body
        final = server.wait_finished(body["run_id"], token, timeout=240, poll=1)
        assert final["succeeded"], final
        assert final["run"]["transformer"] == "slurm"
        states = {(t["task_id"], t["index"]): t["state"] for t in final["tasks"]}
        assert states == {
            ("first", 0): "completed",
            ("wide", 0): "completed",
            ("wide", 1): "completed",
            ("pair/a", 0): "completed",
            ("pair/b", 0): "completed",
        }
        assert all(t["native_id"] for t in final["tasks"])
        status, text = server.request(
            "GET", f"/api/v1/runs/{body['run_id']}/logs?task=wide.1", token=token
        )
        assert (status, text) == (200, "replica 1\n")

        status, long = server.request(
            "POST", "/api/v1/runs", {"jobspec": LONG, "transformer": "slurm"}, token
        )
        assert status == 201
        server.request("POST", f"/api/v1/runs/{long['run_id']}/cancel", token=token)
        cancelled = server.wait_finished(long["run_id"], token, timeout=120, poll=1)
        assert cancelled["run"]["state"] == "cancelled"
    finally:
        server.stop()
    assert "Traceback" not in (tmp_path / "server.log").read_text()
