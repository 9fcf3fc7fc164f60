"""The JSON Schema: one file, strict objects, readable messages, and a fast check that
never disagrees with jsonschema about validity."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobspec_core.errors import InvalidJobspec
from jobspec_core.schema import did_you_mean, load_schema

from jobspec_core import api, fastcheck

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "spec" / "examples").glob("*.yaml"))
MALFORMED = sorted((Path(__file__).parent / "malformed").glob("*.yaml"))


def problems(text: str):
    return api.validate(api.load_text(text, "t.yaml"))


def messages(text: str) -> list[str]:
    return [p.format() for p in problems(text)]


def test_schema_is_valid_draft_2020_12():
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_spec_links_to_the_packaged_schema():
    link = ROOT / "spec" / "jobspec-v1.schema.json"
    assert link.is_symlink()
    assert json.loads(link.read_text()) == load_schema()


def _objects(schema, where="#"):
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            yield where, schema
        for key, value in schema.items():
            yield from _objects(value, f"{where}/{key}")
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            yield from _objects(value, f"{where}/{i}")


def test_every_object_with_properties_is_closed():
    open_on_purpose = {"#/$defs/step"}  # a step's options are checked by its step type
    for where, schema in _objects(load_schema()):
        if "properties" in schema and where not in open_on_purpose:
            assert schema.get("additionalProperties") is False, where


@pytest.mark.parametrize(
    "name, ok",
    [
        ("a", True),
        ("build-1", True),
        ("a.b_c-d", True),
        ("9lives", True),
        ("-a", False),
        (".a", False),
        ("a b", False),
        ("a/b", False),
        ("", False),
    ],
)
def test_names(name, ok):
    text = f"version: 1\ntasks:\n- name: {json.dumps(name)}\n  command: echo\n"
    assert (not problems(text)) is ok


@pytest.mark.parametrize(
    "key, ok",
    [("A", True), ("_x1", True), ("PATH", True), ("1A", False), ("A-B", False), ("A B", False)],
)
def test_environment_names(key, ok):
    text = f"version: 1\ntasks:\n- command: echo\n  attributes:\n    environment:\n      {json.dumps(key)}: v\n"
    assert (not problems(text)) is ok


@pytest.mark.parametrize(
    "key, ok",
    [
        ("slurm.partition", True),
        ("flux.queue", True),
        ("my_site.opt-1", True),
        ("Slurm.partition", False),
        ("slurm_partition", False),
        ("slurm.", False),
    ],
)
def test_passthrough_keys(key, ok):
    text = f"version: 1\ntasks:\n- command: echo\n  attributes:\n    {key}: v\n"
    assert (not problems(text)) is ok


def test_message_integer_bound():
    (msg,) = messages("version: 1\ntasks:\n- command: echo\n  replicas: 0\n")
    assert msg == "t.yaml:4:3: tasks[0].replicas: expected an integer >= 1, got 0 (an integer)"


def test_message_did_you_mean():
    (problem,) = problems("version: 1\ntasks:\n- comand: echo\n")[:1]
    assert problem.message.startswith("unknown key 'comand'")
    assert problem.hint == "did you mean 'command'?"
    assert (problem.line, problem.path) == (3, "tasks[0].comand")


def test_message_misplaced_attribute():
    (problem,) = problems("version: 1\nduration: 5m\ntasks:\n- command: echo\n")
    assert "unknown key 'duration'" in problem.message
    assert "attributes" in problem.hint


def test_message_resource_block_misindented():
    (problem,) = problems("version: 1\ntasks:\n- resources:\n    type: core\n    command: echo\n")[
        -1:
    ]
    assert "unknown key 'command'" in problem.message
    assert "indentation" in problem.hint


def test_message_version():
    (missing,) = problems("tasks:\n- command: echo\n")
    assert missing.message.startswith("missing 'version': add 'version: 1'")
    (two,) = problems("version: 2\ntasks:\n- command: echo\n")
    assert "unsupported version 2" in two.message and two.line == 1


def test_message_for_any_of_follows_the_value_type():
    (p,) = problems("version: 1\ntasks:\n- command: echo\n  resources: {type: core, count: x}\n")
    assert p.path == "tasks[0].resources.count" and "expected an integer" in p.message
    (p,) = problems("version: 1\ntasks:\n- command: echo\n  resources: 'a b'\n")
    assert p.path == "tasks[0].resources" and "the name of a resource block" in p.message
    (p,) = problems("version: 1\ntasks:\n- command: echo\n  resources: 3\n")
    assert "expected a resource block, or the name of one" in p.message


def test_did_you_mean():
    assert did_you_mean("comand", ["command", "name"]) == "command"
    assert did_you_mean("NAME", ["command", "name"]) == "name"
    assert did_you_mean("zzz", ["command", "name"]) is None


# -- the fast check never says "valid" when jsonschema says "invalid" ------------------


def _data(path: Path):
    try:
        return api.load_text(path.read_bytes(), path.name).data
    except InvalidJobspec:
        return None


# Only documents that load reach the schema (the others are refused by the loader).
LOADABLE = [p for p in EXAMPLES + MALFORMED if _data(p) is not None]


def test_the_agreement_check_covers_most_of_the_corpus():
    assert len(LOADABLE) >= len(EXAMPLES) + len(MALFORMED) // 2


@pytest.mark.parametrize("path", LOADABLE, ids=lambda p: p.name)
def test_fast_check_agrees_with_jsonschema(path):
    data = _data(path)
    schema = load_schema()
    fast = fastcheck.compile_schema(schema)(data)
    slow = jsonschema.Draft202012Validator(schema).is_valid(data)
    assert fast == slow


def test_fast_check_refuses_unknown_keywords():
    with pytest.raises(fastcheck.Unsupported):
        fastcheck.compile_schema({"type": "object", "dependentRequired": {"a": ["b"]}})


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False, width=16),
    st.sampled_from(["", "a", "a b", "1A", "slurm.x", "x|y", "core", "5m", "-a", "A_1"]),
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "type",
                    "count",
                    "with",
                    "command",
                    "A",
                    "duration",
                    "x",
                    "slurm.p",
                    "environment",
                ]
            ),
            inner,
            max_size=3,
        )
    ),
    max_leaves=8,
)
_KEYS = [
    "version",
    "name",
    "tasks",
    "groups",
    "resources",
    "attributes",
    "requires",
    "command",
    "replicas",
    "depends_on",
    "local",
    "group",
    "steps",
    "type",
    "count",
    "with",
    "duration",
    "environment",
    "cwd",
    "watch",
    "slurm.partition",
]


def _mutations(doc):
    """Every path in ``doc`` (to replace or delete a value there)."""
    stack = [((), doc)]
    while stack:
        path, value = stack.pop()
        yield path
        if isinstance(value, dict):
            stack.extend((path + (k,), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((path + (i,), v) for i, v in enumerate(value))


def _set(doc, path, value):
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


_VALID = [d for d in (_data(p) for p in EXAMPLES) if d is not None]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fast_check_agrees_on_mutated_examples(data):
    doc = copy.deepcopy(data.draw(st.sampled_from(_VALID)))
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _mutations(doc) if p]
        path = data.draw(st.sampled_from(paths))
        if data.draw(st.booleans()):
            _set(doc, path, data.draw(_values))
        else:
            parent = path[:-1]
            target = doc
            for part in parent:
                target = target[part]
            if isinstance(target, dict):
                key = data.draw(st.sampled_from(_KEYS))
                target[key] = data.draw(_values)
    schema = load_schema()
    fast = fastcheck.compile_schema(schema)(doc)
    slow = jsonschema.Draft202012Validator(schema).is_valid(doc)
    assert not (fast and not slow), doc
    assert fast == slow or not fast  # conservative "no" is allowed, never a wrong "yes"
