"""The batch layer's rendering: what a scheduler's vocabulary turns a plan into.

Uses the Grid Engine and generic vocabularies of ``batch_vocabulary.py``; nothing is
submitted here (``test_batch_run.py`` submits through the stand-in scheduler).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from batch_vocabulary import GenericTransformer, GridEngineTransformer, GridEngineWords
from jobspec_core.batch import BaseScheduler, Scheduler
from jobspec_core.batch.naming import comment, directive_safe, job_name
from jobspec_core.batch.render import DATA_KEY, place_options, unit_plans
from jobspec_core.errors import InvalidJobspec, UnsupportedFeature
from jobspec_core.transformer import RunContext

from jobspec_core import api


def plan_of(text: str):
    return api.plan(api.load_text(text, "test.yaml"))


@pytest.fixture
def context(tmp_path):
    (tmp_path / "work").mkdir()
    return RunContext("run-1", tmp_path / "run dir 'x'", tmp_path / "work")


def test_the_base_scheduler_and_a_vocabulary_fill_the_protocol():
    assert isinstance(BaseScheduler(), Scheduler)
    assert isinstance(GridEngineWords(), Scheduler)


def test_replicas_100_are_one_array_submission(context):
    plan = plan_of("version: 1\ntasks:\n- name: t\n  replicas: 100\n  command: [hostname]\n")
    submission = GridEngineTransformer().render(plan, context)
    assert [(u.node_id, u.kind, u.instances) for u in submission.units] == [("t", "array", 100)]
    script = submission.files["t.sh"].content
    assert "#$ -t 1-100" in script.splitlines()
    assert "index=$((SGE_TASK_ID - 1))" in script
    assert 'run_element t "$index" 0' in script
    # The generic scheduler counts from 0.
    generic = GenericTransformer().render(plan, context)
    argv = generic.units[0].argv
    assert argv[argv.index("--array") + 1] == "0-99"
    assert "index=${JOB_ARRAY_INDEX}" in generic.files["t.sh"].content


def test_a_top_level_group_is_one_allocation(context):
    plan = plan_of(
        """
version: 1
tasks:
- group: g
groups:
- name: g
  tasks:
  - {name: a, replicas: 2, command: ["true"]}
  - {name: b, depends_on: [a], command: ["true"]}
