"""The loader: positions for every node, and clear refusals of everything else."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobspec_core.errors import InvalidJobspec
from jobspec_core.loader import load, load_text

from jobspec_core import loader


def refused(text, name="f.yaml"):
    with pytest.raises(InvalidJobspec) as info:
        load_text(text, name)
    return info.value.problems


def test_data_and_positions():
    doc = load_text(
        "version: 1\ntasks:\n- name: a\n  command: [echo, hi]\n  attributes:\n    duration: 5m\n",
        "job.yaml",
    )
    assert doc.data == {
        "version": 1,
        "tasks": [{"name": "a", "command": ["echo", "hi"], "attributes": {"duration": "5m"}}],
    }
    assert doc.positions[("version",)] == (1, 1)  # a mapping entry: where its key is
    assert doc.positions[("tasks",)] == (2, 1)
    assert doc.positions[("tasks", 0)] == (3, 3)  # a list item: where it starts
    assert doc.positions[("tasks", 0, "name")] == (3, 3)
    assert doc.positions[("tasks", 0, "command", 1)] == (4, 19)
    assert doc.positions[("tasks", 0, "attributes", "duration")] == (6, 5)
    ref = doc.locate(("tasks", 0, "attributes", "duration", "nowhere"))
    assert (ref.file, ref.line, ref.column) == ("job.yaml", 6, 5)
    assert ref.path == "tasks[0].attributes.duration.nowhere"


def test_scalars_follow_pyyaml():
    doc = load_text("a: 1\nb: 1.5\nc: true\nd: null\ne: '1'\nf: 017\ng: 2024-01-02\nh: ~\n")
    assert doc.data == {
        "a": 1,
        "b": 1.5,
        "c": True,
        "d": None,
        "e": "1",
        "f": 15,
        "g": "2024-01-02",
        "h": None,
    }


def test_duplicate_key_reports_both_lines():
    doc = load_text("version: 1\ntasks:\n- name: a\n  command: x\n  name: b\n", "d.yaml")
    (problem,) = doc.problems
    assert problem.code == "duplicate-key"
    assert "first at line 3, again at line 5" in problem.message
    assert (problem.line, problem.path) == (5, "tasks[0].name")


def test_merge_keys_and_anchors():
    doc = load_text("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n")
    assert doc.data["use"] == {"x": 1, "y": 3}
    assert not doc.problems


def test_non_string_keys_are_problems_not_crashes():
    doc = load_text("1: a\ntrue: b\n")
    assert set(doc.data) == {"1", "true"}
    assert [p.code for p in doc.problems] == ["key-type", "key-type"]


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "empty"),
        ("# only a comment\n", "empty"),
        ("---\n", "empty"),
        ("- a\n- b\n", "found a list"),
        ("hello\n", "found a string"),
        ("a: 1\n---\nb: 2\n", "second YAML document"),
        ("a:\n\t- b\n", "tab character"),
        ("a: [1, 2\n", "not valid YAML"),
        ("a: *nowhere\n", "refers to no anchor"),
        ("a: &x [*x]\n", "recursive"),
    ],
)
def test_refusals(text, words):
    (problem,) = refused(text)
    assert words in problem.message
    assert problem.file == "f.yaml"
    assert problem.line is not None


def test_tab_is_located():
    (problem,) = refused("version: 1\ntasks:\n- name: a\n\tcommand: x\n")
    assert problem.code == "yaml-tab"
    assert (problem.line, problem.column) == (4, 1)


def test_bytes_must_be_utf8_without_nul():
    (problem,) = refused(b"a: 1\nb: caf\xe9\n")
    assert problem.code == "encoding" and (problem.line, problem.column) == (2, 7)
    (problem,) = refused(b"a: 1\n\x00\x01")
    assert "NUL" in problem.message and problem.line == 2
    assert load_text("a: caf\u00e9\n".encode()).data == {"a": "caf\u00e9"}


def test_yaml_bomb_is_refused_quickly():
    text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 10)
    )
    start = time.perf_counter()
    (problem,) = refused(text)
    assert time.perf_counter() - start < 0.5
    assert "YAML bomb" in problem.message


def test_alias_count_is_bounded(monkeypatch):
    monkeypatch.setattr(loader, "MAX_ALIASES", 5)
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * 6) + "]\n"
    (problem,) = refused(text)
    assert "alias references" in problem.message


def test_deep_nesting_is_refused_without_recursion():
    (problem,) = refused("a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert "nesting deeper" in problem.message


def test_unsupported_tags_are_problems():
    doc = load_text("a: !!python/object/apply:os.system ['true']\nb: !!binary aGk=\n")
    assert [p.code for p in doc.problems] == ["yaml-tag", "yaml-tag"]


def test_missing_file(tmp_path):
    with pytest.raises(InvalidJobspec) as info:
        load(tmp_path / "nope.yaml")
    (problem,) = info.value.problems
    assert "cannot read the file" in problem.message
    assert problem.file.endswith("nope.yaml")


def test_oversized_input(monkeypatch):
    monkeypatch.setattr(loader, "MAX_BYTES", 100)
    (problem,) = refused(b"a: 1\n" * 50)
    assert problem.code == "too-large"


def test_large_valid_document_loads():
    lines = ["version: 1", "tasks:"]
    for i in range(5000):
        lines += [f"- name: t{i}", f"  command: [echo, '{i}']"]
    doc = load_text("\n".join(lines) + "\n")
    assert len(doc.data["tasks"]) == 5000
    assert doc.positions[("tasks", 4999, "name")] == (2 + 2 * 4999 + 1, 3)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_any_bytes_load_or_refuse_cleanly(raw):
    start = time.perf_counter()
    try:
        doc = load_text(raw, "fuzz.yaml")
    except InvalidJobspec as exc:
        assert exc.problems and all(p.file == "fuzz.yaml" for p in exc.problems)
    else:
        assert isinstance(doc.data, dict)
    assert time.perf_counter() - start < 1.0


_yamlish = st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#\n\t ,?1.~<")), max_size=200)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_yamlish)
def test_any_yamlish_text_loads_or_refuses_cleanly(text):
    try:
        doc = load_text(text, "fuzz.yaml")
    except InvalidJobspec as exc:
        assert exc.problems
    else:
        assert isinstance(doc.data, dict)
        from jobspec_core import api

        api.validate(doc)  # never raises on whatever loaded
