"""Remote runs in the core: the mirror map, the records brought back with a command over a
real sshd, the remote folder of runs, and what is refused (issue 15)."""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
from pathlib import Path

import pytest
from jobspec_core.batch.commands import LocalRunner, run_collecting
from jobspec_core.errors import UsageError
from jobspec_core.remote import (
    REMOTE,
    REMOTE_DIR,
    REMOTE_HOME,
    is_remote,
    local_path,
    register_mirror,
    remote_options,
    remote_run_dir,
    runner_for,
)
from jobspec_core.ssh import SshRunner, _extract_flat
from jobspec_core.testing.sshd import LoopbackSshd, unavailable


def test_local_path_maps_only_paths_under_a_registered_remote_dir(tmp_path):
    register_mirror("/remote/home/.jobspec/runs/R1", tmp_path / "mirror")
    assert local_path("/remote/home/.jobspec/runs/R1") == tmp_path / "mirror"
    assert local_path("/remote/home/.jobspec/runs/R1/slurm/status/a.0") == (
        tmp_path / "mirror" / "slurm" / "status" / "a.0"
    )
    assert local_path("/remote/home/.jobspec/runs/R10/x") == Path(
        "/remote/home/.jobspec/runs/R10/x"
    )
    assert local_path(tmp_path / "other") == tmp_path / "other"


def test_local_runs_use_the_local_runner():
    assert not is_remote({}) and not is_remote(None) and is_remote({REMOTE: "h"})
    assert isinstance(runner_for({"cores": "2"}), LocalRunner)


def test_run_collecting_with_a_local_runner_only_runs(tmp_path):
    result = run_collecting(LocalRunner(), ["sh", "-c", "echo hi"], tmp_path)
    assert result.returncode == 0 and result.stdout == "hi\n"


def test_extract_flat_keeps_whole_top_level_files_only(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in [("./a.0", b"completed 0"), ("./b.1.tmp.99", b"half"), ("./d/e", b"x")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("./l")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
    _extract_flat(buffer.getvalue(), tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["a.0"]
    assert (tmp_path / "m" / "a.0").read_bytes() == b"completed 0"


needs_sshd = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))


@pytest.fixture
def sshd(tmp_path, monkeypatch):
    control = tempfile.mkdtemp(prefix="jsrm-", dir="/tmp")
    monkeypatch.setenv("JOBSPEC_SSH_CONTROL_DIR", control)
    home = tmp_path / "remote home"
    home.mkdir()
    server = LoopbackSshd(tmp_path / "sshd", env={"HOME": str(home)}).start()
    monkeypatch.setenv("JOBSPEC_SSH_CONFIG", str(server.client_config))
    server.remote_home = home
    yield server
    SshRunner(server_target(server), config_file=server.client_config).close()
    server.stop()
    shutil.rmtree(control, ignore_errors=True)


def server_target(server):
    from jobspec_core.ssh import RemoteTarget

    return RemoteTarget(server.alias)


@needs_sshd
def test_a_command_and_the_records_come_back_in_one_remote_command(sshd, tmp_path):
    runner = SshRunner(server_target(sshd), config_file=sshd.client_config)
    records = sshd.remote_home / "records"
    records.mkdir()
    (records / "t.0.exit").write_text("code=0")
    (records / "t.1.tmp.5").write_text("half")
    before = sshd.commands()
    result = runner.run_collecting(
        ["sh", "-c", "echo out; echo err >&2; exit 3"], str(records), tmp_path / "mirror"
    )
    assert sshd.commands() - before == 1
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert [p.name for p in (tmp_path / "mirror").iterdir()] == ["t.0.exit"]
    # a folder that does not exist yet: the answer alone
    result = runner.run_collecting(["true"], str(sshd.remote_home / "none"), tmp_path / "m2")
    assert result.returncode == 0 and not (tmp_path / "m2").exists()
    runner.close()


@needs_sshd
def test_staged_files_go_over_before_the_next_command(sshd, tmp_path):
    runner = SshRunner(server_target(sshd), config_file=sshd.client_config)
    local = tmp_path / "mirror"
    local.mkdir()
    remote = sshd.remote_home / "runs" / "R"
    runner.stage(local, str(remote))
    (local / "late.sh").write_text("added after stage()")  # still goes: copied at first use
    assert not remote.exists()
    assert runner.run(["cat", "late.sh"], cwd=remote).stdout == "added after stage()"
    assert oct(remote.stat().st_mode & 0o777) == "0o700"
    runner.close()


@needs_sshd
def test_remote_options_resolve_the_folder_of_runs_under_the_remote_home(sshd, monkeypatch):
    monkeypatch.delenv("JOBSPEC_REMOTE_DIR", raising=False)
    options = remote_options(sshd.alias)
    home = str(sshd.remote_home)
    assert options == {REMOTE: sshd.alias, REMOTE_DIR: f"{home}/.jobspec/runs", REMOTE_HOME: home}
    assert str(remote_run_dir(options, "R1")) == f"{home}/.jobspec/runs/R1"
    assert remote_options(sshd.alias, "~/x y")[REMOTE_DIR] == f"{home}/x y"
    assert remote_options(sshd.alias, "/scratch/runs")[REMOTE_DIR] == "/scratch/runs"
    monkeypatch.setenv("JOBSPEC_REMOTE_DIR", "elsewhere")
    assert remote_options(sshd.alias)[REMOTE_DIR] == f"{home}/elsewhere"
    with pytest.raises(UsageError, match="~user"):
        remote_options(sshd.alias, "~bob/runs")


@needs_sshd
def test_commands_never_log_in_on_their_own(sshd, tmp_path):
    """A killed shared connection leaves its socket behind: the next command fails at once
    (no login of its own), the one after logs in again once."""
    import os
    import re
    import signal
    import subprocess

    from jobspec_core.ssh import SshError

    runner = SshRunner(server_target(sshd), config_file=sshd.client_config)
    assert runner.run(["true"]).returncode == 0
    check = subprocess.run(runner.ssh_argv("-O", "check"), capture_output=True, text=True)
    os.kill(int(re.search(r"pid=(\d+)", check.stderr).group(1)), signal.SIGKILL)
    logins = sshd.logins()
    with pytest.raises(SshError) as info:
        runner.run(["true"])
    assert info.value.transient and sshd.logins() == logins
    for _ in range(3):
        assert runner.run(["true"]).returncode == 0
    assert sshd.logins() == logins + 1
    runner.close()


def test_reserved_options_are_refused_before_anything_is_recorded(tmp_path):
    """A service's client passes options: it must not make the service log in anywhere."""
    from jobspec_core.runner import Runner
    from jobspec_core.store import RunStore

    from jobspec_core import api

    runner = Runner(RunStore(tmp_path / "store.sqlite"))
    plan = api.plan(api.load_text("version: 1\ntasks:\n- command: [echo, hi]\n", "t.yaml"))
    with pytest.raises(UsageError, match="jobspec's own") as info:
        runner.submit(plan, "local", options={REMOTE: "attacker-host"})
    assert info.value.exit_code == 2
    assert runner.list_runs() == []
