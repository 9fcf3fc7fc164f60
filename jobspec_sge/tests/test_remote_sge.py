"""``jobspec run -t sge --remote HOST``: the batch layer's remote submission, through a real
sshd on 127.0.0.1 to the real Grid Engine of the tests (issue 15). The sge transformer has
no code of its own for it: every command goes through the layer's command runner.

The local side is a new ``jobspec`` process whose PATH has no Grid Engine command and whose
environment has no SGE variable; the sshd's sessions get them, as a login node would.
"""

from __future__ import annotations

import json
import textwrap

import pytest
from jobspec_core.testing.remote import RemoteBench
from jobspec_core.testing.sshd import unavailable

pytestmark = [
    pytest.mark.sge,
    pytest.mark.skipif(unavailable() is not None, reason=str(unavailable())),
]


@pytest.fixture(scope="module")
def bench(sge_cluster, tmp_path_factory):
    bench = RemoteBench(tmp_path_factory.mktemp("remote-sge"), dict(sge_cluster.env)).start()
    yield bench
    bench.stop()


def _states(stdout: str) -> dict[tuple[str, int], str]:
    return {(t["task_id"], t["index"]): t["state"] for t in json.loads(stdout)["tasks"]}


def test_pipeline_completes_on_grid_engine_remotely(bench, sge_cluster):
    spec = bench.workdir / "pipeline.yaml"
    spec.write_text(
        textwrap.dedent(
            """\
            version: 1
            tasks:
            - name: prepare
              command: [echo, prepared]
            - name: fan
              replicas: 3
              depends_on: [prepare]
              command: [sh, -c, 'echo "fan $JOBSPEC_TASK_INDEX"']
            - group: pipeline
              depends_on: [fan]
            groups:
            - name: pipeline
              tasks:
              - name: one
                command: [echo, one]
              - name: two
                depends_on: [one]
                command: [echo, two]
            """
        )
    )
    local_bin = bench.jobspec("run", "-t", "sge", "--json", str(spec))
    assert local_bin.returncode != 0  # no qsub on the local side: it must go over ssh
    commands = bench.sshd.commands()
    cores = {"JOBSPEC_SGE_CORES_PER_NODE": str(sge_cluster.slots)}
    ran = bench.jobspec("run", "-t", "sge", "--remote", bench.target, "--json", str(spec), **cores)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr
    states = _states(ran.stdout)
    assert len(states) == 6 and set(states.values()) == {"completed"}, states
    assert bench.sshd.commands() > commands
    run_id = json.loads(ran.stdout)["run"]["run_id"]
    remote_dir = bench.remote_home / ".jobspec" / "runs" / run_id
    assert (remote_dir / "logs" / "fan.2.out").is_file()

    before = bench.sshd.commands()
    status = bench.jobspec("status", run_id, "--json", **cores)
    assert status.returncode == 0, status.stderr
    assert set(_states(status.stdout).values()) == {"completed"}
    assert bench.sshd.commands() == before  # a finished run is answered from the store
    logs = bench.jobspec("logs", run_id, "fan", **cores)
    assert "fan 0" in logs.stdout and "fan 2" in logs.stdout, logs.stdout + logs.stderr


def test_cancel_and_one_command_per_poll_on_grid_engine(bench, sge_cluster):
    spec = bench.workdir / "long.yaml"
    spec.write_text("version: 1\ntasks:\n- name: long\n  replicas: 4\n  command: [sleep, '300']\n")
    cores = {"JOBSPEC_SGE_CORES_PER_NODE": str(sge_cluster.slots)}
    started = bench.jobspec(
        "run", "-t", "sge", "--remote", bench.target, "--detach", str(spec), **cores
    )
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    polls = []
    for _ in range(2):
        before = bench.sshd.commands()
        status = bench.jobspec("status", run_id, "--json", **cores)
        assert status.returncode == 0, status.stderr
        polls.append(bench.sshd.commands() - before)
    assert polls == [1, 1]
    cancelled = bench.jobspec("cancel", run_id, "--json", **cores)
    assert cancelled.returncode == 0, cancelled.stderr
    waited = bench.jobspec("wait", run_id, "--json", "--timeout", "60", **cores)
    assert set(_states(waited.stdout).values()) == {"cancelled"}, waited.stdout
    qstat = sge_cluster.run(["qstat", "-u", "*"]).stdout
    assert run_id[:8] not in qstat


def test_connection_killed_mid_submission_records_what_exists(bench, sge_cluster):
    """The second of three qsub calls is accepted, then the connection dies before its answer
    comes back: the first job is cancelled, the run is recorded failed, and the message
    names the jobs recorded and says that one whose answer was lost may exist (the batch
    layer cannot look for it); no traceback."""
    counter = bench.root / "qsub-calls"
    counter.write_text("")
    wrapper = bench.remote_home / "qsub-then-cut"
    wrapper.write_text(
        textwrap.dedent(
            f"""\
            #!/bin/sh
            echo x >> {counter}
            if [ "$(wc -l < {counter})" -eq 2 ]; then
                qsub "$@" > /dev/null
                kill -9 "$PPID"   # the sshd process of this connection
                sleep 5
                exit 1
            fi
            exec qsub "$@"
            """
        )
    )
    wrapper.chmod(0o755)
    spec = bench.workdir / "three.yaml"
    spec.write_text(
        "version: 1\ntasks:\n"
        + "".join(f"- name: t{n}\n  command: [sleep, '60']\n" for n in range(3))
    )
    cores = {"JOBSPEC_SGE_CORES_PER_NODE": str(sge_cluster.slots)}
    ran = bench.jobspec(
        "run", "-t", "sge", "--remote", bench.target, "--detach", str(spec),
        "-O", f"submit={wrapper} -terse -w e -S /bin/sh", **cores,
    )  # fmt: skip
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr
    assert "jobs recorded as submitted" in ran.stderr and "check the scheduler's queue" in (
        ran.stderr
    ), ran.stderr
    assert counter.read_text().count("x") == 2
    listed = bench.jobspec("status", "latest", "--json", **cores)
    tasks = json.loads(listed.stdout)["tasks"]
    assert {t["state"] for t in tasks} == {"cancelled"}
    assert [t["native_id"] for t in tasks if t["native_id"]] != []  # the first job is recorded
    first = next(t["native_id"] for t in tasks if t["native_id"])
    rows = [line.split() for line in sge_cluster.run(["qstat", "-u", "*"]).stdout.splitlines()]
    states = {row[0]: row[4] for row in rows if len(row) > 4 and row[0].isdigit()}
    assert "d" in states.get(first, "d"), states  # gone, or being deleted
    sge_cluster.run(["qdel", "-u", "*"])  # the job whose answer was lost, left by design
