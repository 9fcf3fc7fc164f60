"""The transformer contract's helpers: states, handles, submissions written safely, wait."""

from __future__ import annotations

import pytest
from jobspec_core.transformer import (
    TERMINAL_STATES,
    RenderedFile,
    RunContext,
    Submission,
    TaskHandle,
    TaskState,
    TaskStatus,
    Transformer,
    portable_environment,
)


def test_terminal_states_are_exactly_the_final_ones():
    assert {s for s in TaskState if s.terminal} == TERMINAL_STATES
    assert not TaskState.PENDING.terminal and not TaskState.RUNNING.terminal
    assert not TaskState.UNKNOWN.terminal
    assert TaskState.COMPLETED.succeeded and not TaskState.FAILED.succeeded


def test_handle_round_trip():
    handle = TaskHandle("g/t", 3, "123_3", log="/x.log", data={"k": [1]})
    assert TaskHandle.from_dict(handle.to_dict()) == handle
    assert handle.key == ("g/t", 3)


def test_submission_write_creates_files_and_modes(tmp_path):
    sub = Submission(
        "x",
        files={
            "a.sh": RenderedFile("#!/bin/sh\n", executable=True),
            "sub/b.txt": RenderedFile("b"),
        },
    )
    written = sub.write(tmp_path / "run")
    assert {p.name for p in written} == {"a.sh", "b.txt"}
    assert (tmp_path / "run/a.sh").stat().st_mode & 0o111
    assert (tmp_path / "run/sub/b.txt").read_text() == "b"


@pytest.mark.parametrize("name", ["../evil", "/etc/evil", "a/../../evil"])
def test_submission_write_refuses_escaping_names(tmp_path, name):
    with pytest.raises(ValueError, match="escapes"):
        Submission("x", files={name: RenderedFile("x")}).write(tmp_path / "run")
    assert not (tmp_path / "evil").exists()


class _Countdown(Transformer):
    """A transformer whose tasks finish after a number of status queries."""

    name = "countdown"
    poll_interval = 0.0

    def __init__(self, polls: int):
        self.polls = polls

    def render(self, plan, context):  # pragma: no cover - not used
        raise NotImplementedError

    def submit(self, plan, submission, context):  # pragma: no cover - not used
        raise NotImplementedError

    def cancel(self, handles, context):  # pragma: no cover - not used
        raise NotImplementedError

    def status(self, handles, context):
        self.polls -= 1
        state = TaskState.COMPLETED if self.polls <= 0 else TaskState.RUNNING
        return {h.key: TaskStatus(state) for h in handles}


def test_default_wait_polls_until_terminal(tmp_path):
    ctx = RunContext("r", tmp_path, tmp_path)
    t = _Countdown(polls=3)
    result = t.wait([TaskHandle("a", 0, "1")], ctx)
    assert result[("a", 0)].state is TaskState.COMPLETED
    assert t.polls == 0


def test_default_wait_returns_at_timeout(tmp_path):
    ctx = RunContext("r", tmp_path, tmp_path)
    result = _Countdown(polls=10**9).wait([TaskHandle("a", 0, "1")], ctx, timeout=0.05)
    assert result[("a", 0)].state is TaskState.RUNNING


def test_portable_environment_names_every_variable():
    from jobspec_core.loader import load_text
    from jobspec_core.planner import build_plan

    doc = load_text("version: 1\ntasks:\n- name: a\n  replicas: 4\n  command: [true]\n")
    task = next(build_plan(doc.data).tasks())
    assert portable_environment("R1", task, 2) == {
        "JOBSPEC_RUN_ID": "R1",
        "JOBSPEC_TASK_NAME": "a",
        "JOBSPEC_TASK_INDEX": "2",
        "JOBSPEC_TASK_COUNT": "4",
    }
