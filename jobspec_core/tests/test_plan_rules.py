"""The plan rules every backend calls: working directories, safe writes, alternatives,
submission order, placeholders, capabilities, the array index expression, the wait loop."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from jobspec_core.alternatives import Capacity, choose_alternative, describe, misfit, unrunnable
from jobspec_core.capabilities import check_capabilities, missing_features
from jobspec_core.errors import BackendError, StepError, SubmitError, UnsupportedFeature
from jobspec_core.ordering import fill_placeholders, placeholder, submission_order
from jobspec_core.transformer import (
    RunContext,
    TaskHandle,
    TaskState,
    TaskStatus,
    Transformer,
    array_index_expression,
)
from jobspec_core.workdirs import (
    carry_out_writes,
    resolve_cwd,
    safe_write,
    working_directory,
)

from jobspec_core import api


def plan_of(text: str):
    return api.plan(api.load_text(textwrap.dedent(text), "job.yaml"))


def ctx(tmp_path: Path, **kw) -> RunContext:
    return RunContext("R", tmp_path / "run", tmp_path / "submit", home=tmp_path / "home", **kw)


# -- working directories ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cwd", "expected"),
    [
        (None, "submit"),
        ("out/a", "submit/out/a"),
        ("out/../b", "submit/b"),
        ("~", "home"),
        ("~/x/y", "home/x/y"),
        ("/abs/dir", "/abs/dir"),
    ],
)
def test_resolve_cwd_rules(tmp_path, cwd, expected):
    want = Path(expected) if expected.startswith("/") else tmp_path / expected
    assert resolve_cwd(cwd, ctx(tmp_path)) == want


def test_tilde_user_is_refused_by_validation_and_resolution(tmp_path):
    doc = api.load_text('version: 1\ntasks:\n- command: ["true"]\n  attributes: {cwd: ~root/x}\n')
    problems = api.validate(doc)
    assert [p.code for p in problems] == ["bad-cwd"]
    assert problems[0].path == "tasks[0].attributes.cwd" and problems[0].line == 4
    with pytest.raises(ValueError, match="~user"):
        resolve_cwd("~root", ctx(tmp_path))


def test_working_directory_is_inherited_from_the_group(tmp_path):
    plan = plan_of(
        """
        version: 1
        groups:
        - name: g
          attributes: {cwd: gdir}
          tasks:
          - {name: a, command: ["true"]}
          - {name: b, command: ["true"], attributes: {cwd: /elsewhere}}
        tasks:
        - group: g
        """
    )
    c = ctx(tmp_path)
    assert working_directory(plan.node("g/a"), c) == tmp_path / "submit/gdir"
    assert working_directory(plan.node("g/b"), c) == Path("/elsewhere")


def test_step_path_is_relative_to_the_working_directory(tmp_path):
    from jobspec_core.workdirs import step_path

    plan = plan_of(
        """
        version: 1
        tasks:
        - {name: a, command: ["true"], attributes: {cwd: w}}
        """
    )
    node, c = plan.node("a"), ctx(tmp_path)
    assert step_path(node, "data/x", c) == tmp_path / "submit/w/data/x"
    assert step_path(node, "~/x", c) == tmp_path / "home/x"
    assert step_path(node, "/abs", c) == Path("/abs")


# -- safe writes ----------------------------------------------------------------------------


def test_safe_write_writes_atomically_with_mode(tmp_path):
    target = safe_write(tmp_path / "d", "sub/x.sh", "echo hi\n", executable=True)
    assert target == tmp_path / "d/sub/x.sh"
    assert target.read_text() == "echo hi\n"
    assert target.stat().st_mode & 0o777 == 0o755
    safe_write(tmp_path / "d", "sub/x.sh", b"again")
    assert target.read_bytes() == b"again" and target.stat().st_mode & 0o777 == 0o644
    assert sorted(os.listdir(tmp_path / "d/sub")) == ["x.sh"]  # no temporary left


@pytest.mark.parametrize("relpath", ["/etc/x", "../x", "a/../x", "a//x", "./x", "", "a\x00b", "a/"])
def test_safe_write_refuses_names_that_are_not_plain(tmp_path, relpath):
    with pytest.raises(StepError):
        safe_write(tmp_path / "d", relpath, "x")
    assert not (tmp_path / "x").exists()


def test_safe_write_refuses_a_symlinked_directory_and_file(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "link").symlink_to(outside)
    with pytest.raises(StepError, match="symbolic link"):
        safe_write(staging, "link/x", "x")
    (staging / "file").symlink_to(outside / "victim")
    with pytest.raises(StepError, match="symbolic link"):
        safe_write(staging, "file", "x")
    assert list(outside.iterdir()) == []


def test_carry_out_writes_into_each_working_directory(tmp_path):
    plan = plan_of(
        """
        version: 1
        tasks:
        - name: a
          attributes: {cwd: rel}
          steps: [{name: write, path: in/a.txt, content: "A"}]
          command: ["true"]
        - name: b
          attributes: {cwd: ~/h}
          steps: [{name: write, path: b.txt, content: "B", executable: true}]
          command: ["true"]
        """
    )
    written = carry_out_writes(plan, ctx(tmp_path))
    assert written == [tmp_path / "submit/rel/in/a.txt", tmp_path / "home/h/b.txt"]
    assert (tmp_path / "submit/rel/in/a.txt").read_text() == "A"
    assert not (tmp_path / "submit/in").exists()


def test_carry_out_writes_names_the_node_on_failure(tmp_path):
    plan = plan_of(
        """
        version: 1
        tasks:
        - name: a
          steps: [{name: write, path: link/a.txt, content: "A"}]
          command: ["true"]
        """
    )
    (tmp_path / "submit").mkdir()
    (tmp_path / "submit/link").symlink_to(tmp_path)
    with pytest.raises(StepError, match="^a: write") as info:
        carry_out_writes(plan, ctx(tmp_path))
    assert isinstance(info.value, SubmitError) and info.value.submitted == []
    assert not (tmp_path / "a.txt").exists()


# -- alternatives ---------------------------------------------------------------------------

ALTS = """
version: 1
resources:
  big: {type: slot, count: 1, with: [{type: core, count: 64}]}
  wide: {type: node, count: 3, with: [{type: slot, count: 1, with: [{type: core, count: 2}]}]}
  small: {type: slot, count: 2, with: [{type: core, count: 2}]}
