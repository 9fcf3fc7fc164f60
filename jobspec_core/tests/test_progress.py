"""Progress of ``jobspec run`` and ``wait``: a moving live display in a real terminal
(tmux, read with capture-pane), few lines when piped, fewer with ``--quiet``, and a final
table that stays readable for thousands of instances.

The display logic itself is tested on made-up statuses with a fake clock (no timing); the
terminal and pipe tests run 200 real tasks of 0.05 s through the local backend.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jobspec_core.cli import _runs, progress
from jobspec_core.runner import RunStatus
from jobspec_core.runrecords import RunRecord, TaskRecord
from jobspec_core.transformer import TaskState

TIMEOUT = 180
TWO_HUNDRED = "version: 1\nname: two-hundred\ntasks:\n" + "".join(
    f'- name: t{i}\n  command: ["sleep", "0.05"]\n' for i in range(200)
)


# -- made-up statuses ---------------------------------------------------------------------


def status_of(states: dict[tuple[str, int], TaskState], **run) -> RunStatus:
    now = time.time()
    record = RunRecord(
        run_id="20261202-000000-abcd",
        name="made-up",
        transformer="local",
        source=None,
        workdir="/tmp",
        run_dir="/tmp/x",
        created_at=now - 12.0,
        state=run.get("state", "running"),
        finished_at=run.get("finished_at"),
    )
    tasks = []
    for (task_id, index), state in states.items():
        ended = state.terminal
        tasks.append(
            TaskRecord(
                task_id=task_id,
                index=index,
                state=state,
                exit_code=(0 if state is TaskState.COMPLETED else 1) if ended else None,
                reason=None if state is TaskState.COMPLETED or not ended else "exit code 1",
                started_at=now - 1.0 if state is not TaskState.PENDING else None,
                finished_at=now if ended else None,
                native_id=f"local:1:{task_id}:{index}",
            )
        )
    return RunStatus(record, tasks)


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_small_run_off_a_terminal_prints_a_line_per_state_change():
    err = io.StringIO()
    keys = [("a", 0), ("b", 0)]
    states = {k: TaskState.PENDING for k in keys}
    display = progress.PlainDisplay(io.BytesIO(), err, total=2)
    display.update(status_of(states))
    assert err.getvalue() == ""  # nothing happened yet
    states[("a", 0)] = TaskState.RUNNING
    display.update(status_of(states))
    display.update(status_of(states))  # no change, no line
    states[("a", 0)] = TaskState.COMPLETED
    states[("b", 0)] = TaskState.FAILED
    display.update(status_of(states))
    assert err.getvalue().splitlines() == [
        "a.0: running",
        "a.0: completed (exit 0)",
        "b.0: failed (exit 1): exit code 1",
    ]


def test_large_run_off_a_terminal_prints_periodic_summaries_and_a_few_failures():
    err, clock = io.StringIO(), FakeClock()
    keys = [("t", i) for i in range(1000)]
    states = {k: TaskState.PENDING for k in keys}
    display = progress.PlainDisplay(io.BytesIO(), err, total=1000, clock=clock)
    for step in range(100):  # 100 refreshes, 0.3 s apart: 30 s
        for i in range(step * 10, step * 10 + 10):
            states[keys[i]] = TaskState.FAILED if i % 50 == 7 else TaskState.COMPLETED
        clock.now += 0.3
        display.update(status_of(states))
    lines = err.getvalue().splitlines()
    failures = [x for x in lines if ": failed (exit 1)" in x]
    summaries = [x for x in lines if re.match(r"\[\s*[\d.]+s\] \d+/1000 ended", x)]
    assert len(failures) == progress.FAILURES_SHOWN
    assert "(further failures are counted in the summaries)" in lines
    # the last failure line at 6 s; then a summary after each 10 s without a line
    assert len(summaries) == 2
    assert "failed" in summaries[-1] and "completed" in summaries[-1]
    assert len(lines) == len(failures) + len(summaries) + 1


def test_large_run_off_a_terminal_prints_a_heartbeat_when_nothing_changes():
    err, clock = io.StringIO(), FakeClock()
    states = {("t", i): TaskState.RUNNING for i in range(100)}
    display = progress.PlainDisplay(io.BytesIO(), err, total=100, clock=clock)
    for _ in range(4 * 70):  # 70 s of nothing
        clock.now += 0.25
        display.update(status_of(states))
    lines = err.getvalue().splitlines()
    # the first summary once the counts were seen 10 s in, then one heartbeat a minute
    assert len(lines) == 2 and all("0/100 ended; 100 running" in x for x in lines)


def test_quiet_display_shows_nothing_not_even_watched_output():
    out = io.BytesIO()
    display = progress.make_display(status_of({("a", 0): TaskState.RUNNING}), quiet=True, out=out)
    display.output([b"[a.0] hello\n"])
    display.update(status_of({("a", 0): TaskState.COMPLETED}))
    assert out.getvalue() == b""


def test_final_table_of_thousands_of_instances_is_grouped_and_failures_come_first():
    states = {("train", i): TaskState.COMPLETED for i in range(5000)}
    states.update({("train", i): TaskState.FAILED for i in (17, 18, 19, 4000)})
    states.update({(f"solo{i}", 0): TaskState.COMPLETED for i in range(3000)})
    states[("late", 0)] = TaskState.NEVER_RUN
    out = io.StringIO()
    _runs.print_status(status_of(states, state="failed", finished_at=time.time()), out)
    lines = out.getvalue().splitlines()
    assert len(lines) <= _runs.MAX_ROWS + 6
    table = lines[lines.index(next(x for x in lines if x.startswith("TASK"))) + 1 :]
    assert table[0].split()[:3] == ["train", "17-19,4000", "(4)"]
    assert table[0].split()[3] == "failed"
    assert table[1].split()[:3] == ["late", "0", "never_run"]
    assert "3001 tasks in 3001 rows not shown" in table[-1]
    assert "7996 completed instances" in table[-1]


def test_small_table_keeps_a_row_per_task_with_its_native_id():
    states = {("build", 0): TaskState.COMPLETED, ("test", 0): TaskState.COMPLETED}
    states.update({("test", i): TaskState.COMPLETED for i in range(1, 4)})
    out = io.StringIO()
    _runs.print_status(status_of(states, state="completed", finished_at=time.time()), out)
    rows = out.getvalue().splitlines()[4:]
    assert rows[0].split()[:5] == ["build", "0", "completed", "0", "1.0s"]
    assert "local:1:build:0" in rows[0]
    assert rows[1].split()[:4] == ["test", "0-3", "(4)", "completed"]


def test_summary_lines_name_the_first_failures():
    states = {("a", i): TaskState.FAILED for i in range(5)}
    lines = _runs.summary_lines(status_of(states, state="failed", finished_at=time.time()))
    assert lines[0].startswith("run 20261202-000000-abcd (made-up, local) failed in ")
    assert lines[0].endswith(": 5 failed")
    assert "a.0 (failed, exit 1), a.1 (failed, exit 1), a.2 (failed, exit 1) and 2 more" in lines[1]


def test_validate_imports_neither_rich_nor_argcomplete(tmp_path):
    doc = tmp_path / "job.yaml"
    doc.write_text('version: 1\ntasks:\n- command: ["true"]\n')
    probe = (
        "import sys; from jobspec_core.cli.main import main; rc = main(sys.argv[1:]); "
        "print('LOADED', sorted(m for m in ('rich', 'argcomplete') if m in sys.modules), rc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, "validate", str(doc)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.splitlines()[-1] == "LOADED [] 0", done.stdout + done.stderr


# -- real runs ----------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    pytest.importorskip("jobspec_local", reason="real runs go through the local backend")
    out = dict(os.environ)
    out.pop("JOBSPEC_TRANSFORMER", None)
    out["JOBSPEC_STORE"] = str(tmp_path / "state" / "runs.sqlite")
    out["PYTHONUNBUFFERED"] = "1"
    return out


@pytest.fixture
def job(tmp_path: Path) -> Path:
    path = tmp_path / "two-hundred.yaml"
    path.write_text(TWO_HUNDRED)
    return path


def piped(env, *args, cwd) -> tuple[int, list[str]]:
    """Run the CLI with stdout and stderr into one pipe; its exit code and lines."""
    done = subprocess.run(
        [sys.executable, "-m", "jobspec_core", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert "Traceback" not in done.stdout, done.stdout
    return done.returncode, done.stdout.splitlines()


def test_piped_run_of_200_tasks_prints_at_most_30_lines(env, job, tmp_path):
    rc, lines = piped(env, "run", str(job), cwd=tmp_path)
    assert rc == 0, "\n".join(lines)
    assert len(lines) <= 30, "\n".join(lines)
    assert any("200 completed" in x for x in lines)
    assert not any(re.match(r"t\d+\.0: ", x) for x in lines)  # never a line per instance


def test_quiet_run_of_200_tasks_prints_at_most_5_lines(env, job, tmp_path):
    rc, lines = piped(env, "run", "--quiet", str(job), cwd=tmp_path)
    assert rc == 0, "\n".join(lines)
    assert 1 <= len(lines) <= 5, "\n".join(lines)
    assert re.fullmatch(
        r"run \S+ \(two-hundred, local\) completed in [\d.]+ s: 200 completed", lines[0]
    )


def test_wait_follows_a_detached_run_and_quiet_wait_prints_the_summary(env, job, tmp_path):
    rc, lines = piped(env, "run", "--detach", str(job), cwd=tmp_path)
    assert rc == 0
    run_id = lines[-1]
    rc, waited = piped(env, "wait", run_id, cwd=tmp_path)
    assert rc == 0 and len(waited) <= 30, "\n".join(waited)
    assert any("200 completed" in x for x in waited)
    rc, quiet = piped(env, "wait", "-q", run_id, cwd=tmp_path)
    assert rc == 0 and len(quiet) == 1 and quiet[0].startswith(f"run {run_id} (two-hundred")


def test_live_display_moves_in_a_real_terminal_and_ends_with_a_summary(env, job, tmp_path):
    pytest.importorskip("rich", reason="the live display is the [progress] extra (rich)")
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (apt-get install tmux): no real terminal to test in")
    sock = str(tmp_path / "tmux.sock")
    tmux = ["tmux", "-S", sock]
    done_marker = tmp_path / "done"
    keep = {k: env[k] for k in ("PATH", "HOME", "JOBSPEC_STORE", "PYTHONPATH") if k in env}
    command = f"{sys.executable} -m jobspec_core run {job}; echo EXIT=$? > {done_marker}; sleep 30"
    argv = ["env", "-i", "TERM=xterm-256color", *(f"{k}={v}" for k, v in keep.items())]
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", "120", "-y", "40", "-c", str(tmp_path)]
        + [*argv, "sh", "-c", command],
        check=True,
    )
    frames: list[str] = []
    try:
        deadline = time.monotonic() + TIMEOUT
        while not done_marker.exists() and time.monotonic() < deadline:
            screen = subprocess.run(
                [*tmux, "capture-pane", "-p"], capture_output=True, text=True, check=True
            ).stdout
            frames.append(screen)
            time.sleep(0.2)
        time.sleep(0.3)
        final = subprocess.run(
            [*tmux, "capture-pane", "-p", "-S", "-100"], capture_output=True, text=True, check=True
        ).stdout
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)
    assert done_marker.read_text().strip() == "EXIT=0", final
    # the bar, as "ended/total": at least three different counts, never going back
    ended = []
    for screen in frames:
        m = re.search(r"━.*\s(\d+)/200\s+\d+%\s+\d+:\d\d", screen)
        if m:
            ended.append(int(m.group(1)))
    moves = sorted(set(ended))
    assert len(moves) >= 3, frames[-3:]
    assert ended == sorted(ended)
    assert any("pending" in f or "running" in f for f in frames)
    # the display is gone at the end; the summary stays
    assert "/200" not in final
    assert "run " in final and "two-hundred" in final and "200 completed" in final
    assert re.search(r"took [\d.]+ s", final)


def test_follow_gives_up_after_the_error_budget_of_a_silent_scheduler():
    """Each refresh is a short wait of its own, so follow applies the transformer's error
    budget across them: a scheduler that cannot be asked does not make `wait` hang."""
    from types import SimpleNamespace

    from jobspec_core.cli.follow import follow
    from jobspec_core.errors import BackendError

    unknown = status_of({("a", 0): TaskState.UNKNOWN})
    unknown.tasks[0].reason = "slurmctld is not responding"

    class Runner:  # the few runner calls follow makes
        store = SimpleNamespace(get_run=lambda run_id: unknown.run, resolve=lambda ref: ref)
        registry = SimpleNamespace(transformers={"local": type("T", (), {"error_budget": 0.3})})
        waits = 0

        def wait(self, run_id, timeout=None):
            Runner.waits += 1
            time.sleep(timeout or 0)
            return unknown

    closed = []
    display = progress.QuietDisplay(io.BytesIO())
    display.close = lambda: closed.append(True)
    with pytest.raises(BackendError, match="could not be asked for 0.3 s: slurmctld"):
        follow(Runner(), unknown.run.run_id, display)
    assert Runner.waits >= 2 and closed == [True]


def test_a_terminal_without_rich_gets_the_one_line_display(monkeypatch):
    monkeypatch.setitem(sys.modules, "jobspec_core.cli._live", None)  # as if rich were absent
    err = io.StringIO()
    status = status_of({("a", 0): TaskState.RUNNING})
    display = progress.make_display(status, tty=True, out=io.BytesIO(), err=err)
    assert isinstance(display, progress.LineDisplay)
    display.update(status)
    display.close()
    assert "0/1 ended; 1 running" in err.getvalue() and err.getvalue().endswith("\r\033[K")


def test_a_terminal_with_rich_gets_the_live_display(monkeypatch):
    pytest.importorskip("rich", reason="the live display is the [progress] extra (rich)")
    from jobspec_core.cli._live import LiveDisplay

    status = status_of({("a", 0): TaskState.RUNNING, ("b", 0): TaskState.FAILED})
    display = progress.make_display(status, tty=True, out=io.BytesIO(), err=io.StringIO())
    try:
        assert isinstance(display, LiveDisplay)
        assert display.failed == ["b.0: failed (exit 1): exit code 1"]
        assert display.progress.tasks[0].completed == 1 and display.progress.tasks[0].total == 2
    finally:
        display.close()
