"""``jobspec transform``: prints or writes exactly what would be submitted, refuses what it
cannot render, and never shows a traceback for bad input.

Most tests run the CLI in-process against a registry holding only the core's steps and the
``tiny`` test transformer (see ``fakedist.py``), so they do not depend on which backends are
installed; the last ones go through a real entry point in a subprocess.
"""

from __future__ import annotations

import json
import re
import shlex
import stat
from pathlib import Path

import pytest
from fakedist import (
    TINY_PLUGIN,
    installed_plugin_names,
    isolated_env,
    make_dist,
    module_from_source,
    run_jobspec,
)
from jobspec_core.cli.main import main
from jobspec_core.errors import InvalidJobspec
from jobspec_core.features import features_used

from jobspec_core import api, builtin_steps, plugins

JOB = """\
version: 1
name: build-and-run
attributes:
  environment:
    GREETING: "hello 'quoted' $world"
tasks:
- name: build
  command: ["sh", "-c", "echo building; make -j 2"]
  attributes:
    duration: 90
- name: ior
  depends_on: [build]
  command: ior -t 1m -b 16m
  attributes:
    duration: 2m
"""


@pytest.fixture
def registry():
    """Only the core's steps and the tiny transformer, for the duration of a test."""
    tiny = module_from_source("tiny_plugin", TINY_PLUGIN)
    reg = plugins.Registry.from_modules([("core_steps", builtin_steps), ("tiny", tiny)])
    assert not reg.broken, reg.broken
    plugins.reset_registry(reg)
    yield reg
    plugins.reset_registry(None)


@pytest.fixture
def job(tmp_path: Path) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(JOB)
    return path


def sections(text: str) -> dict[str, str]:
    """Split the printed form on ``# ==> NAME <==`` header lines."""
    out: dict[str, str] = {}
    current = None
    for line in text.splitlines(keepends=True):
        if line.startswith("# ==> ") and line.rstrip().endswith(" <=="):
            current = line[len("# ==> ") : -len(" <==\n")]
            out[current] = ""
        elif current is not None:
            out[current] += line
    return out


