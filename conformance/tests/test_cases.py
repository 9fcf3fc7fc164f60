"""The shipped cases themselves: they load, they cover every feature, their tags are honest."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import jsonschema
import pytest
from jobspec_conformance.cases import (
    CASE_SUFFIX,
    CaseError,
    case_schema,
    load_case,
    shipped_case_files,
)
from jobspec_conformance.execute import RENDER_PLACES
from jobspec_conformance.prepare import prepare_plan, substitute, uses_results
from jobspec_core.features import CORE_FEATURES, FEATURES, features_used

from jobspec_core import api

CASES = [load_case(p) for p in shipped_case_files()]
BY_ID = {c.id: c for c in CASES}

#: The portable basics: each must have at least one required case.
REQUIRED_BASICS = [
    "tasks",
    "command",
    "depends_on",
    "replicas",
    "groups",
    "groups.depends_on",
    "attributes.environment",
    "attributes.cwd",
    "attributes.duration",
    "portable-variables",
]


def test_there_are_at_least_95_cases_with_unique_ids_matching_file_names():
    assert len(CASES) >= 95
    assert len(BY_ID) == len(CASES)
    for case in CASES:
        assert case.path.name == case.id + CASE_SUFFIX


@pytest.mark.parametrize("feature", list(FEATURES))
def test_every_feature_has_a_case(feature):
    assert [c.id for c in CASES if feature in c.features], f"no conformance case for {feature!r}"


@pytest.mark.parametrize("feature", REQUIRED_BASICS)
def test_portable_basics_have_a_required_case(feature):
    assert [c.id for c in CASES if feature in c.features and c.required]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_tags_cover_what_the_plan_uses(case):
    """A case's tags name every feature its plan uses (so skips and the report are honest);
    the results variable injected by the suite does not count."""
    data = substitute(copy.deepcopy(case.jobspec), dict(RENDER_PLACES))
    plan = api.plan(api.Document(data, str(case.path)), parameters=case.parameters)
    assert features_used(plan) - CORE_FEATURES <= set(case.features)
    # and with the injection, the plan is still valid
    prepare_plan(case, dict(RENDER_PLACES))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_run_mode_cases_expect_something_observable(case):
    """Every case that runs checks at least one thing beyond 'it completed'."""
    if "run" not in case.modes:
        assert case.render, "a render-only case needs render expectations"
        return
    if case.must_refuse:
        assert not case.expect, "a case that must be refused has nothing to run"
        return
    expect = case.expect
    assert expect.get("tasks") or expect.get("order") or expect.get("concurrent")
    assert uses_results(case) or any("state" in t for t in (expect.get("tasks") or {}).values())


def test_at_least_20_combination_cases_and_the_fault_cases_a_scheduler_site_needs():
    """Combination cases (combo-*) each tag at least two features beyond tasks/command."""
    combos = [c for c in CASES if c.id.startswith("combo-")]
    assert len(combos) >= 20
    for case in combos:
        assert len(set(case.features) - {"tasks", "command"}) >= 2, case.id
    actions = {c.fault["action"] for c in CASES if c.fault}
    assert actions == {"delete_behind", "force_error", "limit_behind"}
    assert any(c.may_refuse for c in CASES)


@pytest.mark.parametrize("case", [c for c in CASES if c.fault], ids=lambda c: c.id)
def test_a_fault_names_an_instance_of_the_plan_in_an_optional_case(case):
    data = substitute(copy.deepcopy(case.jobspec), dict(RENDER_PLACES))
    plan = api.plan(api.Document(data, str(case.path)))
    tasks = {t.id: t for t in plan.tasks()}
    assert case.fault["task"] in tasks
    assert case.fault.get("index", 0) < tasks[case.fault["task"]].replicas
    assert not case.required, "a fault case depends on optional conformance faults"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_index_states_name_existing_instances(case):
    data = substitute(copy.deepcopy(case.jobspec), dict(RENDER_PLACES))
    plan = api.plan(api.Document(data, str(case.path)), parameters=case.parameters)
    replicas = {t.id: t.replicas for t in plan.tasks()}
    for task, exp in (case.expect.get("tasks") or {}).items():
        for index in exp.get("index_states") or {}:
            assert int(index) < replicas[task], f"{task}@{index}"


@pytest.mark.parametrize("case", [c for c in CASES if "same_as" in c.render], ids=lambda c: c.id)
def test_same_as_documents_are_valid_and_differ_from_the_case(case):
    """A render.same_as document plans, and is not the case's own text (the case shows
    that two different documents mean the same)."""
    from jobspec_conformance.prepare import prepare_same_as

    assert case.render["same_as"] != case.jobspec
    prepare_same_as(case, dict(RENDER_PLACES))


def test_parameters_cases_use_their_values():
    """Every case tagged parameters gives values or relies on defaults it declares."""
    tagged = [c for c in CASES if "parameters" in c.features]
    assert len(tagged) >= 4 and any("run" in c.modes for c in tagged)
    for case in tagged:
        assert "parameters" in case.jobspec, case.id


def test_case_schema_is_a_valid_schema():
    jsonschema.Draft202012Validator.check_schema(case_schema())


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"bad{CASE_SUFFIX}"
    path.write_text(text, encoding="utf-8")
    return path


GOOD_HEAD = "id: x\ndescription: d\nfeatures: [tasks]\nrequired: false\n"


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        (GOOD_HEAD + "jobspec: {version: 1}\nexpct: {}\n", 6, "'expct' was unexpected"),
        (
            GOOD_HEAD.replace("[tasks]", "[tasks, gpus]") + "jobspec: {version: 1}\n",
            3,
            "unknown feature 'gpus'",
        ),
        (GOOD_HEAD, None, "exactly one of 'jobspec'"),
        (
            GOOD_HEAD + "jobspec: {version: 1}\nexpect:\n  tasks:\n    a: {state: done}\n",
            8,
            "'done' is not one of",
        ),
        (GOOD_HEAD + "jobspec: [unclosed\n", 6, "not valid YAML"),
        (
            GOOD_HEAD + "jobspec: {version: 1}\nfault: {action: limit_behind, task: a}\n",
            6,
            "'seconds' is a required property",
        ),
        (GOOD_HEAD + "jobspec: {version: 1}\nrun_in: a/b\n", 6, "does not match"),
        (GOOD_HEAD + "jobspec_file: nowhere.yaml\n", 5, "cannot read"),
        ("- just\n- a list\n", 1, "expected a mapping"),
    ],
)
def test_broken_case_names_file_and_line(tmp_path, text, line, needle):
    path = _write(tmp_path, text)
    with pytest.raises(CaseError) as info:
        load_case(path)
    message = str(info.value)
    assert str(path) in message
    assert needle in message
    if line is not None:
        assert f"{path}:{line}:" in message


def test_jobspec_file_is_read_relative_to_the_case(tmp_path):
    (tmp_path / "job.yaml").write_text("version: 1\ntasks:\n  - command: [true]\n")
    case = load_case(_write(tmp_path, GOOD_HEAD + "jobspec_file: job.yaml\n"))
    assert case.jobspec["tasks"][0]["command"] == [True] or case.jobspec["version"] == 1
    assert "command" in case.jobspec_text


def test_probe_is_valid_posix_sh():
    probe = Path(shipped_case_files()[0]).parent.parent / "probe.sh"
    assert subprocess.run(["sh", "-n", str(probe)], check=False).returncode == 0
