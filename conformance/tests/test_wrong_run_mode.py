"""Run mode against deliberately wrong transformers: exactly the cases of the broken feature
fail, and their failure text shows the case and expected against seen (no traceback).

Each test runs the whole shipped suite once (about half a minute on the local backend)."""

from __future__ import annotations

import pytest
from conformance_outcomes import failed_ids, outcomes_by_case
from jobspec_conformance.cases import load_case, shipped_case_files

CASES = [load_case(p) for p in shipped_case_files()]

pytestmark = pytest.mark.slow


def tagged(*features: str) -> set[str]:
    """Run-mode cases tagged with any of ``features`` (a render-only case never runs)."""
    return {c.id for c in CASES if set(features) & set(c.features) and "run" in c.modes}


def _explain(result, failed: set[str], expected: set[str]) -> str:
    """What differed, with the failure texts of unexpected failures (for a flaky CI run)."""
    out = result.stdout.str()
    lines = [
        f"failed but not expected: {sorted(failed - expected)}",
        f"expected but not failed: {sorted(expected - failed)}",
    ]
    for case in sorted(failed - expected):
        start = out.find(f"conformance case '{case}' failed")
        if start >= 0:
            lines.append(out[start : out.find("\n___", start)])
    return "\n".join(lines)


def run_suite(pytester, tmp_path, name: str, *args: str):
    """The whole suite in run mode. The local backend is told it has 8 cores: on a 2-core
    machine its core budget alone would serialize some tasks that only a dependency should
    order, hiding the missing dependency."""
    report = tmp_path / f"{name}.json"
    result = pytester.runpytest_subprocess(
        "--transformer",
        name,
        "--conformance-report",
        str(report),
        "-p",
        "no:cacheprovider",
        "--conformance-option",
        "cores=8",
        *args,
        timeout=600,
    )
    return result, outcomes_by_case(report)


#: Cases that need conformance faults the local backend does not offer: skipped on it.
NEEDS_FAULTS = {c.id for c in CASES if c.fault is not None}
#: Cases a transformer may pass by refusing them (local refuses what cannot fit).
MAY_REFUSE = {c.id for c in CASES if c.may_refuse}


def test_ignoring_depends_on_fails_exactly_the_dependency_cases(pytester, with_wrong, tmp_path):
    result, outcomes = run_suite(pytester, tmp_path, "nodeps")
    expected = tagged("depends_on", "groups.depends_on") - NEEDS_FAULTS - MAY_REFUSE
    failed = {k for k, v in outcomes.items() if v == "failed"}
    assert failed == expected, _explain(result, failed, expected)
    assert {k for k, v in outcomes.items() if v == "passed"} == {
        c.id for c in CASES if "run" in c.modes
    } - expected - NEEDS_FAULTS
    assert {k for k, v in outcomes.items() if v == "skipped"} == NEEDS_FAULTS
    out = result.stdout.str()
    assert failed_ids(out) == expected
    assert "Traceback" not in out
    # the failure text of one case, as a site engineer reads it
    start = out.index("conformance case 'depends-on-order' failed (required; transformer nodeps")
    text = out[start : out.index("\n___", start)]
    for needle in (
        "description: B depends on A, so B starts only after A has ended successfully.",
        "| tasks:",
        "depends_on: [a]",
        "- order a -> b",
        "expected: b@0 starts after every instance of a has ended",
        "seen:     b@0 started while a@0 had not ended",
        "b@0: completed (exit code 0)",
    ):
        assert needle in text, needle
    failure = out[out.index("conformance case 'depends-on-failure' failed") :]
    assert "expected: never_run" in failure.split("\n___")[0]


def test_dropping_environment_fails_exactly_the_environment_cases(pytester, with_wrong, tmp_path):
    result, outcomes = run_suite(pytester, tmp_path, "noenv")
    expected = tagged("attributes.environment") - NEEDS_FAULTS
    failed = {k for k, v in outcomes.items() if v == "failed"}
    assert failed == expected, _explain(result, failed, expected)
    out = result.stdout.str()
    assert "Traceback" not in out
    start = out.index("conformance case 'environment-basic' failed")
    text = out[start : out.index("\n___", start)]
    assert "- task t@0: environment variable GREETING" in text
    assert "expected: 'hello'" in text
    assert "seen:     (not set / absent)" in text


#: Cases whose written files belong in a working directory other than the submit one.
WRITES_ELSEWHERE = {
    c.id
    for c in CASES
    if {"steps.write", "attributes.cwd"} <= set(c.features) and not c.must_refuse
}


def test_run_mode_rejects_what_render_mode_cannot_see(pytester, with_wrong, tmp_path):
    """A transformer that renders exactly like the local one but puts written files in the
    submit directory instead of the task's working directory: render mode passes every
    write case, run mode fails exactly those whose writes belong in another directory."""
    assert len(WRITES_ELSEWHERE) >= 4
    selection = ("-k", "write")
    result, rendered = run_suite(
        pytester, tmp_path, "misplacedwrites", "--conformance-mode", "render", *selection
    )
    assert rendered and set(rendered.values()) == {"passed"}, result.stdout.str()
    result, outcomes = run_suite(pytester, tmp_path, "misplacedwrites", *selection)
    assert set(outcomes) == set(rendered)
    failed = {k for k, v in outcomes.items() if v == "failed"}
    assert failed == WRITES_ELSEWHERE, _explain(result, failed, WRITES_ELSEWHERE)
    out = result.stdout.str()
    assert "Traceback" not in out
    start = out.index("conformance case 'combo-write-relative-cwd' failed")
    text = out[start:].split("\n___")[0]
    assert "- task t@0: file task.cfg where the task runs" in text
    assert "expected: 'written for t\\n'" in text
    assert "seen:     (not set / absent)" in text


def test_fault_cases_use_the_offered_faults_and_skip_the_others(pytester, with_wrong, tmp_path):
    """localfaults offers delete_behind (through its conformance_faults attribute) and
    nothing else: the delete case runs it and passes; the other fault cases are skipped,
    each naming the fault that is not offered; with no provider at all, all are skipped."""
    selection = ("-k", "fault-deleted-behind and not group or fault-error-state")
    result, outcomes = run_suite(pytester, tmp_path, "localfaults", *selection, "-rs")
    assert outcomes == {"fault-deleted-behind": "passed", "fault-error-state": "skipped"}, (
        result.stdout.str()
    )
    out = result.stdout.str()
    assert "offer no 'force_error'" in out
    assert "attribute conformance_faults" in out
    result, outcomes = run_suite(pytester, tmp_path, "nodeps", *selection, "-rs")
    assert set(outcomes.values()) == {"skipped"}
    assert "nodeps offers no conformance faults" in result.stdout.str()
