"""Requirements in the language: constraint objects, named sets, references, inheritance
(spec/spec.md, "Requires"; jobspec_core.requirements and the planner)."""

from __future__ import annotations

import json
import textwrap

import pytest
from jobspec_core.plan import Plan
from jobspec_core.requirements import combination_problem

from jobspec_core import api


def problems(text: str):
    return api.validate(api.load_text(textwrap.dedent(text), "r.yaml"))


def plan_of(text: str) -> Plan:
    return api.plan(api.load_text(textwrap.dedent(text), "r.yaml"))


SETS = """\
version: 1
requires:
  io.archspec: {cpu.target: x86_64}
  spack-software:
  - {name: spack, field: type, match: package, attribute: name, value: openssl}
  gpu-stack:
  - {name: system, field: gpus, min: 1}
resources:
  box:
    type: node
    requires:
    - {name: system, field: cores, min: 2}
    with:
    - type: core
      count: 2
      requires: [{name: system, field: memory, min: 1024}]
groups:
- name: g
  requires: gpu-stack
  tasks:
  - name: inner
    command: [echo, inner]
    requires: [{name: modules, attribute: name, value: python/3}]
tasks:
- name: a
  command: [echo, a]
  resources: box
  requires: spack-software
- group: g
"""


def test_constraint_lists_and_named_sets_validate():
    assert problems(SETS) == []


def test_a_referenced_set_applies_where_it_is_referred_to():
    plan = plan_of(SETS)
    a = plan.node("a")
    inner = plan.node("g/inner")
    assert [c.set for c in a.constraints] == ["spack-software"]
    assert [(c.set, c.subsystem) for c in inner.constraints] == [
        ("gpu-stack", "system"),
        (None, "modules"),
    ]
    # every set is referred to: the plan as a whole has no requirement of its own, and the
    # sets are not repeated in its metadata
    assert plan.constraints == ()
    assert plan.requires == {"io.archspec": {"cpu.target": "x86_64"}}


def test_an_unreferenced_set_applies_to_the_whole_plan():
    plan = plan_of(
        """\
        version: 1
        requires:
          everywhere:
          - {name: system, field: cores, min: 1}
        tasks:
        - name: a
          command: [echo]
        - name: b
          command: [echo]
        """
    )
    assert [c.set for c in plan.constraints] == ["everywhere"]
    for name in ("a", "b"):
        assert [c.set for c in plan.node(name).constraints] == ["everywhere"]
    # one constraint object shared by every node: one requirement, not one per task
    assert plan.node("a").constraints[0] is plan.node("b").constraints[0]


def test_constraints_accumulate_and_the_mapping_form_merges_apart():
    plan = plan_of(
        """\
        version: 1
        requires:
          io.archspec: {cpu.target: x86_64, cpu.vendor: AuthenticAMD}
          base: [{name: system, field: memory, min: 512}]
        groups:
        - name: g
          requires: [{name: system, field: cores, min: 1}, base]
          tasks:
          - name: t
            command: [echo]
            requires:
              io.archspec: {cpu.target: zen2}
          - name: u
            command: [echo]
            requires: [{name: system, field: cores, max: 64}]
        """
    )
    t, u = plan.node("g/t"), plan.node("g/u")
    # the group's constraints and the set it names, inherited; a mapping adds none
    assert [(c.field, c.min, c.max, c.source.line) for c in t.constraints] == [
        ("cores", 1, None, 7),
        ("memory", 512, None, 4),
    ]
    assert [(c.field, c.max) for c in u.constraints][-1] == ("cores", 64)
    assert len(u.constraints) == 3  # a nearer level adds, never replaces
    assert t.requires == {"io.archspec": {"cpu.target": "zen2", "cpu.vendor": "AuthenticAMD"}}


def test_resource_block_requirements_stay_on_their_alternative():
    plan = plan_of(SETS)
    request = plan.node("a").resources.preferred
    assert [(c.field, c.min, c.source.path) for c in request.constraints] == [
        ("cores", 2, "resources.box.requires[0]"),
        ("memory", 1024, "resources.box.with[0].requires[0]"),
    ]
    assert not any(c.field == "cores" for c in plan.node("a").constraints)


def test_the_mapping_form_on_a_resource_block_is_kept_as_metadata():
    plan = plan_of(
        """\
        version: 1
        resources:
          single-node:
            count: 1
            type: node
            requires:
              io.archspec:
                cpu.target: amd64
        tasks:
        - command: [echo]
          resources: single-node
        """
    )
    request = plan.children[0].resources.preferred
    assert request.requires == {"io.archspec": {"cpu.target": "amd64"}}
    assert request.constraints == ()


def test_the_plan_round_trips_through_json_with_constraints():
    plan = plan_of(SETS)
    again = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again.to_dict() == plan.to_dict()
    assert again.node("a").resources.preferred.constraints == (
        plan.node("a").resources.preferred.constraints
    )


