"""Semantic checks: references, names, cycles, groups, durations, steps; all reported
together, sorted by position."""

from __future__ import annotations

import time

import pytest
from jobspec_core.plugins import Registry
from jobspec_core.semantics import find_cycles
from jobspec_core.steps import StepType

from jobspec_core import api


def problems(text: str, registry=None):
    return api.validate(api.load_text(text, "s.yaml"), registry)


def codes(text: str, registry=None) -> list[str]:
    return [p.code for p in problems(text, registry)]


def test_valid_document_has_no_problems():
    assert problems("version: 1\ntasks:\n- command: echo\n") == []


def test_all_problems_together_sorted_by_position():
    found = problems(
        "version: 1\n"
        "tasks:\n"
        "- name: a\n"
        "  command: echo\n"
        "  depends_on: [zz]\n"
        "  replicas: 0\n"
        "  resources: nope\n"
        "- name: a\n"
        "  command: echo\n"
    )
    assert [p.code for p in found] == [
        "unknown-dependency",
        "range",
        "unknown-resource",
        "duplicate-name",
    ]
    lines = [p.line for p in found]
    assert lines == sorted(lines) == [5, 6, 7, 8]


def test_unknown_alternative_each_side():
    found = problems(
        "version: 1\nresources:\n  a: {type: core}\ntasks:\n- command: x\n  resources: b|a|c\n"
    )
    assert [p.message.split(":")[0] for p in found] == [
        "unknown resource block 'b'",
        "unknown resource block 'c'",
    ]


def test_depends_on_is_same_level_only():
    text = (
        "version: 1\ntasks:\n- name: top\n  command: x\n"
        "groups:\n- name: g\n  tasks:\n  - name: inner\n    command: x\n    depends_on: [top]\n"
    )
    (p,) = problems(text)
    assert p.code == "unknown-dependency" and p.path == "groups[0].tasks[0].depends_on[0]"
    assert "group 'g'" in p.message


def test_depends_on_a_group_placed_at_the_same_level():
    text = (
        "version: 1\ntasks:\n- group: g\n- command: x\n  depends_on: [g, h]\n"
        "groups:\n- name: g\n  tasks:\n  - command: x\n- name: h\n  tasks:\n  - command: x\n"
    )
    assert problems(text) == []  # g is placed here, h is unplaced and so at the top level


@pytest.mark.parametrize(
    "deps, cycle",
    [
        ({"a": ["a"]}, "'a' depends on itself"),
        ({"a": ["b"], "b": ["a"]}, "dependency cycle: a -> b -> a"),
        ({"a": ["b"], "b": ["c"], "c": ["a"]}, "dependency cycle: a -> b -> c -> a"),
    ],
)
def test_cycles_are_named(deps, cycle):
    text = "version: 1\ntasks:\n" + "".join(
        f"- name: {n}\n  command: x\n  depends_on: [{', '.join(d)}]\n" for n, d in deps.items()
    )
    (p,) = problems(text)
    assert p.code == "cycle" and cycle in p.message


def test_cycle_through_a_group_entry_and_a_group_definition():
    text = (
        "version: 1\ntasks:\n- name: a\n  command: x\n  depends_on: [g]\n"
        "groups:\n- name: g\n  depends_on: [a]\n  tasks:\n  - command: x\n"
    )
    (p,) = problems(text)
    assert p.code == "cycle" and "a -> g -> a" in p.message


def test_find_cycles_is_linear_on_long_chains():
    n = 200_000
    edges = {f"t{i}": [f"t{i - 1}"] if i else [] for i in range(n)}
    start = time.perf_counter()
    assert find_cycles(list(edges), edges) == []
    assert time.perf_counter() - start < 5  # generous: a quadratic search takes minutes
    edges["t0"] = [f"t{n - 1}"]
    (cycle,) = find_cycles(list(edges), edges)
    assert len(cycle) == n + 1


def test_group_rules():
    base = "version: 1\ngroups:\n- name: g\n  tasks:\n  - command: x\n"
    assert codes(base + "  - group: g\n") == ["group-cycle"]
    assert codes(base + "- name: g\n  tasks:\n  - command: y\n") == ["duplicate-name"]
    assert codes("version: 1\ngroups:\n- name: g\n") == ["empty-group"]
    assert codes("version: 1\ntasks:\n- group: g\n- group: g\n" + base[11:]) == ["group-twice"]
    assert codes(
        "version: 1\ntasks:\n- group: g\n  depends_on: []\n  attributes: {}\n" + base[11:]
    ) == ["group-reference-key"]


def test_group_nesting_depth_is_bounded():
    text = "version: 1\ngroups:\n" + "".join(
        f"- name: g{i}\n  tasks:\n  - command: x\n" + (f"  - group: g{i + 1}\n" if i < 20 else "")
        for i in range(21)
    )
    assert "too-deep" in codes(text)


def test_task_and_group_names_share_a_level():
    text = (
        "version: 1\ntasks:\n- name: g\n  command: x\n"
        "groups:\n- name: g\n  tasks:\n  - command: x\n"
    )
    assert codes(text) == ["duplicate-name"]  # the unplaced group g is at the top level


