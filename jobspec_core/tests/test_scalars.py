"""Scalars: every YAML 1.1 tag and form either constructs or is a located problem (issue 11).

:func:`jobspec_core.scalars.construct` is total (a property over arbitrary texts and every
tag); the loader turns its refusals into problems with file, line, column and document
path; no document makes a command exit 1.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jobspec_core.errors import InvalidJobspec
from jobspec_core.limits import INT_MAX, INT_MIN
from jobspec_core.loader import load_text
from jobspec_core.scalars import ScalarError, UnsupportedTag, construct

from jobspec_core import api

T = "tag:yaml.org,2002:"
TAGS = [T + n for n in ("str", "int", "float", "bool", "null", "timestamp", "binary", "merge")]
TAGS += [T + "value", T + "set", T + "omap", "!local", "tag:example.com,2000:x"]
HARD = [
    "",
    "-",
    "+",
    "_",
    "0x",
    "0b",
    "0b_",
    "0o17",
    "²",
    "١٢",
    "1_000",
    "0x" + "f" * 4000,
    "9" * 5000,
    "1:30",
    "1:99",
    "190:20:30.15",
    ":",
    ".",
    ".inf",
    "-.Inf",
    ".NaN",
    "1.0e+400",
    "1e5",
    " 12 ",
    "maybe",
    "YES",
    "Off",
    "~",
    "2001-12-14",
    "2001-13-45t25:61:61",
    "junk",
    "@@",
]


def _fits(value) -> bool:
    if value is None or isinstance(value, bool | str):
        return True
    if isinstance(value, int):
        return INT_MIN <= value <= INT_MAX
    return isinstance(value, float) and math.isfinite(value)


@settings(max_examples=600, deadline=None, derandomize=True)
@given(st.sampled_from(TAGS), st.one_of(st.sampled_from(HARD), st.text(max_size=30)))
def test_construct_is_total(tag, text):
    try:
        value = construct(tag, text)
    except ScalarError as exc:
        assert str(exc)  # a message, never an empty one
        return
    assert _fits(value), value


@pytest.mark.parametrize("tag", TAGS)
@pytest.mark.parametrize("text", HARD)
def test_every_hard_text_under_every_tag(tag, text):
    try:
        value = construct(tag, text)
    except ScalarError:
        return
    assert _fits(value)


@pytest.mark.parametrize(
    "text, value",
    [
        ("1_000", 1000),
        ("0x1F", 31),
        ("0b101", 5),
        ("017", 15),
        ("1:30", 90),
        ("-1:30", -90),
        (str(INT_MAX), INT_MAX),
        (str(INT_MIN), INT_MIN),
    ],
)
def test_yaml_1_1_integers(text, value):
    assert construct(T + "int", text) == value


@pytest.mark.parametrize(
    "text, value", [("1.5", 1.5), ("190:20:30.15", 685230.15), ("-.5", -0.5), ("1e5", 1e5)]
)
def test_yaml_1_1_floats(text, value):
    assert construct(T + "float", text) == pytest.approx(value)


@pytest.mark.parametrize(
    "yaml_value, words",
    [
        ("!!int ''", "cannot read '' as an integer"),
        ("!!int '-'", "cannot read '-' as an integer"),
        ('!!int "²"', "cannot read '²' as an integer"),
        ("9" * 5000, "is out of range"),
        ("!!bool maybe", "cannot read 'maybe' as a boolean"),
        ("!!float ''", "cannot read '' as a number"),
        ("0x" + "f" * 4000, "is out of range"),
        ("!!timestamp junk", "as a timestamp"),
        ("!!binary junk", "unsupported YAML tag"),
        ("!!null junk", "as null"),
        (".nan", "not a finite number"),
        ("1.0e+400", "too large for a number"),
        ("9223372036854775808", "is out of range"),
        ("0b_", "cannot read '0b_' as an integer"),
    ],
)
def test_unreadable_scalars_are_located_problems(yaml_value, words):
    doc = load_text(f"version: 1\ntasks:\n- command: [echo, {yaml_value}]\n", "s.yaml")
    (problem,) = doc.problems
    assert words in problem.message
    assert (problem.file, problem.line, problem.column) == ("s.yaml", 3, 19)
    assert problem.path == "tasks[0].command[1]"
    assert len(problem.format()) < 400  # a 5,000-digit text is shortened in the message
    (reported,) = api.validate(doc)  # the schema's echo at the same place is not repeated
    assert reported == problem


def test_a_refused_plain_scalar_is_reported_each_time():
    doc = load_text("version: 1\ntasks:\n- command: [echo, 0b_, 0b_]\n")
    assert [p.path for p in doc.problems] == ["tasks[0].command[1]", "tasks[0].command[2]"]


def test_sexagesimal_and_merge_text_outside_a_key():
    doc = load_text("version: 1\ntasks:\n- command: [echo, 1:30, <<, =]\n")
    assert doc.problems == []
    assert doc.data["tasks"][0]["command"] == ["echo", 90, "<<", "="]


def test_unsupported_tag_is_its_own_kind():
    with pytest.raises(UnsupportedTag):
        construct("!local", "x")


def _cli(tmp_path, *args):
    return subprocess.run(
        [sys.executable, "-m", "jobspec_core", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "JOBSPEC_STORE": str(tmp_path / "store.db")},
    )


@pytest.mark.parametrize("transformer", ["local", "slurm", "flux", "sge"])
def test_a_huge_hexadecimal_is_refused_before_transform(tmp_path, transformer):
    """It used to validate, then crash ``transform -t slurm`` (Python's int-string limit)."""
    (tmp_path / "hex.yaml").write_text(
        "version: 1\ntasks:\n- command: [echo, 0x" + "f" * 4000 + "]\n"
    )
    for args in (("validate", "hex.yaml"), ("transform", "-t", transformer, "hex.yaml")):
        proc = _cli(tmp_path, *args)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 2, out
        assert "internal error" not in out and "Traceback" not in out
        assert "hex.yaml:3:19: tasks[0].command[1]: the integer" in out


def test_scalars_never_raise_through_load():
    for tag in ("!!int", "!!float", "!!bool", "!!null", "!!timestamp", "!!binary", "!x", "!"):
        for text in HARD[:20]:
            quoted = text.replace("'", "''")
            try:
                load_text(f"version: 1\na: {tag} '{quoted}'\nb: '{quoted}'\n")
            except InvalidJobspec:
                pass
