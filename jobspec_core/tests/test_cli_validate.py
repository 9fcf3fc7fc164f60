"""``jobspec validate``: all files, all problems, exit codes, JSON output."""

from __future__ import annotations

import json

from jobspec_core.cli.main import main


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_valid_file(tmp_path, capsys):
    good = write(tmp_path, "good.yaml", "version: 1\ntasks:\n- command: echo\n- command: echo\n")
    assert main(["validate", good]) == 0
    assert capsys.readouterr().out == f"{good}: valid (2 tasks, 0 groups)\n"


def test_every_file_every_problem(tmp_path, capsys):
    good = write(tmp_path, "good.yaml", "version: 1\ntasks:\n- command: echo\n")
    bad = write(tmp_path, "bad.yaml", "version: 1\ntasks:\n- comand: x\n  replicas: 0\n")
    worse = write(tmp_path, "worse.yaml", "tasks: [\n")
    assert main(["validate", bad, good, worse]) == 2
    out = capsys.readouterr().out
    assert f"{bad}:3:3: tasks[0].comand: unknown key 'comand'" in out
    assert f"{bad}:4:3: tasks[0].replicas: expected an integer >= 1, got 0" in out
    assert f"{good}: valid (1 tasks, 0 groups)" in out
    assert f"{worse}:2:1: not valid YAML" in out
    assert f"{bad}: invalid (2 problems)\n" in out and f"{worse}: invalid (1 problem)\n" in out


def test_json(tmp_path, capsys):
    good = write(
        tmp_path, "good.yaml", "version: 1\ngroups:\n- name: g\n  tasks:\n  - command: echo\n"
    )
    bad = write(tmp_path, "bad.yaml", "tasks:\n- command: echo\n")
    assert main(["validate", "--json", good, bad]) == 2
    result = json.loads(capsys.readouterr().out)
    assert result[0] == {"file": good, "valid": True, "problems": [], "tasks": 1, "groups": 1}
    assert result[1]["file"] == bad and result[1]["valid"] is False
    (problem,) = result[1]["problems"]
    assert problem["code"] == "missing-version" and problem["file"] == bad
    assert set(problem) == {"message", "path", "file", "line", "column", "hint", "code"}


def test_missing_file_is_invalid_input(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read the file" in capsys.readouterr().out