"""
    )
    submission = GridEngineTransformer().render(plan, context)
    assert [(u.node_id, u.kind, u.instances) for u in submission.units] == [("g", "allocation", 3)]
    plans = unit_plans(submission)
    assert [(t.id, t.replicas, t.after) for t in plans["g"].tasks] == [
        ("g/a", 2, []),
        ("g/b", 1, ["g/a"]),
    ]


def test_unsafe_directive_words_go_on_the_command_line(context):
    # The run directory has a space and a quote: no directive line may carry it.
    plan = plan_of("version: 1\ntasks:\n- name: t\n  command: [hostname]\n")
    submission = GridEngineTransformer().render(plan, context)
    script = submission.files["t.sh"].content
    directives = [line for line in script.splitlines() if line.startswith("#$")]
    assert directives == ["#$ -N t", "#$ -j y"]
    argv = submission.units[0].argv
    assert argv[argv.index("-wd") + 1] == str(context.run_dir)
    assert argv[argv.index("-o") + 1] == str(context.run_dir / "logs" / "t.job.out")
    assert argv[-1] == str(context.run_dir / "t.sh")
    lines, words = place_options(GridEngineWords(), [["-l", "h_rt=0:01:00"], ["-o", "a b"]])
    assert lines == ["#$ -l h_rt=0:01:00"] and words == ["-o", "a b"]
    assert not any(directive_safe(w) for w in ("a b", "it's", 'say"', "back\\slash", "#x", ""))


def test_job_names_follow_the_schedulers_rules():
    assert job_name("9lives", "[A-Za-z_]", 20) == "j9lives"
    assert job_name("a" * 30, "[A-Za-z_]", 20) == "a" * 20
    assert job_name("9lives") == "9lives"


def test_comments_never_become_script_lines():
    text = comment("name\nrm -rf / # it's")
    assert "\n" not in text and text.startswith("'")


def test_every_jobspec_value_is_quoted_and_the_script_parses(context, tmp_path):
    nasty = "a 'b' \"c\" $(touch pwned) `x` \\ \nnew line; #"
    doc = {
        "version": 1,
        "tasks": [
            {
                "name": "t",
                "command": ["printf", "%s", nasty],
                "steps": [{"name": "stage", "path": "in\nput"}],
                "attributes": {"environment": {"V": nasty}, "duration": 30},
            }
        ],
    }
    submission = GridEngineTransformer().render(plan_of(json.dumps(doc)), context)
    script = submission.files["t.sh"].content
    path = tmp_path / "t.sh"
    path.write_text(script)
    assert subprocess.run(["sh", "-n", str(path)], capture_output=True).returncode == 0
    assert f"export V={shlex.quote(nasty)}" in script
    assert f"printf %s {shlex.quote(nasty)}" in script
    assert "#$ -l h_rt=0:01:30" in script.splitlines()  # 30 s plus the 60 s grace


def test_render_refuses_undeclared_features_and_requests_that_never_fit(context):
    class Small(GridEngineTransformer):
        capabilities = frozenset({"tasks", "command"})

    plan = plan_of("version: 1\ntasks:\n- name: t\n  replicas: 2\n  command: [hostname]\n")
    with pytest.raises(UnsupportedFeature, match="replicas"):
        Small().render(plan, context)
    huge = plan_of(
        "version: 1\ntasks:\n- name: t\n  resources: {type: slot, count: 1, with: "
        "[{type: core, count: 100000}]}\n  command: [hostname]\n"
    )
    with pytest.raises(InvalidJobspec, match="can never run"):
        GridEngineTransformer().render(huge, context)


def test_the_private_structure_travels_with_the_submission(context):
    plan = plan_of(
        "version: 1\ntasks:\n- {name: a, command: ['true']}\n"
        "- {name: b, depends_on: [a], replicas: 3, command: ['true']}\n"
    )
    submission = GridEngineTransformer().render(plan, context)
    data = submission.to_dict()["data"][DATA_KEY]
    assert set(data["units"]) == {"a", "b"}
    assert data["units"]["b"]["array"] == 3
    b = submission.units[1]
    assert b.argv[b.argv.index("-hold_jid") + 1] == "{id:a}"
    assert unit_plans(type(submission).from_dict(submission.to_dict()))["b"].tasks[0].after == ["a"]


def test_passthrough_becomes_options_and_multiline_values_are_refused(context):
    plan = plan_of(
        "version: 1\ntasks:\n- name: t\n  command: [hostname]\n"
        "  attributes: {test_ge.q: debug.q, test_ge.arch: lx-amd64}\n"
    )
    script = GridEngineTransformer().render(plan, context).files["t.sh"].content
    assert "#$ -q debug.q" in script and "#$ -l arch=lx-amd64" in script
    bad = plan_of(
        'version: 1\ntasks:\n- name: t\n  command: [hostname]\n  attributes: {test_ge.q: "a\\nb"}\n'
    )
    with pytest.raises(InvalidJobspec, match="one-line value"):
        GridEngineTransformer().render(bad, context)


def test_render_is_pure_and_repeatable(context):
    plan = plan_of("version: 1\ntasks:\n- {name: a, replicas: 2, command: ['true']}\n")
    first = GridEngineTransformer().render(plan, context)
    second = GridEngineTransformer().render(plan, context)
    assert first.to_dict() == second.to_dict()
    assert not Path(context.run_dir).exists()
    assert re.search(r"records='.*run dir", first.files["a.sh"].content)


def test_a_sum_group_is_sized_by_the_alternatives_its_children_use(context):
    plan = plan_of(
        """
version: 1
resources:
  huge: {type: node, count: 1, with: [{type: slot, count: 1, with: [{type: core, count: 4096}]}]}
  small: {type: slot, count: 1, with: [{type: core, count: 1}]}
tasks:
- group: g
groups:
- name: g
  tasks:
  - {name: flexible, resources: huge|small, command: ["true"]}
  - {name: plain, replicas: 2, resources: small, command: ["true"]}
"""
    )
    submission = GridEngineTransformer().render(plan, context)  # 4098 cores never fit
    assert "#$ -pe smp 3" in submission.files["g.sh"].content.splitlines()