tasks:
- {name: t, resources: "big|wide|small", command: ["true"]}
"""


def test_choose_alternative_takes_the_first_that_fits():
    resources = plan_of(ALTS).node("t").resources
    chosen, note = choose_alternative(resources, Capacity(cores_per_node=4, nodes=2))
    assert chosen.name == "small"
    assert "big a slot needs 64 cores" in note and "wide asks for 3 nodes" in note
    chosen, note = choose_alternative(resources, Capacity(cores_per_node=64, nodes=1))
    assert chosen.name == "big" and note is None


def test_choose_alternative_without_capacity_or_fit_is_the_first():
    resources = plan_of(ALTS).node("t").resources
    chosen, note = choose_alternative(resources, None)
    assert chosen.name == "big" and "capacity is unknown" in note
    chosen, note = choose_alternative(resources, Capacity(cores_per_node=1, nodes=1))
    assert chosen.name == "big" and note.startswith("no resource alternative fits")


def test_misfit_packs_slots_onto_nodes():
    plan = plan_of(
        """
        version: 1
        tasks:
        - {name: t, resources: {type: slot, count: 5, with: [{type: core, count: 3}]}, command: ["true"]}
        """
    )
    request = plan.node("t").resources.preferred
    # 4-core nodes hold one 3-core slot each: 5 slots need 5 nodes
    assert misfit(request, Capacity(cores_per_node=4, nodes=5)) is None
    assert misfit(request, Capacity(cores_per_node=4, nodes=4)) == (
        "needs 5 slots, but 4 nodes with 4 cores each can hold 4"
    )
    assert misfit(request, Capacity(cores_per_node=4)) is None  # node count unchecked
    assert misfit(request, Capacity(cores_per_node=8, single_host=True)) == (
        "needs 15 cores, but this machine has 8"
    )
    assert misfit(request, Capacity(cores_per_node=15, single_host=True)) is None


def test_misfit_checks_gpus_and_memory():
    plan = plan_of(
        """
        version: 1
        tasks:
        - name: t
          resources: {type: slot, count: 2, with: [{type: core, count: 1}, {type: gpu, count: 1}, {type: memory, count: 1000}]}
          command: ["true"]
        """
    )
    request = plan.node("t").resources.preferred
    assert misfit(request, Capacity(cores_per_node=8, nodes=4)) == (
        "a slot needs 1 gpu, but a node has 0"
    )
    assert misfit(request, Capacity(cores_per_node=8, gpus_per_node=1, nodes=2)) is None
    assert misfit(request, Capacity(cores_per_node=8, gpus_per_node=1, nodes=1)) == (
        "needs 2 slots, but 1 node with 8 cores and 1 gpu can hold 1"
    )
    assert "MiB" in misfit(request, Capacity(8, 2, memory_per_node=500, nodes=1))
    assert misfit(request, Capacity(8, 2, memory_per_node=0, nodes=1)) is None  # unchecked


def test_capacity_and_request_read_as_sentences():
    """No "node(s) of 1 node(s)": counts agree with their nouns (Decision 67)."""
    assert Capacity(8, nodes=1).describe() == "1 node with 8 cores"
    assert Capacity(1, nodes=1).describe() == "1 node with 1 core"
    assert Capacity(8, 2, nodes=4).describe() == "4 nodes with 8 cores and 2 gpus each"
    assert Capacity(8, 2, 64000).describe() == "nodes with 8 cores, 2 gpus and 64000 MiB each"
    assert Capacity(8, single_host=True).describe() == "this machine with 8 cores"
    plan = plan_of(
        """
        version: 1
        tasks:
        - {name: one, resources: {type: core, count: 1}, command: ["true"]}
        - {name: many, resources: {type: slot, count: 4, with: [{type: core, count: 2}]}, command: ["true"]}
        """
    )
    assert describe(plan.node("one").resources.preferred) == "1 slot of 1 core"
    assert describe(plan.node("many").resources.preferred) == "4 slots of 2 cores (8 cores)"
    assert unrunnable(plan.node("many").resources, Capacity(8, nodes=1)) is None
    assert unrunnable(plan.node("many").resources, Capacity(6, nodes=1)) == (
        "can never run: the request (4 slots of 2 cores (8 cores)) needs 4 slots, but "
        "1 node with 6 cores can hold 3"
    )


def test_unrunnable_gives_every_reason_or_none():
    resources = plan_of(ALTS).node("t").resources
    assert unrunnable(resources, None) is None
    assert unrunnable(resources, Capacity(cores_per_node=4, nodes=2)) is None
    reason = unrunnable(resources, Capacity(cores_per_node=1, nodes=1))
    assert reason.startswith("can never run")
    assert "big" in reason and "wide" in reason and "small" in reason


# -- ordering and placeholders ----------------------------------------------------------------


def test_submission_order_puts_dependencies_first_else_document_order():
    plan = plan_of(
        """
        version: 1
        tasks:
        - {name: a, command: ["true"], depends_on: [c]}
        - {name: b, command: ["true"]}
        - {name: c, command: ["true"], depends_on: [d]}
        - {name: d, command: ["true"]}
        - {name: e, command: ["true"], depends_on: [a, b]}
        """
    )
    assert [n.id for n in submission_order(plan.children)] == ["b", "d", "c", "a", "e"]


def test_submission_order_is_linear_on_long_chains():
    plan = plan_of(
        "version: 1\ntasks:\n"
        + "".join(
            f'- {{name: t{i}, command: ["true"], depends_on: [t{i + 1}]}}\n' for i in range(3000)
        )
        + '- {name: t3000, command: ["true"]}\n'
    )
    order = [n.id for n in submission_order(plan.children)]
    assert order == [f"t{i}" for i in range(3000, -1, -1)]


def test_placeholders_round_trip_and_refuse_unknown_ids():
    argv = ["sbatch", f"--dependency=afterok:{placeholder('a')}:{placeholder('g/b')}", "x"]
    assert argv[1] == "--dependency=afterok:{id:a}:{id:g/b}"
    assert fill_placeholders(argv, {"a": "1", "g/b": "2"})[1] == "--dependency=afterok:1:2"
    with pytest.raises(SubmitError, match="'g/b' has no scheduler id"):
        fill_placeholders(argv, {"a": "1"})


# -- capabilities ---------------------------------------------------------------------------


class _Caps:
    name = "caps"
    capabilities = frozenset({"replicas"})


def test_missing_features_never_lists_core_features():
    plan = plan_of('version: 1\ntasks:\n- {name: a, replicas: 2, command: ["true"]}\n')
    assert missing_features(plan, set()) == ["replicas"]
    assert missing_features(plan, {"replicas"}) == []
    assert missing_features(plan, {"replicas"}, needed=["groups", "tasks"]) == ["groups"]
    check_capabilities(plan, _Caps)  # nothing missing: no error


def test_check_capabilities_lists_every_missing_feature():
    plan = plan_of(
        """
        version: 1
        tasks:
        - {name: a, command: ["true"], attributes: {duration: 5, cwd: x}}
        """
    )
    with pytest.raises(UnsupportedFeature) as info:
        check_capabilities(plan, _Caps, nothing_was="rendered")
    text = str(info.value)
    assert "attributes.cwd" in text and "attributes.duration" in text
    assert "nothing was rendered" in text and info.value.exit_code == 2


# -- array index expression -------------------------------------------------------------------


def test_array_index_expression():
    assert array_index_expression("SLURM_ARRAY_TASK_ID", 0) == "${SLURM_ARRAY_TASK_ID}"
    assert array_index_expression("SGE_TASK_ID", 1) == "$((SGE_TASK_ID - 1))"
    for bad in [("A B", 0), ("X;rm", 1), ("X", -1), ("X", True)]:
        with pytest.raises(ValueError):
            array_index_expression(*bad)


def test_array_index_expression_evaluates_in_sh():
    import subprocess

    expr = array_index_expression("SGE_TASK_ID", 1)
    out = subprocess.run(
        ["/bin/sh", "-c", f"echo {expr}"], env={"SGE_TASK_ID": "7"}, capture_output=True, text=True
    )
    assert out.stdout.strip() == "6"


# -- the wait loop ----------------------------------------------------------------------------


class _Flaky(Transformer):
    """status fails ``errors`` times, then reports completed."""

    name = "flaky"
    poll_interval = 0.01
    max_backoff = 0.04

    def __init__(self, errors: int, budget: float = 600.0):
        self.errors = errors
        self.calls = 0
        self.error_budget = budget

    def render(self, plan, context):  # pragma: no cover - not used
        raise NotImplementedError

    def submit(self, plan, submission, context):  # pragma: no cover - not used
        raise NotImplementedError

    def cancel(self, handles, context):  # pragma: no cover - not used
        raise NotImplementedError

    def status(self, handles, context):
        self.calls += 1
        if self.calls <= self.errors:
            raise BackendError("controller down")
        return {h.key: TaskStatus(TaskState.COMPLETED) for h in handles}


def test_wait_rides_out_transient_errors(tmp_path, monkeypatch):
    import jobspec_core.transformer as mod

    pauses = []
    monkeypatch.setattr(mod.time, "sleep", pauses.append)
    t = _Flaky(errors=4)
    out = t.wait([TaskHandle("a", 0, "1")], ctx(tmp_path))
    assert out[("a", 0)].state is TaskState.COMPLETED and t.calls == 5
    assert pauses == [0.02, 0.04, 0.04, 0.04]  # doubled, capped at max_backoff


def test_wait_gives_up_after_the_error_budget(tmp_path):
    t = _Flaky(errors=10**9, budget=0.05)
    with pytest.raises(BackendError, match="controller down"):
        t.wait([TaskHandle("a", 0, "1")], ctx(tmp_path))


def test_wait_timeout_during_errors_returns_unknown(tmp_path):
    t = _Flaky(errors=10**9)
    out = t.wait([TaskHandle("a", 0, "1")], ctx(tmp_path), timeout=0.05)
    assert out[("a", 0)].state is TaskState.UNKNOWN and "controller down" in out[("a", 0)].reason


class _Sequence(Transformer):
    """Answers each status call with the next of ``answers`` (one state word per handle)."""

    name = "sequence"

    def __init__(self, answers):
        self.answers, self.asked = list(answers), []

    def render(self, plan, context):  # pragma: no cover - not used
        raise NotImplementedError

    def submit(self, plan, submission, context):  # pragma: no cover - not used
        raise NotImplementedError

    def status(self, handles, context):
        self.asked.append([h.task_id for h in handles])
        states = self.answers.pop(0)
        return {h.key: TaskStatus(TaskState(states[h.task_id])) for h in handles}

    def cancel(self, handles, context):  # pragma: no cover - not used
        pass


def test_wait_keeps_the_first_terminal_status_and_stops_asking(tmp_path, monkeypatch):
    import jobspec_core.transformer as mod

    monkeypatch.setattr(mod.time, "sleep", lambda s: None)
    # "a" fails first; a later poll would call it cancelled (the backend cancelled it).
    t = _Sequence([{"a": "failed", "b": "running"}, {"a": "cancelled", "b": "completed"}])
    out = t.wait([TaskHandle("a", 0, "1"), TaskHandle("b", 0, "2")], ctx(tmp_path))
    assert out[("a", 0)].state is TaskState.FAILED
    assert out[("b", 0)].state is TaskState.COMPLETED
    assert t.asked == [["a", "b"], ["b"]]


# -- the runner applies the rules in order ----------------------------------------------------


class _Recorder(Transformer):
    """Records what the runner hands it: the capacity at render, the files at submit."""

    name = "recorder"
    capabilities = frozenset(
        {"steps.write", "attributes.cwd", "resources", "resources.named", "resources.alternatives"}
    )
    seen: dict = {}

    def capacity(self, plan, context):
        return Capacity(cores_per_node=2, nodes=1)

    def render(self, plan, context):
        from jobspec_core.transformer import Submission

        request, _ = choose_alternative(plan.node("t").resources, context.capacity)
        _Recorder.seen["render"] = (context.capacity, request.name)
        return Submission(self.name, data={"chosen": request.name})

    def submit(self, plan, submission, context):
        written = context.workdir / "sub" / "f.txt"
        _Recorder.seen["submit"] = (submission.data, written.read_text())
        return [TaskHandle("t", 0, "r-1")]

    def status(self, handles, context):
        return {h.key: TaskStatus(TaskState.COMPLETED) for h in handles}

    def cancel(self, handles, context):  # pragma: no cover - not used
        pass


def test_runner_asks_capacity_before_render_and_writes_before_submit(tmp_path):
    from jobspec_core.plugins import Registry
    from jobspec_core.runner import Runner
    from jobspec_core.store import RunStore

    from jobspec_core import builtin_steps, hookimpl

    class _Plugin:
        @hookimpl
        def jobspec_register_transformers(self, register):
            register(_Recorder)

    registry = Registry.from_modules([("core_steps", builtin_steps), ("rec", _Plugin())])
    runner = Runner(RunStore(tmp_path / "runs.sqlite"), registry)
    plan = api.plan(
        api.load_text(
            textwrap.dedent(
                """
                version: 1
                resources:
                  big: {type: slot, count: 1, with: [{type: core, count: 8}]}
                  small: {type: slot, count: 1, with: [{type: core, count: 2}]}
                tasks:
                - name: t
                  resources: big|small
                  attributes: {cwd: sub}
                  steps: [{name: write, path: f.txt, content: "abc"}]
                  command: ["true"]
                """
            ),
            "job.yaml",
        ),
        registry,
    )
    _Recorder.seen.clear()
    runner.submit(plan, "recorder", workdir=tmp_path)
    assert _Recorder.seen["render"] == (Capacity(cores_per_node=2, nodes=1), "small")
    assert _Recorder.seen["submit"] == ({"chosen": "small"}, "abc")


def test_fitted_sums_the_alternatives_children_will_use():
    from jobspec_core.alternatives import fitted

    plan = plan_of(
        """
        version: 1
        resources:
          huge: {type: slot, count: 1, with: [{type: core, count: 64}]}
          small: {type: slot, count: 1, with: [{type: core, count: 2}]}
        groups:
        - name: g
          tasks:
          - {name: a, resources: "huge|small", replicas: 2, command: ["true"]}
          - {name: b, command: ["true"]}
        tasks:
        - group: g
        """
    )
    group = plan.node("g")
    assert fitted(group, None) is group.resources  # unknown capacity: the planner's sum
    assert group.resources.preferred.totals["core"] == 129
    summed = fitted(group, Capacity(cores_per_node=8, nodes=1)).preferred
    assert summed.totals["core"] == 5 and summed.origin == "sum"
    assert fitted(plan.node("g/a"), Capacity(cores_per_node=8)) is plan.node("g/a").resources
