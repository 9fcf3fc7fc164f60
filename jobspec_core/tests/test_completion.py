"""Shell completion: scripts for bash, zsh and fish generated from the parser, completing
run ids from a real run store and transformer names from the installed plugins.

The bash test runs the generated script's completion function the way bash does on Tab
(COMP_LINE, COMP_POINT, COMP_WORDS set; the real ``jobspec`` console script answers);
fish runs its own ``complete -C``; zsh is driven in a real terminal (tmux) where installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("argcomplete", reason="completion is the [completion] extra (argcomplete)")
pytest.importorskip("jobspec_local", reason="the runs are recorded through the local backend")

JOBSPEC = Path(sys.executable).with_name("jobspec")
if not JOBSPEC.exists():
    pytest.skip(f"no jobspec console script beside {sys.executable}", allow_module_level=True)

TIMEOUT = 120


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith(("_ARGCOMPLETE", "COMP_"))}
    out.pop("JOBSPEC_TRANSFORMER", None)
    out["PATH"] = f"{JOBSPEC.parent}{os.pathsep}{out.get('PATH', '')}"
    out["JOBSPEC_STORE"] = str(tmp_path / "state" / "runs.sqlite")
    return out


def jobspec(env, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(JOBSPEC), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture
def two_runs(tmp_path: Path, env) -> list[str]:
    """A real store holding two real runs (the local backend), ids newest first."""
    job = tmp_path / "job.yaml"
    job.write_text('version: 1\nname: tiny\ntasks:\n- command: ["true"]\n')
    ids = []
    for _ in range(2):
        done = jobspec(env, "run", "--detach", str(job), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        ids.append(done.stdout.strip())
        assert jobspec(env, "wait", ids[-1], cwd=tmp_path).returncode == 0
    return ids[::-1]


def script(env, shell: str, tmp_path: Path) -> Path:
    done = jobspec(env, "completion", shell, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "jobspec" in done.stdout
    path = tmp_path / f"jobspec.{shell}"
    path.write_text(done.stdout)
    return path


BASH_TAB = textwrap.dedent(
    r"""
    source "$1"
    COMP_LINE="$2"
    COMP_POINT=${#COMP_LINE}
    read -ra COMP_WORDS <<< "$COMP_LINE"
    [[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    _python_argcomplete jobspec "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf '%s\n' "${COMPREPLY[@]}"
    """
)


def bash_tab(env, line: str, tmp_path: Path) -> list[str]:
    """What bash offers on Tab after ``line``, through the generated script."""
    path = script(env, "bash", tmp_path)
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", BASH_TAB, "bash", str(path), line],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    return [w.strip() for w in done.stdout.splitlines() if w.strip()]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_scripts_are_generated_and_parse(shell, env, tmp_path):
    path = script(env, shell, tmp_path)
    program = shutil.which(shell)
    if program is None:
        pytest.skip(f"{shell} is not installed: the script was generated but not parsed")
    check = [program, "--no-execute", str(path)] if shell == "fish" else [program, "-n", str(path)]
    done = subprocess.run(check, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_bash_completes_status_with_the_run_ids_of_a_real_store(two_runs, env, tmp_path):
    offered = bash_tab(env, "jobspec status ", tmp_path)
    assert offered == ["latest", *two_runs]  # newest first, options only after '-'
    # a prefix narrows it to that run
    assert bash_tab(env, f"jobspec status {two_runs[1][:-2]}", tmp_path) == [two_runs[1]]


def test_bash_completion_reads_the_store_named_by_store(two_runs, env, tmp_path):
    store = env.pop("JOBSPEC_STORE")
    offered = bash_tab(env, f"jobspec wait --store {store} ", tmp_path)
    assert offered == ["latest", *two_runs]


def test_no_store_completes_nothing_and_creates_none(env, tmp_path):
    assert bash_tab(env, "jobspec status ", tmp_path) == []
    assert not (tmp_path / "state").exists()


def test_bash_completes_subcommands_options_and_transformer_names(env, tmp_path):
    assert bash_tab(env, "jobspec sta", tmp_path) == ["status"]
    assert "--json" in bash_tab(env, "jobspec status --", tmp_path)
    listed = jobspec(env, "transformers", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    import json

    names = {t["name"] for t in json.loads(listed.stdout)["transformers"]}
    assert "local" in names
    assert set(bash_tab(env, "jobspec run -t ", tmp_path)) == names
    assert bash_tab(env, "jobspec transform --transformer lo", tmp_path) == ["local"]


def test_fish_completes_run_ids_with_descriptions(two_runs, env, tmp_path):
    fish = shutil.which("fish")
    if fish is None:
        pytest.skip("fish is not installed (apt-get install fish)")
    path = script(env, "fish", tmp_path)
    done = subprocess.run(
        [fish, "--no-config", "-c", f"source {path}; complete -C 'jobspec status '"],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    offered = dict(line.split("\t", 1) for line in done.stdout.splitlines())
    assert set(offered) == {"latest", *two_runs}
    assert offered[two_runs[0]] == "tiny [local] completed"


def test_zsh_completes_run_ids_in_a_terminal(two_runs, env, tmp_path):
    zsh, tmux = shutil.which("zsh"), shutil.which("tmux")
    if zsh is None or tmux is None:
        pytest.skip("zsh and tmux are needed (apt-get install zsh tmux)")
    path = script(env, "zsh", tmp_path)
    sock = str(tmp_path / "tmux.sock")
    run = ["tmux", "-S", sock]
    shell_env = {
        "HOME": str(tmp_path),
        "TERM": "xterm",
        "PATH": env["PATH"],
        "JOBSPEC_STORE": env["JOBSPEC_STORE"],
    }
    argv = ["env", "-i", *(f"{k}={v}" for k, v in shell_env.items()), zsh, "-f"]
    subprocess.run([*run, "new-session", "-d", "-x", "150", "-y", "20", *argv], check=True)
    try:
        keys = f"autoload -Uz compinit && compinit -u && source {path}"
        subprocess.run([*run, "send-keys", keys, "Enter"], check=True)
        time.sleep(0.5)
        subprocess.run([*run, "send-keys", "jobspec status ", "Tab"], check=True)
        screen = ""
        for _ in range(100):
            time.sleep(0.1)
            screen = subprocess.run(
                [*run, "capture-pane", "-p"], capture_output=True, text=True, check=True
            ).stdout
            if all(r in screen for r in two_runs) and "latest" in screen:
                break
        assert all(r in screen for r in two_runs), screen
        assert "tiny [local] completed" in screen, screen
    finally:
        subprocess.run([*run, "kill-server"], check=False)


def test_completion_of_an_unknown_shell_is_a_usage_error(env, tmp_path):
    done = jobspec(env, "completion", "tcsh", cwd=tmp_path)
    assert done.returncode == 2 and "invalid choice" in done.stderr


def test_the_shell_lists_agree():
    from jobspec_core.cli import completion, completion_cmd

    assert completion.SHELLS == completion_cmd.SHELLS


def test_without_argcomplete_the_script_command_says_what_to_install(monkeypatch):
    from jobspec_core.cli import completion
    from jobspec_core.errors import JobspecError

    monkeypatch.setitem(sys.modules, "argcomplete", None)  # import fails
    with pytest.raises(JobspecError, match=r"pip install 'jobspec-core\[completion\]'"):
        completion.shellcode("bash")
