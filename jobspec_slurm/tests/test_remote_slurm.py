"""``jobspec run -t slurm --remote HOST`` through a real sshd on 127.0.0.1 to the real Slurm
cluster of the tests (issue 15).

The local side of every run is a new ``jobspec`` process whose PATH has no Slurm command and
whose environment has no SLURM_CONF: every scheduler command must go over SSH (the sshd's
sessions get SLURM_CONF and a remote HOME of their own, as a login node would).
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobspec_core.testing.remote import RemoteBench
from jobspec_core.testing.sshd import unavailable

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(unavailable() is not None, reason=str(unavailable())),
]

PIPELINE = """\
version: 1
tasks:
- name: prepare
  command: [sh, -c, 'echo prepared; echo "home=$HOME"']
- name: fan
  replicas: 3
  depends_on: [prepare]
  command: [sh, -c, 'echo "fan $JOBSPEC_TASK_INDEX of $JOBSPEC_TASK_COUNT"']
- group: pipeline
  depends_on: [fan]
groups:
- name: pipeline
  tasks:
  - name: step-one
    command: [echo, step one]
  - name: step-two
    depends_on: [step-one]
    command: [echo, step two]
"""


@pytest.fixture(scope="module")
def bench(slurm_cluster, tmp_path_factory):
    bench = RemoteBench(tmp_path_factory.mktemp("remote-slurm"), dict(slurm_cluster.env)).start()
    yield bench
    bench.stop()


def _doc(bench: RemoteBench, name: str, text: str) -> Path:
    path = bench.workdir / name
    path.write_text(textwrap.dedent(text))
    return path


def _states(result: subprocess.CompletedProcess) -> dict[tuple[str, int], str]:
    data = json.loads(result.stdout)
    return {(t["task_id"], t["index"]): t["state"] for t in data["tasks"]}


def _squeue_of(slurm_cluster, run_dir_prefix: str) -> list[str]:
    """Unfinished jobs whose batch script lies under ``run_dir_prefix`` (asked locally,
    by the test, of the cluster itself)."""
    out = slurm_cluster.run(["squeue", "-h", "-t", "PD,R,CG,S,CF", "-o", "%i|%o"]).stdout
    return [line for line in out.splitlines() if line.partition("|")[2].startswith(run_dir_prefix)]


def test_local_side_cannot_run_slurm_itself(bench):
    found = subprocess.run(
        ["sh", "-c", "command -v sbatch squeue scancel || true"],
        env=bench.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.strip() == "", found.stdout


def test_pipeline_completes_remotely_and_is_followed_from_new_shells(bench):
    spec = _doc(bench, "pipeline.yaml", PIPELINE)
    logins, commands = bench.sshd.logins(), bench.sshd.commands()
    ran = bench.jobspec("run", "-t", "slurm", "--remote", bench.target, "--json", str(spec))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr
    states = _states(ran)
    assert len(states) == 1 + 3 + 2 + 0 and set(states.values()) == {"completed"}, states
    assert bench.sshd.commands() > commands  # everything went over ssh
    assert bench.sshd.logins() - logins <= 1
    run_id = json.loads(ran.stdout)["run"]["run_id"]

    # the run directory is the remote one (under the remote HOME), and the local mirror
    # has the records but never the tasks' output
    remote_dir = bench.remote_home / ".jobspec" / "runs" / run_id
    assert (remote_dir / "slurm" / "status").is_dir()
    outputs = list((remote_dir / "logs").glob("*.out"))
    assert outputs
    local = Path(json.loads(ran.stdout)["run"]["run_dir"])
    assert local != remote_dir and not list(local.glob("logs/*.out"))
    mirrored = {p.name for p in (local / "slurm" / "status").iterdir()}
    assert mirrored == {p.name for p in (remote_dir / "slurm" / "status").iterdir()}

    status = bench.jobspec("status", run_id, "--json")
    assert status.returncode == 0, status.stderr
    assert set(_states(status).values()) == {"completed"}
    logs = bench.jobspec("logs", run_id, "fan")
    assert logs.returncode == 0, logs.stderr
    assert "fan 0 of 3" in logs.stdout and "fan 2 of 3" in logs.stdout
    prepare = bench.jobspec("logs", run_id, "prepare")
    assert f"home={bench.remote_home}" in prepare.stdout, prepare.stdout
    group = bench.jobspec("logs", run_id, "pipeline/step-two")
    assert "step two" in group.stdout, group.stdout + group.stderr


def test_cancel_and_wait_from_new_shells(bench, slurm_cluster):
    spec = _doc(
        bench,
        "long.yaml",
        """\
        version: 1
        tasks:
        - name: long
          command: [sleep, '300']
        - name: after
          depends_on: [long]
          command: [echo, never]
        """,
    )
    started = bench.jobspec("run", "-t", "slurm", "--remote", bench.target, "--detach", str(spec))
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    status = bench.jobspec("status", run_id, "--json")
    assert status.returncode == 0, status.stderr
    assert _states(status)[("after", 0)] == "pending"
    prefix = str(bench.remote_home / ".jobspec" / "runs" / run_id) + "/"
    assert len(_squeue_of(slurm_cluster, prefix)) == 2

    cancelled = bench.jobspec("cancel", run_id, "--json")
    assert cancelled.returncode == 0, cancelled.stderr
    waited = bench.jobspec("wait", run_id, "--json", "--timeout", "60")
    assert waited.returncode == 1
    states = _states(waited)
    assert states[("long", 0)] == "cancelled"
    assert states[("after", 0)] in ("cancelled", "never_run")
    assert _squeue_of(slurm_cluster, prefix) == []


def test_remote_on_a_local_run_is_refused(bench):
    spec = _doc(bench, "hello.yaml", "version: 1\ntasks:\n- command: [echo, hi]\n")
    ran = bench.jobspec("run", "-t", "local", "--detach", str(spec))
    assert ran.returncode == 0, ran.stderr
    status = bench.jobspec("status", ran.stdout.strip(), "--remote", bench.target)
    assert status.returncode == 2 and "not submitted with --remote" in status.stderr
    refused = bench.jobspec("run", "-t", "local", "--remote", bench.target, str(spec))
    assert refused.returncode == 2 and "cannot submit to a remote host" in refused.stderr


def test_hundred_instances_log_in_once_and_poll_with_one_command(bench):
    spec = _doc(
        bench,
        "hundred.yaml",
        """\
        version: 1
        tasks:
        - name: many
          replicas: 100
          command: [sh, -c, 'sleep 2; echo "$JOBSPEC_TASK_INDEX"']
        """,
    )
    # a control directory of its own: the first login is counted here
    control = bench.root / "ctl-hundred"
    control.mkdir()
    env = {"JOBSPEC_SSH_CONTROL_DIR": str(control)}
    logins = bench.sshd.logins()
    started = bench.jobspec(
        "run", "-t", "slurm", "--remote", bench.target, "--detach", str(spec), **env
    )
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    polls = []
    for _ in range(3):
        before = bench.sshd.commands()
        status = bench.jobspec("status", run_id, "--json", **env)
        assert status.returncode == 0, status.stderr
        polls.append(bench.sshd.commands() - before)
    waited = bench.jobspec("wait", run_id, "--json", **env)
    assert waited.returncode == 0, waited.stdout + waited.stderr
    assert set(_states(waited).values()) == {"completed"} and len(_states(waited)) == 100
    logs = bench.jobspec("logs", run_id, "many.99", **env)
    assert logs.stdout.strip() == "99", logs.stdout + logs.stderr
    print(f"100 instances: {bench.sshd.logins() - logins} login(s), polls {polls}")
    assert polls == [1, 1, 1], polls
    assert bench.sshd.logins() - logins <= 2, bench.sshd.logins() - logins
    subprocess.run(
        ["ssh", "-F", str(bench.sshd.client_config), "-S", "none", "-O", "exit", bench.target],
        capture_output=True,
        check=False,
    )
    for sock in control.glob("*"):
        subprocess.run(
            ["ssh", "-F", str(bench.sshd.client_config), "-S", str(sock), "-O", "exit", "x"],
            capture_output=True,
            check=False,
        )


def test_connection_killed_mid_submission_leaves_no_job_unaccounted(bench, slurm_cluster):
    """The second of three sbatch calls is accepted, then the connection dies before its
    answer comes back: jobspec logs in again, cancels the first job AND the second (whose
    id it never learnt), and says so; squeue shows nothing of the run."""
    wrapper = bench.remote_home / "sbatch-then-cut"
    counter = bench.root / "sbatch-calls"
    counter.write_text("")
    wrapper.write_text(
        textwrap.dedent(
            f"""\
            #!/bin/sh
            echo x >> {counter}
            if [ "$(wc -l < {counter})" -eq 2 ]; then
                sbatch "$@" > /dev/null
                kill -9 "$PPID"   # the sshd process of this connection
                sleep 5
                exit 1
            fi
            exec sbatch "$@"
            """
        )
    )
    wrapper.chmod(0o755)
    spec = _doc(
        bench,
        "three.yaml",
        """\
        version: 1
        tasks:
        - name: one
          command: [sleep, '60']
        - name: two
          command: [sleep, '60']
        - name: three
          command: [sleep, '60']
        """,
    )
    ran = bench.jobspec(
        "run", "-t", "slurm", "--remote", bench.target, "-O", f"sbatch={wrapper}", "--detach",
        str(spec),
    )  # fmt: skip
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr
    assert "connection" in ran.stderr
    assert "whose answer was lost" in ran.stderr, ran.stderr
    assert counter.read_text().count("x") == 2  # the third was never submitted
    deadline = time.monotonic() + 30
    while _squeue_of(slurm_cluster, str(bench.remote_home)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _squeue_of(slurm_cluster, str(bench.remote_home)) == []


def test_changed_host_key_and_wrong_user_are_refused_cleanly(bench, tmp_path):
    spec = _doc(bench, "hi.yaml", "version: 1\ntasks:\n- command: [echo, hi]\n")
    runs_before = bench.jobspec("list").stdout
    wrong = bench.jobspec(
        "run", "-t", "slurm", "--remote", f"nobody-here@{bench.target}", str(spec)
    )
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    assert "login was refused" in wrong.stderr, wrong.stderr

    # a known_hosts holding another key for the host: refused, whatever the user config
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    known = tmp_path / "known_hosts"
    public = other.with_suffix(".pub").read_text().split()
    known.write_text(f"[127.0.0.1]:{bench.sshd.port} {public[0]} {public[1]}\n")
    config = tmp_path / "ssh_config"
    config.write_text(
        bench.sshd.client_config.read_text().replace(str(bench.sshd.known_hosts), str(known))
    )
    changed = bench.jobspec(
        "run", "-t", "slurm", "--remote", bench.target, str(spec),
        JOBSPEC_SSH_CONFIG=str(config), JOBSPEC_SSH_CONTROL_DIR=str(tmp_path / "c"),
    )  # fmt: skip
    assert changed.returncode == 1 and "Traceback" not in changed.stderr
    assert "host key" in changed.stderr and "never skips the check" in changed.stderr
    assert bench.jobspec("list").stdout == runs_before  # nothing was recorded


def test_transform_shows_the_remote_paths(bench):
    spec = _doc(bench, "t.yaml", "version: 1\ntasks:\n- command: [echo, hi]\n")
    shown = bench.jobspec("transform", "-t", "slurm", "--remote", bench.target, str(spec))
    assert shown.returncode == 0, shown.stderr
    remote = f"{bench.remote_home}/.jobspec/runs/RUN_ID"
    assert remote in shown.stdout
    assert str(bench.workdir / "jobspec-run") not in shown.stdout


# -- byte for byte ----------------------------------------------------------------------
_WORD = st.text(
    st.characters(
        blacklist_categories=("Cs", "Cc"),
        whitelist_characters="\t $`\"'\\;&|*?!#(){}[]<>~",
    ),
    min_size=1,
    max_size=10,
)


#: shell characters in a folder name (Slurm's --output cannot carry a backslash or a
#: newline: the Slurm transformer refuses those with exit 2, tested elsewhere)
_FOLDER = st.text(st.sampled_from(" $`\"';&|*?!#(){}[]<>~=+,.-_aé"), min_size=1, max_size=8)


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(words=st.lists(_WORD, min_size=1, max_size=4), value=_WORD, folder=_FOLDER)
def test_env_argv_and_paths_reach_the_remote_task_byte_for_byte(bench, words, value, folder):
    """Shell characters in an environment value, in argv words and in the remote run
    directory's path arrive unchanged in the task on the remote host."""
    import yaml

    out_name = "seen.bin"
    doc = {
        "version": 1,
        "tasks": [
            {
                "name": "echo",
                "command": ["sh", "-c", f'printf "%s\\0" "$V" "$PWD" "$@" > {out_name}', "sh"]
                + words,
                "attributes": {"environment": {"V": value}},
            }
        ],
    }
    spec = bench.workdir / "prop.yaml"
    spec.write_text(yaml.safe_dump(doc, allow_unicode=True))
    base = f"runs {folder}".replace("/", "_")
    ran = bench.jobspec(
        "run", "-t", "slurm", "--remote", bench.target, "--remote-dir", base, "--json", str(spec),
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = json.loads(ran.stdout)["run"]["run_id"]
    remote = bench.remote_home / base / run_id
    seen = (remote / out_name).read_bytes().split(b"\0")[:-1]
    assert seen == [value.encode(), str(remote).encode(), *(w.encode() for w in words)]


def test_wait_survives_a_dropped_connection(bench):
    """The shared connection is killed while `jobspec wait` follows a run: wait logs in
    again (once) and sees the run to its end."""
    import os
    import re
    import signal
    import sys

    spec = _doc(bench, "short.yaml", "version: 1\ntasks:\n- command: [sleep, '6']\n")
    control = bench.root / "ctl-drop"
    control.mkdir()
    env = {"JOBSPEC_SSH_CONTROL_DIR": str(control)}
    started = bench.jobspec(
        "run", "-t", "slurm", "--remote", bench.target, "--detach", str(spec), **env
    )
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    logins = bench.sshd.logins()
    waiter = subprocess.Popen(
        [sys.executable, "-m", "jobspec_core", "wait", run_id, "--json"],
        cwd=bench.workdir,
        env=bench.env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2)
    (sock,) = list(control.iterdir())
    check = subprocess.run(
        ["ssh", "-S", str(sock), "-O", "check", "x"], capture_output=True, text=True
    )
    pid = int(re.search(r"pid=(\d+)", check.stderr).group(1))
    os.kill(pid, signal.SIGKILL)  # the connection dies; its socket stays behind
    out, err = waiter.communicate(timeout=120)
    assert waiter.returncode == 0, out + err
    assert "Traceback" not in err
    assert set(_states(subprocess.CompletedProcess([], 0, out, err)).values()) == {"completed"}
    assert bench.sshd.logins() - logins == 1  # one new login, not one per poll
