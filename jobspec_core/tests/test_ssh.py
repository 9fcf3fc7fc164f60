"""The OpenSSH runner, against a real sshd on 127.0.0.1 started by these tests."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobspec_core.errors import BackendError, UsageError
from jobspec_core.ssh import RemoteTarget, SshError, SshRunner
from jobspec_core.testing.sshd import LoopbackSshd, unavailable


@pytest.mark.parametrize(
    "text, expected",
    [
        ("login1", RemoteTarget("login1")),
        ("alice@login1", RemoteTarget("login1", "alice")),
        ("alice@login1.example.org:2222", RemoteTarget("login1.example.org", "alice", 2222)),
        ("cluster:22", RemoteTarget("cluster", None, 22)),
        ("[::1]:2200", RemoteTarget("[::1]", None, 2200)),
    ],
)
def test_target_parse(text, expected):
    assert RemoteTarget.parse(text) == expected
    assert RemoteTarget.parse(str(expected)) == expected


@pytest.mark.parametrize(
    "text, says",
    [
        ("", "expected [USER@]HOST[:PORT]"),
        ("-oProxyCommand=x", "not starting with '-'"),
        ("alice@-host", "not starting with '-'"),
        ("-alice@host", "is not a user name"),
        ("host:0", "between 1 and 65535"),
        ("host:70000", "between 1 and 65535"),
        ("ho st", "expected [USER@]HOST[:PORT]"),
        ("host;rm", "expected [USER@]HOST[:PORT]"),
    ],
)
def test_target_refused(text, says):
    with pytest.raises(UsageError) as info:
        RemoteTarget.parse(text)
    assert says in str(info.value)
    assert info.value.exit_code == 2


def test_remote_command_quotes_every_word():
    line = SshRunner.remote_command(["echo", "a b", "$HOME", "'"], cwd="/x y", env={"K": "v;w"})
    assert line == "cd -- '/x y' && exec env 'K=v;w' echo 'a b' '$HOME' ''\"'\"''"


def test_remote_command_refuses_bad_env_names():
    with pytest.raises(BackendError, match="not environment variable names"):
        SshRunner.remote_command(["true"], env={"A B": "1"})


def test_ssh_never_disables_host_key_checks():
    argv = SshRunner(RemoteTarget("h", "u", 22)).ssh_argv()
    text = " ".join(argv).lower()
    assert "stricthostkeychecking" not in text and "userknownhostsfile" not in text
    assert argv[-2:] == ["--", "h"]


# -- against a real sshd -------------------------------------------------------------
needs_sshd = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    # Socket paths are limited to ~104 bytes: a short control directory of our own.
    control = tempfile.mkdtemp(prefix="jsssh-", dir="/tmp")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JOBSPEC_SSH_CONTROL_DIR", control)
        server = LoopbackSshd(tmp_path_factory.mktemp("sshd")).start()
        yield server
        _runner(server).close()
        server.stop()
    shutil.rmtree(control, ignore_errors=True)


@pytest.fixture
def control_dir(monkeypatch):
    """A control directory of the test's own: its connections are new ones."""
    path = tempfile.mkdtemp(prefix="jsssh-", dir="/tmp")
    monkeypatch.setenv("JOBSPEC_SSH_CONTROL_DIR", path)
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


def _runner(sshd: LoopbackSshd) -> SshRunner:
    return SshRunner(RemoteTarget(sshd.alias), config_file=sshd.client_config)


@needs_sshd
def test_one_login_for_many_commands(sshd, control_dir):
    runner = _runner(sshd)
    before = sshd.logins()
    try:
        for n in range(10):
            result = runner.run(["sh", "-c", 'echo "$1"', "sh", str(n)])
            assert result.returncode == 0 and result.stdout == f"{n}\n"
    finally:
        runner.close()
    assert sshd.logins() - before == 1


@needs_sshd
def test_exit_code_stdin_and_cwd_pass_through(sshd, control_dir, tmp_path):
    runner = _runner(sshd)
    try:
        result = runner.run(["sh", "-c", "cat; pwd; exit 3"], cwd=tmp_path, stdin=b"in\n")
    finally:
        runner.close()
    assert result.returncode == 3
    assert result.stdout == f"in\n{tmp_path}\n"


@needs_sshd
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    words=st.lists(
        st.text(
            st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
        ),
        min_size=1,
        max_size=5,
    ),
    value=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
)
def test_words_and_env_arrive_byte_for_byte(sshd, words, value):
    # No fixture per example (hypothesis): the module's connection serves every example.
    runner = _runner(sshd)
    result = runner.run(["sh", "-c", 'printf "%s\\0" "$V" "$@"', "sh", *words], env={"V": value})
    assert result.returncode == 0
    assert result.stdout.split("\0")[:-1] == [value, *words]


@needs_sshd
def test_put_tree_and_read_file(sshd, control_dir, tmp_path):
    local = tmp_path / "local"
    (local / "sub dir").mkdir(parents=True)
    (local / "sub dir" / "a 'b'.sh").write_text("echo hi\n")
    remote = tmp_path / "remote side"
    runner = _runner(sshd)
    try:
        runner.put_tree(local, str(remote))
        assert runner.read_file(str(remote / "sub dir" / "a 'b'.sh")) == b"echo hi\n"
        assert runner.read_file(str(remote / "sub dir" / "a 'b'.sh"), offset=5) == b"hi\n"
        assert runner.read_file(str(remote / "missing")) == b""
        assert runner.home().startswith("/")
    finally:
        runner.close()
    assert (remote / "sub dir" / "a 'b'.sh").read_text() == "echo hi\n"


@needs_sshd
def test_wrong_user_is_refused(sshd, control_dir):
    runner = SshRunner(RemoteTarget(sshd.alias, user="nobody-here"), config_file=sshd.client_config)
    with pytest.raises(SshError) as info:
        runner.run(["true"])
    assert info.value.kind == "auth"
    assert "refused" in str(info.value)


@needs_sshd
def test_unreachable_port(sshd, control_dir):
    runner = SshRunner(RemoteTarget(sshd.alias, port=1), config_file=sshd.client_config)
    with pytest.raises(SshError) as info:
        runner.run(["true"])
    assert info.value.kind == "unreachable"
    assert info.value.transient


@needs_sshd
def test_changed_host_key_is_refused(tmp_path, control_dir):
    server = LoopbackSshd(tmp_path / "sshd").start()
    try:
        runner = SshRunner(RemoteTarget(server.alias), config_file=server.client_config)
        assert runner.run(["true"]).returncode == 0
        runner.close()
        server.replace_host_key()
        with pytest.raises(SshError) as info:
            runner.run(["true"])
        assert info.value.kind == "host-key"
        assert "never skips the check" in str(info.value)
    finally:
        server.stop()
