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
    return {c.id for c in CASES if set(features) & set(c.features)}


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


def run_suite(pytester, tmp_path, name: str):
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
        timeout=600,
    )
    return result, outcomes_by_case(report)


def test_ignoring_depends_on_fails_exactly_the_dependency_cases(pytester, with_wrong, tmp_path):
    result, outcomes = run_suite(pytester, tmp_path, "nodeps")
    expected = tagged("depends_on", "groups.depends_on")
    failed = {k for k, v in outcomes.items() if v == "failed"}
    assert failed == expected, _explain(result, failed, expected)
    assert {k for k, v in outcomes.items() if v == "passed"} == {
        c.id for c in CASES if "run" in c.modes
    } - expected
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
    expected = tagged("attributes.environment")
    failed = {k for k, v in outcomes.items() if v == "failed"}
    assert failed == expected, _explain(result, failed, expected)
    out = result.stdout.str()
    assert "Traceback" not in out
    start = out.index("conformance case 'environment-basic' failed")
    text = out[start : out.index("\n___", start)]
    assert "- task t@0: environment variable GREETING" in text
    assert "expected: 'hello'" in text
    assert "seen:     (not set / absent)" in text