def test_prints_every_file_then_the_units_in_order_then_notes(registry, job, capsys, monkeypatch):
    monkeypatch.chdir(job.parent)
    assert main(["transform", "-t", "tiny", str(job)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    parts = sections(captured.out)
    assert list(parts) == [
        "build.sh (executable)",
        "ior.sh (executable)",
        "submissions, in order (2)",
        "notes",
    ]
    run_dir = job.parent / "jobspec-run"
    # the files exactly as rendered (the run dir is a placeholder under the cwd)
    assert parts["build.sh (executable)"] == (
        "#!/bin/sh\n"
        f"# run dir: {run_dir}\n"
        f"# workdir: {job.parent}\n"
        "export GREETING='hello '\"'\"'quoted'\"'\"' $world'\n"
        "exec sh -c 'echo building; make -j 2'\n"
    )
    units = parts["submissions, in order (2)"].splitlines()
    assert units.pop(0).startswith("# ({id:NODE} stands for the id the scheduler gives NODE")
    assert units[0] == "# 1. job build, submits build.sh"
    assert shlex.split(units[1]) == [
        "tiny-submit",
        "--minutes=2",
        "build.sh",
        "--",
        "sh",
        "-c",
        "echo building; make -j 2",
    ]
    assert units[2] == "# 2. job ior, after build, submits ior.sh"
    assert shlex.split(units[3]) == [
        "tiny-submit",
        "--after={id:build}",
        "--minutes=2",
        "ior.sh",
        "--",
        "/bin/sh",
        "-c",
        "ior -t 1m -b 16m",
    ]
    assert len(units) == 4
    assert parts["notes"] == "# - build: duration 90s rounded up to 2 minutes\n"
    # the very first line says nothing was executed
    assert captured.out.splitlines()[0].startswith("# jobspec transform -t tiny ")
    assert "nothing below has been executed" in captured.out.splitlines()[0]


def test_command_lines_are_shell_quoted_so_they_round_trip(registry, tmp_path, capsys):
    nasty = ["printf", "%s\\n", "a b", "it's", '"q"', "$(rm -rf /)", "tab\there", "ünï"]
    doc = tmp_path / "nasty.yaml"
    doc.write_text("version: 1\ntasks:\n- name: t\n  command: " + json.dumps(nasty) + "\n")
    assert main(["transform", "-t", "tiny", str(doc)]) == 0
    lines = sections(capsys.readouterr().out)["submissions, in order (1)"].splitlines()
    assert shlex.split(lines[1]) == ["tiny-submit", "t.sh", "--", *nasty]


def test_output_dir_writes_files_and_the_submission_list(registry, job, tmp_path, capsys):
    out_dir = tmp_path / "out" / "nested"
    assert main(["transform", "-t", "tiny", str(job), "-o", str(out_dir)]) == 0
    printed = capsys.readouterr().out
    names = {p.name for p in out_dir.iterdir()}
    assert names == {"build.sh", "ior.sh", "submit.txt", "submission.json"}
    script = out_dir / "build.sh"
    assert script.stat().st_mode & stat.S_IXUSR
    # the rendering saw DIR as its run directory
    assert f"# run dir: {out_dir.resolve()}\n" in script.read_text()
    for name in names:
        assert str(out_dir.resolve() / name) in printed
    listed = [line for line in (out_dir / "submit.txt").read_text().splitlines() if line[:1] != "#"]
    assert [shlex.split(line)[0] for line in listed] == ["tiny-submit", "tiny-submit"]
    assert shlex.split(listed[1])[1] == "--after={id:build}"
    summary = json.loads((out_dir / "submission.json").read_text())
    assert summary["transformer"] == "tiny"
    assert [u["node_id"] for u in summary["units"]] == ["build", "ior"]
    assert summary["files"] == ["build.sh", "ior.sh"]
    assert summary["notes"] == ["build: duration 90s rounded up to 2 minutes"]
    assert "note: build: duration 90s rounded up to 2 minutes" in printed


def test_json_is_the_submission_dict(registry, job, capsys, monkeypatch):
    monkeypatch.chdir(job.parent)
    assert main(["transform", "-t", "tiny", "--json", str(job)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["transformer"] == "tiny"
    assert list(data["files"]) == ["build.sh", "ior.sh"]
    assert data["files"]["build.sh"]["executable"] is True
    assert data["files"]["ior.sh"]["content"].endswith("exec /bin/sh -c 'ior -t 1m -b 16m'\n")
    assert [u["argv"][0] for u in data["units"]] == ["tiny-submit", "tiny-submit"]
    assert data["units"][1]["depends_on"] == ["build"]
    assert data["notes"] == ["build: duration 90s rounded up to 2 minutes"]


def test_default_transformer_comes_from_the_environment(registry, job, capsys, monkeypatch):
    monkeypatch.setenv("JOBSPEC_TRANSFORMER", "tiny")
    assert main(["transform", str(job)]) == 0
    assert "# ==> build.sh (executable) <==" in capsys.readouterr().out


def test_default_transformer_is_local(registry, job, capsys, monkeypatch):
    monkeypatch.delenv("JOBSPEC_TRANSFORMER", raising=False)
    # this registry has no 'local', so the default shows up in the error
    assert main(["transform", str(job)]) == 2
    err = capsys.readouterr().err
    assert 'no such transformer "local"' in err and "tiny" in err


def test_unknown_transformer_lists_the_available_ones(registry, job, capsys):
    assert main(["transform", "-t", "nope", str(job)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert 'no such transformer "nope". Available transformers: tiny' in captured.err


def test_missing_capabilities_are_all_listed_and_nothing_is_written(registry, tmp_path, capsys):
    doc = tmp_path / "wide.yaml"
    doc.write_text(
        "version: 1\n"
        "groups:\n- name: g\n  tasks:\n  - name: a\n    command: 'true'\n    replicas: 3\n"
        "tasks:\n- name: w\n  command: 'true'\n  attributes: {cwd: /tmp}\n"
    )
    out_dir = tmp_path / "out"
    assert main(["transform", "-t", "tiny", str(doc), "-o", str(out_dir)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    listed = {
        line[4:].split(":")[0] for line in captured.err.splitlines() if line.startswith("  - ")
    }
    assert {"groups", "replicas", "attributes.cwd"} <= listed
    # every missing feature, and only those
    caps = registry.transformers["tiny"].capabilities
    assert listed == features_used(api.load_plan(doc)) - caps
    assert f"transformer 'tiny' does not support {len(listed)} feature(s)" in captured.err
    assert not out_dir.exists()


def test_render_failure_names_the_transformer_without_traceback(registry, tmp_path, capsys):
    doc = tmp_path / "boom.yaml"
    doc.write_text("version: 1\ntasks:\n- name: boom\n  command: 'true'\n")
    assert main(["transform", "-t", "tiny", str(doc)]) == 1
    err = capsys.readouterr().err
    assert "transformer 'tiny' (plugin 'tiny') failed while rendering" in err
    assert "RuntimeError: tiny cannot render a task called boom" in err
    assert "Traceback" not in err


def test_invalid_document_reports_every_problem_and_exits_2(registry, tmp_path, capsys):
    doc = tmp_path / "bad.yaml"
    doc.write_text("name: x\ntasks:\n- name: a\n  comand: echo\n- name: a\n  depends_on: [zz]\n")
    with pytest.raises(InvalidJobspec) as expected:
        api.load_plan(doc)
    assert main(["transform", "-t", "tiny", str(doc)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    for problem in expected.value.problems:
        assert problem.format() in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00\xff\xfe garbage", b"version: 1\ntasks: [\n", b"version: 1\n\ttasks: []\n"],
    ids=["empty", "binary", "broken-yaml", "tab"],
)
def test_bad_input_in_a_subprocess_exits_2_without_traceback(tmp_path, content):
    doc = tmp_path / "bad.yaml"
    doc.write_bytes(content)
    dist = tmp_path / "site"
    make_dist(dist, "jobspec-tiny", "0.3", {"tiny_plugin": TINY_PLUGIN}, {"tiny": "tiny_plugin"})
    done = run_jobspec("transform", "-t", "tiny", str(doc), env=isolated_env(dist))
    assert done.returncode == 2, done.stderr
    assert str(doc) in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_through_a_real_entry_point(tmp_path):
    """The whole path: a distribution on PYTHONPATH, its entry point, the CLI's output."""
    dist = tmp_path / "site"
    make_dist(dist, "jobspec-tiny", "0.3", {"tiny_plugin": TINY_PLUGIN}, {"tiny": "tiny_plugin"})
    doc = tmp_path / "job.yaml"
    doc.write_text(JOB)
    done = run_jobspec("transform", "-t", "tiny", str(doc), env=isolated_env(dist), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert list(sections(done.stdout))[:2] == ["build.sh (executable)", "ior.sh (executable)"]


LOCAL_INSTALLED = "local" in installed_plugin_names()


@pytest.mark.skipif(
    not LOCAL_INSTALLED, reason="the local backend (jobspec-local) is not installed"
)
def test_local_backend_renders_without_running_anything(tmp_path, monkeypatch):
    doc = tmp_path / "job.yaml"
    doc.write_text(JOB.replace("make -j 2", f"touch {tmp_path / 'ran'}"))
    done = run_jobspec(
        "transform",
        "-t",
        "local",
        str(doc),
        env=isolated_env(keep={"core_steps", "local"}),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "# ==> submissions, in order" in done.stdout
    assert not (tmp_path / "ran").exists()


# -- start-up: a command imports only what it needs ----------------------------------------

IMPORT_PROBE = """
import sys
from jobspec_core.cli.main import main
rc = main(sys.argv[1:])
heavy = {"jobspec_core.runner", "jobspec_core.store", "sqlite3", "jsonschema",
         "importlib.metadata", "jobspec_core.plugins"}
print("LOADED", ",".join(sorted(heavy & set(sys.modules))), "RC", rc)
"""


def _loaded(*args: str, env: dict[str, str], cwd: Path) -> tuple[set[str], int]:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    line = [x for x in done.stdout.splitlines() if x.startswith("LOADED ")][-1].split()
    return {m for m in line[1].split(",") if m} if len(line) == 4 else set(), int(line[-1])


def test_validate_and_transform_do_not_load_the_runner_or_the_store(tmp_path):
    dist = tmp_path / "site"
    make_dist(dist, "jobspec-tiny", "0.3", {"tiny_plugin": TINY_PLUGIN}, {"tiny": "tiny_plugin"})
    doc = tmp_path / "job.yaml"
    doc.write_text(JOB)
    env = isolated_env(dist)
    loaded, rc = _loaded("validate", str(doc), env=env, cwd=tmp_path)
    assert rc == 0
    # a valid document with built-in steps only: no plugins, no jsonschema, no metadata
    assert loaded == set()
    loaded, rc = _loaded("transform", "-t", "tiny", str(doc), env=env, cwd=tmp_path)
    assert rc == 0
    assert loaded == {"importlib.metadata", "jobspec_core.plugins"}  # finding transformers


@pytest.mark.parametrize(
    ("script_name", "message"),
    [
        ("../escape.sh", "escapes"),
        ("submit.txt", "rendered a file named 'submit.txt'"),
    ],
)
def test_output_dir_refuses_bad_file_names_from_a_transformer(
    tmp_path, capsys, script_name, message
):
    source = TINY_PLUGIN.replace(
        'script = task.id.replace("/", "_") + ".sh"', f"script = {script_name!r}"
    )
    assert source != TINY_PLUGIN
    reg = plugins.Registry.from_modules(
        [("core_steps", builtin_steps), ("tiny", module_from_source("evil", source))]
    )
    plugins.reset_registry(reg)
    try:
        doc = tmp_path / "job.yaml"
        doc.write_text("version: 1\ntasks:\n- name: a\n  command: 'true'\n")
        out_dir = tmp_path / "out"
        assert main(["transform", "-t", "tiny", str(doc), "-o", str(out_dir)]) == 1
    finally:
        plugins.reset_registry(None)
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "escape.sh").exists()


def test_output_dir_that_cannot_be_created_is_a_clear_error(registry, job, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    assert main(["transform", "-t", "tiny", str(job), "-o", str(blocker / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"jobspec: error: cannot write into {blocker / 'out'}: ")
    assert "Traceback" not in err


def test_help_still_lists_every_subcommand(capsys):
    import importlib.util

    from jobspec_core.cli.main import COMMANDS

    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    built = [
        m[: -len("_cmd")]
        for m in COMMANDS
        if importlib.util.find_spec(f"jobspec_core.cli.{m}") is not None
    ]
    assert {"validate", "transform", "graph", "transformers"} <= set(built)
    for command in built:
        assert re.search(rf"^\s+{command}\b", out, re.M), f"{command} missing from --help"
    # a typo still gets argparse's list of valid choices
    with pytest.raises(SystemExit) as exc:
        main(["transfrom", "x.yaml"])
    assert exc.value.code == 2
    assert "invalid choice: 'transfrom'" in capsys.readouterr().err


def test_capacity_is_asked_and_a_scheduler_that_cannot_be_asked_is_a_note(
    registry, job, capsys, monkeypatch
):
    """transform asks the capacity like run does (so it shows what runs); when the
    scheduler cannot be asked it still renders, with a one-line note."""
    from jobspec_core.errors import BackendError

    cls = type(registry.transformer("tiny"))
    asked = []

    def capacity(self, plan, context):
        asked.append(context.run_id)
        raise BackendError("sinfo: cannot reach slurmctld\nsecond line")

    monkeypatch.setattr(cls, "capacity", capacity, raising=False)
    monkeypatch.chdir(job.parent)
    assert main(["transform", "-t", "tiny", "--json", str(job)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert asked == ["RUN_ID"]
    assert data["notes"][-1] == (
        "capacity unknown (sinfo: cannot reach slurmctld): the first resource alternatives "
        "are rendered"
    )
    assert data["data"] == {}