@pytest.mark.parametrize(
    ("text", "code", "message", "hint"),
    [
        (
            "requires: {s: [{name: spack, feild: type, match: package}]}",
            "unknown-key",
            "unknown key 'feild'",
            "did you mean 'field'?",
        ),
        (
            "requires: {s: [{name: system, field: cores, min: 8, max: 2}]}",
            "constraint",
            "'min' (8) is greater than 'max' (2)",
            "swap them",
        ),
        (
            "requires: {s: [{name: spack, match: package}]}",
            "constraint",
            "'match' needs 'field'",
            "add 'field: type'",
        ),
        (
            "requires: {s: [{name: system, field: cores, value: 2, min: 1}]}",
            "constraint",
            "either 'value' or 'min'/'max'",
            None,
        ),
        (
            "requires: {s: [{name: spack, field: type, match: package, value: openssl}]}",
            "constraint",
            "there is none",
            "add 'attribute: NAME'",
        ),
        (
            "requires: {s: [{name: spack, attribute: name}]}",
            "constraint",
            "'attribute' needs 'value', 'min' or 'max'",
            None,
        ),
        ("requires: {s: [{name: spack}]}", "constraint", "needs 'field' or 'attribute'", None),
        ("requires: {s: [{field: type, match: x}]}", "missing-key", "'name'", None),
    ],
)
def test_malformed_constraint_objects(text, code, message, hint):
    found = problems(f"version: 1\n{text}\ntasks:\n- command: [echo]\n")
    assert found, "expected a problem"
    first = found[0]
    assert first.code == code, [p.format() for p in found]
    assert message in first.message, first.format()
    assert first.line == 2
    if hint:
        assert hint in (first.hint or ""), first.format()


def test_an_unknown_set_name_is_an_error_with_a_suggestion():
    found = problems(
        """\
        version: 1
        requires:
          spack-software: [{name: spack, field: type, match: package}]
        tasks:
        - command: [echo]
          requires: spack-sofware
        """
    )
    assert [p.code for p in found] == ["unknown-requirement-set"]
    assert found[0].line == 6
    assert "unknown requirement set 'spack-sofware'" in found[0].message
    assert found[0].hint == "did you mean 'spack-software'?"


def test_a_metadata_key_is_not_a_set():
    found = problems(
        """\
        version: 1
        requires:
          io.archspec: {cpu.target: x86_64}
        tasks:
        - command: [echo]
          requires: [io.archspec]
        """
    )
    assert [p.code for p in found] == ["unknown-requirement-set"]
    assert "is metadata, not a requirement set" in found[0].message


def test_a_typo_inside_a_resource_block_is_still_an_error_with_a_suggestion():
    found = problems(
        """\
        version: 1
        resources:
          r:
            type: node
            requiers: [{name: system, field: cores, min: 1}]
        tasks:
        - command: [echo]
          resources: r
        """
    )
    assert [p.code for p in found] == ["unknown-key"]
    assert found[0].hint == "did you mean 'requires'?"


def test_the_meaningful_forms_have_no_problem():
    for item in (
        {"name": "spack", "field": "type", "match": "package"},
        {"name": "spack", "field": "type", "match": "package", "attribute": "name", "value": "x"},
        {"name": "spack", "field": "type", "match": "package", "attribute": "v", "min": 1},
        {"name": "system", "field": "cpu.target", "value": "x86_64"},
        {"name": "system", "field": "cores", "min": 1, "max": 4},
        {"name": "modules", "attribute": "name", "value": "python/3"},
        {"name": "modules", "attribute": "version", "max": 3},
    ):
        assert combination_problem(item) is None, item


def test_the_whole_document_check_agrees_with_the_semantic_pass():
    """``requirement_problems`` (for callers holding plain data) finds what validation does,
    on every requirement document of the bad-input corpus."""
    from pathlib import Path

    from jobspec_core.requirements import requirement_problems
    from jobspec_core.schema import did_you_mean

    corpus = sorted((Path(__file__).parent / "malformed").glob("requires-*.yaml"))
    assert len(corpus) >= 20
    for path in corpus:
        document = api.load_text(path.read_bytes(), path.name)
        ours: list = []
        requirement_problems(
            document.data, lambda p, m, c, h=None, into=ours: into.append(m), did_you_mean
        )
        validated = {p.message for p in api.validate(document) if p.code in _RULE_CODES}
        assert set(ours) == validated, path.name


_RULE_CODES = {"constraint", "unknown-requirement-set"}


def test_every_requirement_problem_of_the_corpus_comes_with_a_suggestion():
    from pathlib import Path

    corpus = sorted((Path(__file__).parent / "malformed").glob("requires-*.yaml"))
    for path in corpus:
        if path.name == "requires-list-of-maps.yaml":  # its unknown key lists the keys
            continue
        found = api.validate(api.load_text(path.read_bytes(), path.name))
        assert found, path.name
        assert all(p.hint and p.line for p in found), (path.name, [p.format() for p in found])
