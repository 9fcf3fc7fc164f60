"""The plugin seen from outside, through pytester: options, collection, outcomes, failure text.

Wrong transformers (``wrong_transformers.py``) are installed the real way, as a fake
distribution whose ``jobspec`` entry point names them; each breaks one feature and the
suite must fail exactly the cases of that feature, with readable output.
"""

from __future__ import annotations

import copy
import json
import re
import textwrap

import pytest
from conformance_outcomes import failed_ids, outcomes_by_case
from jobspec_conformance.cases import load_case, shipped_case_files
from jobspec_conformance.execute import RENDER_PLACES
from jobspec_conformance.prepare import substitute
from jobspec_core.features import FEATURES
from jobspec_core.plan import PlanTask

from jobspec_core import api

CASES = [load_case(p) for p in shipped_case_files()]
ALL_IDS = {c.id for c in CASES}


def tagged(*features: str) -> set[str]:
    return {c.id for c in CASES if set(features) & set(c.features)}


def no_traceback(output: str) -> None:
    assert "Traceback" not in output
    assert "def runtest" not in output


SITE_CASE = """\
id: site-hello
description: A site-local case.
features: [tasks, command]
required: true
jobspec:
  version: 1
  tasks:
    - name: hi
      command: sh "$CONFORMANCE_RESULTS_DIR/probe.sh" say hi
expect:
  tasks:
    hi: {ran: true, output_contains: [hi]}
"""


def test_without_transformer_the_plugin_does_nothing(pytester):
    pytester.makepyfile(test_ordinary="def test_ok():\n    assert True\n")
    (pytester.path / "x.jobspec-test.yaml").write_text(SITE_CASE)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "jobspec conformance" not in result.stdout.str()


def test_help_shows_the_option_group(pytester):
    result = pytester.runpytest("--help")
    out = result.stdout.str()
    assert "JobSpec conformance suite" in out
    for option in (
        "--transformer=NAME",
        "--conformance-mode",
        "--conformance-report=PATH",
        "--conformance-cases=DIR",
        "--conformance-golden=DIR",
        "--conformance-update-golden",
        "--conformance-option=KEY=VALUE",
        "--conformance-timeout=SECONDS",
    ):
        assert option in out


