"""Parameters through the real CLI (issue 13): ``--set``/``--params``/``--sweep`` on
validate, transform, graph and run, ``jobspec params``, and ``jobspec list`` showing each
run's values. Runs use the installed local backend; renders use every installed backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TIMEOUT = 120

#: the parameterized document, and the same document written by hand for nodes=4: the
#: hand-written one keeps the parameters' lines as comments, so every "from job.yaml:LINE"
#: a backend writes into its scripts names the same line in both
PARAMETERIZED = """\
version: 1
name: scale
parameters:
  nodes: {type: integer, default: 1, minimum: 1}
  greeting: {type: string, default: hello, description: what to say}
  limit: {type: duration, default: 5m}
  tag: {type: choice, choices: [a, b], default: a}
tasks:
- name: solve
  command: echo ${{ greeting }} from "$HOSTNAME" ${X} $((1+2))
  resources:
    type: node
    count: ${{ nodes }}
    with:
    - type: core
      count: 2
  attributes:
    duration: ${{ limit }}
    environment:
      TAG: ${{ tag }}
- name: argv
  command: [echo, "${{ greeting }}", "${{ nodes }}", "nodes=${{ nodes }}"]
"""
BY_HAND = """\
version: 1
name: scale
# (these lines held the parameters:
#  nodes, greeting, limit
#  and tag; kept so that
#  every line below has the same
#  number as in the other file)
tasks:
- name: solve
  command: echo hello from "$HOSTNAME" ${X} $((1+2))
  resources:
    type: node
    count: 4
    with:
    - type: core
      count: 2
  attributes:
    duration: 5m
    environment:
      TAG: a
- name: argv
  command: [echo, hello, 4, "nodes=4"]
"""

SWEEP = """\
version: 1
parameters:
  n: {type: integer, minimum: 1, description: replicas}
  mode: {type: choice, choices: [a, b]}
tasks:
- name: work
  replicas: ${{ n }}
  command: [sh, -c, "echo mode=${{ mode }} index=$JOBSPEC_TASK_INDEX"]