def test_generated_ids_cannot_be_taken():
    text = "version: 1\ntasks:\n- command: x\n- name: task-0\n  command: y\n"
    (p,) = problems(text)
    assert p.code == "duplicate-name" and "task-0" in p.message


def test_local_rules():
    assert codes("version: 1\ntasks:\n- command: x\n  local: true\n") == ["local-top-level"]
    text = (
        "version: 1\ngroups:\n- name: g\n  tasks:\n  - command: x\n    local: true\n"
        "    resources: {type: core}\n"
    )
    assert codes(text) == ["local-resources"]


def test_duration_may_not_exceed_the_enclosing_group():
    text = (
        "version: 1\ngroups:\n- name: outer\n  attributes: {duration: 1h}\n  tasks:\n"
        "  - group: inner\n- name: inner\n  attributes: {duration: 2h}\n  tasks:\n"
        "  - command: x\n    attributes: {duration: 3h}\n"
    )
    found = problems(text)
    assert [p.code for p in found] == ["duration-exceeds-group", "duration-exceeds-group"]
    assert "3600 s of its enclosing group 'outer'" in found[0].message
    assert "7200 s of its enclosing group 'inner'" in found[1].message


def test_duration_inherited_from_the_top_bounds_groups_tasks_only():
    text = (
        "version: 1\nattributes: {duration: 1m}\n"
        "tasks:\n- command: x\n  attributes: {duration: 1h}\n"
        "groups:\n- name: g\n  tasks:\n  - command: x\n    attributes: {duration: 2m}\n"
    )
    (p,) = problems(text)
    assert p.path == "groups[0].tasks[0].attributes.duration"


class EchoStep(StepType):
    name = "echo"
    options_schema = {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
        "additionalProperties": False,
    }

    def check(self, options):
        return [("text", "must not shout")] if options["text"].isupper() else []


class _Plugin:
    @staticmethod
    def jobspec_register_steps(register):
        register(EchoStep)


def test_plugin_steps_are_validated_with_their_schema_and_checks():
    from jobspec_core.hookspecs import hookimpl

    plugin = type(
        "P", (), {"jobspec_register_steps": staticmethod(hookimpl(_Plugin.jobspec_register_steps))}
    )
    registry = Registry.from_modules([("echo", plugin)])
    assert "echo" in registry.steps
    step = "version: 1\ntasks:\n- command: x\n  steps:\n  - name: echo\n"
    assert problems(step + "    text: hi\n", registry) == []
    (p,) = problems(step + "    text: HI\n", registry)
    assert p.message == "echo step: must not shout" and p.path == "tasks[0].steps[0].text"
    found = {p.code: p for p in problems(step + "    txt: hi\n", registry)}
    assert set(found) == {"unknown-key", "missing-key"}
    assert found["unknown-key"].hint == "did you mean 'text'?"
    # the built-in steps stay available even though this registry lacks them
    assert (
        problems(
            "version: 1\ntasks:\n- command: x\n  steps:\n  - {name: stage, path: /x}\n", registry
        )
        == []
    )


def test_unknown_step_lists_the_known_ones():
    (p,) = problems(
        "version: 1\ntasks:\n- command: x\n  steps:\n  - {name: copy, path: a}\n", Registry()
    )
    assert p.message == "unknown step 'copy': expected one of stage, write"


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a/../../b", "dir/", " x"])
def test_write_may_not_escape(path):
    text = (
        "version: 1\ntasks:\n- command: x\n  steps:\n"
        f"  - {{name: write, path: '{path}', content: hi}}\n"
    )
    (p,) = problems(text)
    assert p.path == "tasks[0].steps[0].path" and p.code == "bad-step"


def test_write_into_a_subdirectory_is_fine():
    text = (
        "version: 1\ntasks:\n- command: x\n  steps:\n"
        "  - {name: write, path: sub/dir/x.sh, content: hi, executable: true}\n"
    )
    assert problems(text) == []


def test_validation_of_10k_tasks_is_fast_enough_for_a_test():
    lines = ["version: 1", "tasks:"]
    for i in range(10_000):
        lines += [f"- name: t{i}", "  command: [echo, x]"] + (
            [f"  depends_on: [t{i - 1}]"] if i else []
        )
    doc = api.load_text("\n".join(lines) + "\n")
    start = time.perf_counter()
    assert api.validate(doc) == []
    # generous margin (the speed target is measured in benchmarks/, not here)
    assert time.perf_counter() - start < 10


def test_documents_built_in_python_with_non_text_keys():
    from jobspec_core.loader import Document

    doc = Document({"version": 1, 1: 2, "tasks": [{"command": "x", "attributes": {3: 4}}]}, "p")
    found = api.validate(doc)
    assert {p.code for p in found} == {"key-type", "unknown-key"}
    assert {p.path for p in found} == {"1", "tasks[0].attributes.3"}


def test_a_step_check_that_raises_is_a_problem_not_a_crash():
    class Broken(StepType):
        name = "broken"
        options_schema = {"type": "object"}

        def check(self, options):
            raise RuntimeError("oops")

    registry = Registry(steps={"broken": Broken})
    (p,) = problems("version: 1\ntasks:\n- command: x\n  steps:\n  - name: broken\n", registry)
    assert p.code == "step-check-failed" and "RuntimeError: oops" in p.message