def test_unknown_transformer_is_a_usage_error_listing_the_known_ones(pytester):
    result = pytester.runpytest_subprocess("--transformer", "nope", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert 'no such transformer "nope"' in err
    assert "local" in err
    no_traceback(err)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--conformance-golden", "g"], "add --conformance-mode render"),
        (["--conformance-update-golden"], "needs --conformance-golden DIR"),
        (["--conformance-option", "novalue"], "expected KEY=VALUE, found 'novalue'"),
        (["--conformance-cases", "nowhere"], "is not a folder"),
    ],
)
def test_option_mistakes_are_usage_errors(pytester, args, message):
    result = pytester.runpytest_subprocess("--transformer", "local", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    no_traceback(result.stderr.str())


def test_broken_site_case_fails_collection_naming_file_and_line(pytester):
    site = pytester.mkdir("site")
    (site / "bad.jobspec-test.yaml").write_text(
        "id: bad\ndescription: d\nfeatures: [tasks]\nrequired: true\n"
        "jobspec: {version: 1}\nexpect:\n  tasks:\n    a: {stat: completed}\n"
    )
    result = pytester.runpytest_subprocess(
        "--transformer", "local", "--conformance-cases", str(site), "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    out = result.stdout.str()
    assert f"{site / 'bad.jobspec-test.yaml'}:8:" in out
    assert "'stat' was unexpected" in out
    no_traceback(out)


def test_site_cases_run_beside_the_shipped_ones(pytester):
    site = pytester.mkdir("site")
    (site / "site-hello.jobspec-test.yaml").write_text(SITE_CASE)
    result = pytester.runpytest_subprocess(
        "--transformer",
        "local",
        "--conformance-cases",
        str(site),
        "-k",
        "site-hello or tasks-single",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=2)


def test_required_cases_carry_a_marker(pytester):
    site = pytester.mkdir("site")
    (site / "site-hello.jobspec-test.yaml").write_text(SITE_CASE)
    (site / "site-optional.jobspec-test.yaml").write_text(
        SITE_CASE.replace("site-hello", "site-optional").replace(
            "required: true", "required: false"
        )
    )
    result = pytester.runpytest_subprocess(
        "--transformer",
        "local",
        "--conformance-mode",
        "render",
        "--conformance-cases",
        str(site),
        "-m",
        "conformance_required",
        "-k",
        "site",
        "-p",
        "no:cacheprovider",
        "-v",
    )
    result.assert_outcomes(passed=1)
    assert "site-hello PASSED" in result.stdout.str()


def test_render_mode_on_local_passes_every_case(pytester, tmp_path):
    report = tmp_path / "report.json"
    result = pytester.runpytest_subprocess(
        "--transformer",
        "local",
        "--conformance-mode",
        "render",
        "--conformance-option",
        "gpus=1",
        "--conformance-report",
        str(report),
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=len(CASES))
    assert set(outcomes_by_case(report)) == ALL_IDS


def test_missing_capability_skips_optional_and_fails_required_cases(pytester, with_wrong, tmp_path):
    report = tmp_path / "report.json"
    result = pytester.runpytest_subprocess(
        "--transformer",
        "noduration",
        "--conformance-mode",
        "render",
        "--conformance-option",
        "gpus=1",
        "--conformance-report",
        str(report),
        "-p",
        "no:cacheprovider",
        "-rs",
    )
    outcomes = outcomes_by_case(report)
    duration = tagged("attributes.duration")
    required = {c.id for c in CASES if c.id in duration and c.required}
    assert required and duration - required
    assert {k for k, v in outcomes.items() if v == "failed"} == required
    assert {k for k, v in outcomes.items() if v == "skipped"} == duration - required
    out = result.stdout.str()
    assert "noduration does not declare attributes.duration" in out
    assert "a transformer supports every feature of a required case" in out
    no_traceback(out)


def _top_level_replicas(case) -> bool:
    data = substitute(copy.deepcopy(case.jobspec), dict(RENDER_PLACES))
    plan = api.plan(api.Document(data, str(case.path)), parameters=case.parameters)
    return any(isinstance(n, PlanTask) and n.replicas > 1 for n in plan.children)


def test_render_structure_catches_replicas_not_submitted_as_an_array(pytester, with_wrong):
    result = pytester.runpytest_subprocess(
        "--transformer",
        "splitarrays",
        "--conformance-mode",
        "render",
        "--conformance-option",
        "gpus=1",
        "-p",
        "no:cacheprovider",
    )
    expected = {c.id for c in CASES if _top_level_replicas(c)}
    assert expected
    out = result.stdout.str()
    assert failed_ids(out) == expected
    assert "one array unit of 4 instances (the transformer declares array_submissions)" in out
    no_traceback(out)


def test_a_crashing_transformer_is_reported_in_one_line(pytester, with_wrong):
    result = pytester.runpytest_subprocess(
        "--transformer",
        "crashing",
        "--conformance-mode",
        "render",
        "-k",
        "tasks-single",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "ValueError: boom in render (raised at wrong_transformers.py:" in out
    no_traceback(out)


def test_a_run_that_does_not_end_is_cancelled_and_fails(pytester, tmp_path):
    site = pytester.mkdir("site")
    (site / "site-slow.jobspec-test.yaml").write_text(
        textwrap.dedent(
            """\
            id: site-slow
            description: Never ends in time.
            features: [tasks]
            required: false
            jobspec:
              version: 1
              tasks:
                - name: slow
                  command: [sleep, "30"]
            """
        )
    )
    result = pytester.runpytest_subprocess(
        "--transformer",
        "local",
        "--conformance-cases",
        str(site),
        "-k",
        "site-slow",
        "--conformance-timeout",
        "2",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "every task instance ends within 2 s (--conformance-timeout)" in out
    assert "slow@0: running" in out
    no_traceback(out)


def test_golden_files_missing_then_written_then_compared(pytester, tmp_path):
    golden = tmp_path / "golden"
    args = [
        "--transformer",
        "local",
        "--conformance-mode",
        "render",
        "-k",
        "tasks-single",
        "--conformance-golden",
        str(golden),
        "-p",
        "no:cacheprovider",
    ]
    first = pytester.runpytest_subprocess(*args)
    first.assert_outcomes(failed=1)
    assert "missing (create or refresh them with --conformance-update-golden" in first.stdout.str()

    pytester.runpytest_subprocess(*args, "--conformance-update-golden").assert_outcomes(passed=1)
    written = sorted(p.name for p in (golden / "tasks-single").iterdir())
    assert written == ["_units.json", "local-plan.json"]
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)

    units = golden / "tasks-single" / "_units.json"
    units.write_text(units.read_text().replace('"hello"', '"renamed"'))
    (golden / "tasks-single" / "stale.sh").write_text("echo old\n")
    changed = pytester.runpytest_subprocess(*args)
    changed.assert_outcomes(failed=1)
    out = changed.stdout.str()
    assert re.search(r'^ +- +"node_id": "renamed",$', out, re.M)
    assert re.search(r'^ +\+ +"node_id": "hello",$', out, re.M)
    assert "stale.sh" in out and "not rendered any more" in out
    no_traceback(out)


def test_report_is_written_and_readable(pytester, with_wrong, tmp_path):
    report = tmp_path / "out" / "conformance.json"
    result = pytester.runpytest_subprocess(
        "--transformer",
        "noduration",
        "--conformance-mode",
        "render",
        "--conformance-report",
        str(report),
        "-k",
        "duration or tasks-single",
        "-p",
        "no:cacheprovider",
    )
    duration = tagged("attributes.duration")
    required = {c.id for c in CASES if c.id in duration and c.required}
    data = json.loads(report.read_text())
    assert data["transformer"] == "noduration" and data["mode"] == "render"
    assert [f["feature"] for f in data["features"]] == list(FEATURES)
    row = next(f for f in data["features"] if f["feature"] == "attributes.duration")
    assert (row["passed"], row["failed"], row["skipped"], row["status"]) == (
        0,
        len(required),
        len(duration - required),
        "FAIL",
    )
    assert data["summary"]["required_failed"] == len(required)

    md = report.with_suffix(".md").read_text()
    table = [line for line in md.splitlines() if line.startswith("| ")]
    header = "| feature | status | passed | failed | skipped | failing cases |"
    assert header in table
    start = table.index(header)
    rows = table[start + 2 : start + 2 + len(FEATURES)]
    assert [r.split(" | ")[0].lstrip("| ") for r in rows] == list(FEATURES)
    assert all(r.count(" | ") == 5 and r.endswith(" |") for r in rows)
    failing = ", ".join(sorted(required))
    assert (
        f"| attributes.duration | FAIL | 0 | {len(required)} | {len(duration - required)} "
        f"| {failing} |"
    ) in md
    assert "| tasks-single | yes | passed |" in md

    out = result.stdout.str()
    assert "jobspec conformance: noduration (render mode)" in out
    lines = [line for line in out.splitlines() if line.split(" ")[0] in FEATURES]
    assert len(lines) == len(FEATURES)
    header = next(line for line in out.splitlines() if line.startswith("feature "))
    for row in lines:  # text columns start, number columns end, at the header's columns
        for name in ("status", "failing cases"):
            at = header.index(name)
            assert row[at - 1] == " " and row[at] != " ", (name, row)
        for name in ("passed", "failed", "skipped"):
            end = header.index(name) + len(name) - 1
            assert row[end].isdigit() and row[end + 1] == " ", (name, row)
    assert f"report written to {report}" in out
    no_traceback(out)


def test_loading_the_plugin_imports_nothing_heavy():
    """Installed, the plugin is loaded by every pytest session; without --transformer it
    must not pull in jobspec_core or jsonschema."""
    import subprocess
    import sys

    code = (
        "import sys, jobspec_conformance.plugin; "
        "print(sorted(m for m in ('jobspec_core', 'jsonschema', 'yaml') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


IMPOSSIBLE_CASE = """\
id: site-impossible
description: Cannot fit anywhere.
features: [tasks, resources]
required: false
{may_refuse}jobspec:
  version: 1
  tasks:
    - name: huge
      resources: {{type: node, count: 1, with: [{{type: core, count: 100000}}]}}
      command: sh "$CONFORMANCE_RESULTS_DIR/probe.sh"
expect:
  tasks:
    huge: {{state: failed, with_reason: true}}
"""


@pytest.mark.parametrize("mode", ["run", "render"])
def test_may_refuse_accepts_a_clear_refusal_and_nothing_else(pytester, mode):
    """local refuses a node that fits no alternative at submit: with may_refuse that is a
    pass (in run mode; render mode renders it, and the structure is checked); without it,
    a failure naming the submission and the refusal."""
    site = pytester.mkdir("site")
    case = site / "site-impossible.jobspec-test.yaml"
    args = ["--transformer", "local", "--conformance-cases", str(site), "-k", "site-impossible"]
    args += ["--conformance-mode", mode, "-p", "no:cacheprovider"]
    case.write_text(IMPOSSIBLE_CASE.format(may_refuse="may_refuse: true\n"))
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
    if mode == "render":
        return
    case.write_text(IMPOSSIBLE_CASE.format(may_refuse=""))
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "- submission" in out
    assert "expected: the run is accepted and submitted" in out
    no_traceback(out)


MIXED_CASE = """\
id: site-mixed
description: Index 1 fails, the others complete.
features: [tasks, replicas]
required: false
jobspec:
  version: 1
  tasks:
    - name: r
      replicas: 3
      command: 'sh "$CONFORMANCE_RESULTS_DIR/probe.sh" exit $((JOBSPEC_TASK_INDEX == 1))'
expect:
  tasks:
    r: {EXPECT}
"""


@pytest.mark.parametrize(
    ("expect", "outcome", "needles"),
    [
        ('{index_states: {"1": failed}}', "passed", []),
        ("{state: [completed, failed], indices: [0, 1, 2]}", "passed", []),
        (
            '{index_states: {"1": failed}, with_reason: true}',
            "failed",
            ["- task r@0: reason", "a non-empty reason"],
        ),
        (
            '{index_states: {"2": failed, "7": failed}}',
            "failed",
            ["- task r@2: final state", "expected: failed", "- task r@7: final state"],
        ),
        ("{state: [cancelled, timeout]}", "failed", ["expected: cancelled or timeout"]),
    ],
)
def test_state_lists_index_states_and_reasons(pytester, expect, outcome, needles):
    site = pytester.mkdir("site")
    text = MIXED_CASE.replace("{EXPECT}", expect)
    (site / "site-mixed.jobspec-test.yaml").write_text(text)
    result = pytester.runpytest_subprocess(
        "--transformer",
        "local",
        "--conformance-cases",
        str(site),
        "-k",
        "site-mixed",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(**{outcome: 1})
    out = result.stdout.str()
    for needle in needles:
        assert needle in out, needle
    no_traceback(out)


CANARY_CASE = """\
id: site-canary
description: {description}
features: [tasks]
required: false
{must_refuse}jobspec:
  version: 1
  tasks:
    - name: t
      command: {command}
"""


@pytest.mark.parametrize(
    ("must_refuse", "command", "needles"),
    [
        (
            "must_refuse: true\n",
            "'true'",
            [
                "expected: refused with a clear error before anything runs (must_refuse)",
                "seen:     accepted and run: t@0: completed",
            ],
        ),
        (
            "",
            "'echo leaked > \"@OUTSIDE@/leak.txt\"'",
            ["- files outside the run", "seen:     leak.txt"],
        ),
    ],
)
def test_must_refuse_and_the_outside_canary_fail_when_broken(
    pytester, must_refuse, command, needles
):
    site = pytester.mkdir("site")
    (site / "site-canary.jobspec-test.yaml").write_text(
        CANARY_CASE.format(
            description="Broken on purpose.", must_refuse=must_refuse, command=command
        )
    )
    result = pytester.runpytest_subprocess(
        "--transformer",
        "local",
        "--conformance-cases",
        str(site),
        "-k",
        "site-canary",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    for needle in needles:
        assert needle in out, needle
    no_traceback(out)