"""


@pytest.fixture
def env(tmp_path):
    out = dict(os.environ)
    out.pop("JOBSPEC_TRANSFORMER", None)
    out.pop("JOBSPEC_SERVER", None)
    out["JOBSPEC_STORE"] = str(tmp_path / "state" / "runs.sqlite")
    return out


def cli(tmp_path, env, *args, timeout=TIMEOUT):
    proc = subprocess.run(
        [sys.executable, "-m", "jobspec_core", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


def write(tmp_path: Path, text: str, name: str = "job.yaml") -> str:
    (tmp_path / name).write_text(textwrap.dedent(text))
    return name


def _installed(name: str) -> bool:
    from jobspec_core.plugins import get_registry

    return name in get_registry().transformers


@pytest.mark.parametrize("transformer", ["local", "slurm", "flux", "sge"])
def test_set_renders_what_the_hand_written_document_renders(tmp_path, env, transformer):
    """Done means 1: ``transform --set nodes=4`` gives the submission of the document
    written with 4, byte for byte (same path, same working directory)."""
    if not _installed(transformer):
        pytest.skip(f"the {transformer} transformer is not installed")
    write(tmp_path, PARAMETERIZED)
    with_set = cli(tmp_path, env, "transform", "-t", transformer, "job.yaml", "--set", "nodes=4")
    write(tmp_path, BY_HAND)
    by_hand = cli(tmp_path, env, "transform", "-t", transformer, "job.yaml")
    assert by_hand.returncode == 0, by_hand.stderr
    assert (with_set.returncode, with_set.stdout, with_set.stderr) == (
        by_hand.returncode,
        by_hand.stdout,
        by_hand.stderr,
    )
    # the shell line reaches the script as written, the values in place
    assert "'echo hello from \"$HOSTNAME\" ${X} $((1+2))'" in with_set.stdout
    assert "${{" not in with_set.stdout
    # the JSON form too, and a params file gives the same as --set
    write(tmp_path, "nodes: 4\n", "values.yml")
    write(tmp_path, PARAMETERIZED)
    from_file = cli(
        tmp_path,
        env,
        "transform",
        "-t",
        transformer,
        "job.yaml",
        "--json",
        "--params",
        "values.yml",
    )
    write(tmp_path, BY_HAND)
    assert (
        from_file.stdout
        == cli(tmp_path, env, "transform", "-t", transformer, "job.yaml", "--json").stdout
    )


def test_run_on_local_with_set_records_and_lists_the_values(tmp_path, env):
    write(tmp_path, PARAMETERIZED)
    ran = cli(
        tmp_path, env, "run", "-q", "job.yaml", "--set", "greeting=hi there", "--set", "tag=b"
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    listed = json.loads(cli(tmp_path, env, "list", "--json").stdout)
    assert [r["parameters"] for r in listed] == [
        {"nodes": 1, "greeting": "hi there", "limit": "5m", "tag": "b"}
    ]
    logs = cli(tmp_path, env, "logs", listed[0]["run_id"], "solve").stdout
    # one word, spaces and all; shell text untouched ($((1+2)) is the shell's)
    assert "hi there from" in logs and logs.rstrip().endswith(" 3")
    assert cli(tmp_path, env, "logs", listed[0]["run_id"], "argv").stdout == "hi there 1 nodes=1\n"
    table = cli(tmp_path, env, "list").stdout
    assert table.splitlines()[0].split()[-1] == "PARAMETERS"
    assert "greeting='hi there' limit=5m tag=b" in table
    # the graph of the recorded run is drawn from the plan it ran with
    drawn = cli(tmp_path, env, "graph", listed[0]["run_id"])
    assert drawn.returncode == 0 and "solve" in drawn.stdout


def test_sweep_makes_one_run_per_combination_recorded_and_listed(tmp_path, env):
    """Done means 3: 3 x 2 values make 6 runs, each recorded with its values."""
    write(tmp_path, SWEEP)
    ran = cli(tmp_path, env, "run", "job.yaml", "--sweep", "n=1,2,4", "--sweep", "mode=a,b")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stderr.count("submitted [") == 6
    runs = json.loads(cli(tmp_path, env, "list", "--json").stdout)
    assert sorted((r["parameters"]["n"], r["parameters"]["mode"]) for r in runs) == [
        (1, "a"),
        (1, "b"),
        (2, "a"),
        (2, "b"),
        (4, "a"),
        (4, "b"),
    ]
    assert all(r["state"] == "completed" for r in runs)
    for r in runs:
        status = json.loads(cli(tmp_path, env, "status", "--json", r["run_id"]).stdout)
        assert len(status["tasks"]) == r["parameters"]["n"]
        out = cli(tmp_path, env, "logs", r["run_id"], "work.0").stdout
        assert out == f"mode={r['parameters']['mode']} index=0\n"
    table = cli(tmp_path, env, "list").stdout
    assert sum("n=4 mode=b" in line for line in table.splitlines()) == 1


def test_one_invalid_combination_submits_nothing(tmp_path, env):
    write(tmp_path, SWEEP)
    ran = cli(tmp_path, env, "run", "job.yaml", "--sweep", "n=1,2,0", "--sweep", "mode=a,b")
    assert ran.returncode == 2
    assert (
        "job.yaml:3:3: parameters.n: [n=0 mode=a] parameter 'n' (integer): expected at least 1"
        in ran.stderr
    )
    assert "[n=0 mode=b]" in ran.stderr
    assert "submitted" not in ran.stderr
    assert json.loads(cli(tmp_path, env, "list", "--json").stdout) == []
    # one combination the schema refuses after substitution also stops the whole sweep
    write(tmp_path, SWEEP.replace("minimum: 1, ", ""))
    ran = cli(tmp_path, env, "run", "job.yaml", "--sweep", "n=2,0", "--set", "mode=a")
    assert ran.returncode == 2
    assert (
        "job.yaml:7:3: tasks[0].replicas: [mode=a n=0] expected an integer >= 1, got 0"
        in ran.stderr
    )
    assert json.loads(cli(tmp_path, env, "list", "--json").stdout) == []


def test_a_combination_whose_requirements_are_not_met_submits_nothing(tmp_path, env):
    """Requirements are checked for every combination before the first submission."""
    write(
        tmp_path,
        """\
        version: 1
        parameters:
          cpu: {type: integer}
        tasks:
        - name: t
          command: [echo, ok]
          requires:
          - name: system
            field: cores
            min: ${{ cpu }}
        """,
    )
    ran = cli(tmp_path, env, "run", "job.yaml", "--sweep", "cpu=1,100000")
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "[cpu=100000]" in ran.stderr and "nothing was submitted" in ran.stderr
    assert "submitted [" not in ran.stderr
    assert json.loads(cli(tmp_path, env, "list", "--json").stdout) == []


def test_sweep_with_detach_and_json_lists_runs_and_values(tmp_path, env):
    write(tmp_path, SWEEP)
    write(tmp_path, "mode: b\nsweep:\n  n: [1, 2]\n", "values.yml")
    ran = cli(tmp_path, env, "run", "--detach", "--json", "--params", "values.yml", "job.yaml")
    assert ran.returncode == 0, ran.stderr
    started = json.loads(ran.stdout)
    assert [s["parameters"] for s in started] == [{"mode": "b", "n": 1}, {"mode": "b", "n": 2}]
    for s in started:
        waited = cli(tmp_path, env, "wait", "-q", s["run_id"])
        assert waited.returncode == 0, waited.stderr


def test_validate_with_sweep_labels_each_combination(tmp_path, env):
    write(tmp_path, SWEEP)
    ok = cli(tmp_path, env, "validate", "job.yaml", "--sweep", "n=1,3", "--set", "mode=a")
    assert ok.returncode == 0
    assert ok.stdout.splitlines() == [
        "job.yaml [mode=a n=1]: valid (1 tasks, 0 groups)",
        "job.yaml [mode=a n=3]: valid (1 tasks, 0 groups)",
    ]
    out = json.loads(
        cli(
            tmp_path, env, "validate", "--json", "job.yaml", "--sweep", "mode=a,c", "--set", "n=1"
        ).stdout
    )
    assert [(r["parameters"], r["valid"]) for r in out] == [
        ({"n": "1", "mode": "a"}, True),
        ({"n": "1", "mode": "c"}, False),
    ]
    missing = cli(tmp_path, env, "validate", "job.yaml")
    assert missing.returncode == 2
    assert "job.yaml:3:3: parameters.n: parameter 'n' (integer) is required" in missing.stdout
    assert "job.yaml:4:3: parameters.mode: parameter 'mode' (choice) is required" in missing.stdout


def test_command_line_overrides_the_params_file(tmp_path, env):
    write(tmp_path, SWEEP)
    write(tmp_path, "n: 2\nmode: a\n", "values.yml")
    out = json.loads(
        cli(
            tmp_path,
            env,
            "transform",
            "--json",
            "job.yaml",
            "--params",
            "values.yml",
            "--set",
            "n=3",
        ).stdout
    )
    assert out["units"][0]["instances"] == 3
    both = cli(tmp_path, env, "validate", "job.yaml", "--set", "n=1", "--sweep", "n=1,2")
    assert both.returncode == 2 and "'n' is given both --set and --sweep" in both.stderr
    bad = cli(tmp_path, env, "validate", "job.yaml", "--set", "novalue")
    assert bad.returncode == 2 and "expected NAME=VALUE" in bad.stderr
    write(tmp_path, "n: [1, 2]\n", "list.yml")
    listed = cli(tmp_path, env, "validate", "job.yaml", "--params", "list.yml")
    assert listed.returncode == 2
    assert "list.yml:1:1: n: a parameter value is one scalar" in listed.stderr
    assert "under 'sweep:'" in listed.stderr


def test_transform_sweep_renders_each_combination(tmp_path, env):
    write(tmp_path, SWEEP)
    out = cli(
        tmp_path, env, "transform", "job.yaml", "--sweep", "n=1,2", "--set", "mode=b", "-o", "out"
    )
    assert out.returncode == 0, out.stderr
    first = json.loads((tmp_path / "out" / "1" / "submission.json").read_text())
    second = json.loads((tmp_path / "out" / "2" / "submission.json").read_text())
    assert (first["units"][0]["instances"], second["units"][0]["instances"]) == (1, 2)
    listed = json.loads(
        cli(
            tmp_path, env, "transform", "--json", "job.yaml", "--sweep", "n=1,2", "--set", "mode=b"
        ).stdout
    )
    assert [e["parameters"] for e in listed] == [{"mode": "b", "n": 1}, {"mode": "b", "n": 2}]


def test_params_command_lists_definitions(tmp_path, env):
    write(tmp_path, PARAMETERIZED)
    human = cli(tmp_path, env, "params", "job.yaml")
    assert human.returncode == 0
    lines = human.stdout.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "DEFAULT", "ALLOWED", "DESCRIPTION"]
    assert lines[1].split() == ["nodes", "integer", "1", ">=", "1", "-"]
    assert lines[2].split()[:3] == ["greeting", "string", "hello"] and "what to say" in lines[2]
    assert "one of a, b" in lines[4]
    data = json.loads(cli(tmp_path, env, "params", "--json", "job.yaml").stdout)
    assert data[0] == {
        "name": "nodes",
        "type": "integer",
        "required": False,
        "default": 1,
        "minimum": 1,
        "description": "",
        "line": 4,
        "references": ["tasks[0].resources.count", "tasks[1].command[2]", "tasks[1].command[3]"],
    }
    write(tmp_path, SWEEP)
    data = json.loads(cli(tmp_path, env, "params", "--json", "job.yaml").stdout)
    assert [(d["name"], d["required"]) for d in data] == [("n", True), ("mode", True)]
    write(tmp_path, "version: 1\nparameters:\n  n: {type: int}\ntasks: [{command: x}]\n")
    bad = cli(tmp_path, env, "params", "job.yaml")
    assert bad.returncode == 2 and "job.yaml:3:" in bad.stderr


def test_graph_takes_values(tmp_path, env):
    write(tmp_path, SWEEP)
    drawn = cli(tmp_path, env, "graph", "job.yaml", "--set", "n=7", "--set", "mode=a")
    assert drawn.returncode == 0, drawn.stderr
    assert "x7" in drawn.stdout
    missing = cli(tmp_path, env, "graph", "job.yaml")
    assert missing.returncode == 2 and "is required" in missing.stderr
