"""Bounds and validation gaps found by hostile input (issue 11): every limit of
:mod:`jobspec_core.limits` is documented in ``spec/spec.md``, refused early with its numbers,
and names with a trailing newline, control characters in paths, a write path ``.`` and
files that are not regular files are refused at validation; a read-only store can be read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jobspec_core.errors import InvalidJobspec
from jobspec_core.fastcheck import compile_schema, python_pattern, python_schema
from jobspec_core.loader import Document, load, load_text
from jobspec_core.schema import load_schema, schema_problems

from jobspec_core import api, limits

ROOT = Path(__file__).resolve().parents[2]
SPEC = (ROOT / "spec" / "spec.md").read_text()


def problems(text: str) -> list:
    try:
        return api.validate(load_text(text, "l.yaml"))
    except InvalidJobspec as exc:
        return exc.problems


def codes(text: str) -> list[str]:
    return [p.code for p in problems(text)]


# -- the limits are documented, once ----------------------------------------------------
@pytest.mark.parametrize("name", limits.__all__)
def test_every_limit_is_in_the_spec(name):
    value = getattr(limits, name)
    section = SPEC.split("### Limits", 1)[1].split("\n## ", 1)[0]
    shown = {
        "MAX_BYTES": "32 MiB",
        "INT_MIN": "-9,223,372,036,854,775,808",
        "INT_MAX": "9,223,372,036,854,775,807",
    }.get(name, f"{value:,}")
    assert shown in section, f"{name} = {shown} is not in spec.md's Limits"


# -- instances --------------------------------------------------------------------------
def test_instances_are_bounded_before_planning():
    text = "version: 1\ntasks:\n" + "".join(
        f"- {{name: t{i}, command: [x], replicas: 100000}}\n" for i in range(1000)
    )
    (problem,) = problems(text)
    assert problem.code == "too-many-instances"
    assert "100,000,000 task instances" in problem.message and "100,000" in problem.message
    assert problem.path == "tasks[1].replicas" and problem.line == 4


def test_instances_count_tasks_in_groups():
    text = (
        "version: 1\ntasks:\n- {command: x, replicas: 60000}\ngroups:\n- name: g\n  tasks:\n"
        "  - {command: x, replicas: 40000}\n  - {command: x}\n"
    )
    assert codes(text) == ["too-many-instances"]
    assert codes(text.replace("60000", "59999")) == []


# -- collections, nodes and problems -----------------------------------------------------
def test_an_oversized_list_is_refused_as_soon_as_it_passes_the_bound():
    text = "version: 1\nx: [" + "1," * (limits.MAX_ITEMS + 5) + "1]\n"
    with pytest.raises(InvalidJobspec) as info:
        load_text(text, "big.yaml")
    (problem,) = info.value.problems
    assert problem.code == "too-large" and "100,000 items in one list" in problem.message
    assert problem.path == "x" and problem.line == 2


def test_an_oversized_mapping_is_refused():
    text = "version: 1\nx:\n" + "".join(f"  k{i}: 1\n" for i in range(limits.MAX_ITEMS + 1))
    with pytest.raises(InvalidJobspec) as info:
        load_text(text, "big.yaml")
    assert "100,000 entries in one mapping" in info.value.problems[0].message


def test_nodes_are_bounded():
    rows = "".join("  - [" + "1," * 999 + "1]\n" for _ in range(limits.MAX_NODES // 1000 + 1))
    with pytest.raises(InvalidJobspec) as info:
        load_text("version: 1\nx:\n" + rows, "n.yaml")
    assert "1,200,000 nodes" in info.value.problems[0].message


def test_problems_are_capped_with_a_count_of_the_rest():
    found = problems("version: 1\ntasks:\n" + "- comand: x\n" * 5000)
    assert len(found) == limits.MAX_PROBLEMS + 1
    last = found[-1]
    assert last.code == "more-problems" and "not listed" in last.message
    assert last.line == 2 + limits.MAX_PROBLEMS + 1  # where the unlisted ones start
    assert all(p.code == "unknown-key" for p in found[:-1])


def test_many_misspelt_keys_in_one_mapping_give_a_bounded_list():
    text = "version: 1\ntasks:\n- command: x\n" + "".join(
        f"  comand{i}: x\n" for i in range(50_000)
    )
    found = problems(text)
    assert len(found) == limits.MAX_PROBLEMS + 1
    assert sum(len(p.format()) for p in found) < 100_000


def test_loader_problems_are_capped_and_counted():
    text = "version: 1\ntasks:\n- command: [" + ", ".join(["0b_"] * 300) + "]\n"
    found = problems(text)
    assert len(found) == limits.MAX_PROBLEMS + 1
    assert found[-1].message.startswith("200 more problems not listed")


def test_semantic_problems_are_capped_and_counted():
    text = "version: 1\ntasks:\n" + "".join(
        f"- {{name: t{i}, command: x, depends_on: [nope{i}]}}\n" for i in range(3000)
    )
    found = problems(text)
    assert len(found) == limits.MAX_PROBLEMS + 1
    assert found[-1].message.startswith("2,900 more problems not listed")


# -- names and patterns: \Z, as ECMA's $ ---------------------------------------------------
@pytest.mark.parametrize(
    "fragment, code",
    [
        ('  name: "build\\n"\n', "pattern"),
        ('  attributes: {environment: {"PATH\\n": x}}\n', "bad-name"),
        ('  attributes: {"slurm.partition\\n": x}\n', "unknown-key"),
        ('  resources: {type: "core\\n"}\n', "pattern"),
        ('  depends_on: ["a\\n"]\n', "pattern"),
    ],
)
def test_a_trailing_newline_is_no_longer_a_valid_name(fragment, code):
    assert code in codes("version: 1\ntasks:\n- command: x\n" + fragment)


def test_names_are_still_accepted_without_the_newline():
    assert codes("version: 1\ntasks:\n- name: build\n  command: x\n") == []


def test_python_checks_agree_with_ecma_on_every_schema_pattern():
    schema = load_schema()
    patterns = []
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.append(node["pattern"])
            patterns.extend(node.get("patternProperties", {}))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    assert len(patterns) >= 6
    texts = ["a", "a.b", "slurm.x", "a\n", "slurm.x\n", "\n", " a ", "a|b", "x\ny", "-"]
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH: no ECMAScript regular expressions to compare with")
    script = (
        "const [p, t] = JSON.parse(process.argv[1]);"
        "console.log(JSON.stringify(p.map(x => t.map(s => new RegExp(x, 'u').test(s)))));"
    )
    proc = subprocess.run(
        [node, "-e", script, json.dumps([patterns, texts])], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    for pattern, ecma in zip(patterns, json.loads(proc.stdout), strict=True):
        translated = re.compile(python_pattern(pattern))
        python = [translated.search(text) is not None for text in texts]
        assert python == ecma, (pattern, texts)
    check = compile_schema(python_schema(schema))
    bad = {"version": 1, "tasks": [{"name": "a\n", "command": "x"}]}
    assert not check(bad)
    assert schema_problems(Document(bad, "d.yaml"))


# -- paths -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "attributes, words",
    [
        ('{cwd: "a\\0b"}', "NUL byte"),
        ('{cwd: "a\\nb"}', "control character U+000A"),
        ('{cwd: "a\\rb"}', "control character U+000D"),
    ],
)
def test_control_characters_in_cwd(attributes, words):
    (problem,) = problems(f"version: 1\ntasks:\n- command: x\n  attributes: {attributes}\n")
    assert problem.code == "bad-cwd" and words in problem.message
    assert problem.path == "tasks[0].attributes.cwd"


@pytest.mark.parametrize("path", [".", "./x", "a//b", "a/./b", "a/", "..", "a/../b", "x\ny"])
def test_write_paths_that_name_no_file_below_the_staging_directory(path):
    text = (
        "version: 1\ntasks:\n- command: x\n  steps:\n"
        f"  - {{name: write, path: {path!r}, content: hi}}\n".replace("'", '"')
    )
    if "\n" in path:
        text = text.replace(repr(path).replace("'", '"'), '"x\\ny"')
    (problem,) = problems(text)
    assert problem.code == "bad-step" and problem.path == "tasks[0].steps[0].path"


def test_a_plain_write_path_is_fine():
    text = (
        "version: 1\ntasks:\n- command: x\n  steps:\n  - {name: write, path: a/b.sh, content: x}\n"
    )
    assert codes(text) == []


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_validate_refuses_what_is_not_a_regular_file_at_once(tmp_path, kind):
    if kind == "fifo":
        target = tmp_path / "job.yaml"
        os.mkfifo(target)
    elif kind == "directory":
        target = tmp_path
    else:
        target = Path("/dev/zero")
    with pytest.raises(InvalidJobspec) as info:
        load(target)
    assert "expected a regular file" in info.value.problems[0].message
    proc = subprocess.run(
        [sys.executable, "-m", "jobspec_core", "validate", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "expected a regular file" in proc.stdout


# -- a read-only store -------------------------------------------------------------------
def _read_only_runner(store_dir: Path):
    """A command prefix that runs with ``store_dir`` read-only: a read-only bind mount in a
    private mount namespace as root (root ignores permission bits), else permission bits."""
    if os.geteuid() != 0:
        store_dir.chmod(0o555)
        for file in store_dir.glob("runs.sqlite*"):
            file.chmod(0o444)
        return lambda argv: argv
    if shutil.which("unshare") is None:
        pytest.skip("unshare is missing: cannot make a read-only directory as root")
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount --bind {store_dir} {store_dir}"],
        capture_output=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace here: {probe.stderr.decode().strip()}")

    def wrap(argv: list[str]) -> list[str]:
        script = (
            f"mount --bind {store_dir} {store_dir} && "
            f'mount -o remount,ro,bind {store_dir} && exec "$@"'
        )
        return ["unshare", "-m", "sh", "-c", script, "sh", *argv]

    return wrap


def test_a_read_only_store_can_be_read_and_says_why_it_cannot_be_written(tmp_path):
    store_dir = tmp_path / "state"
    store_dir.mkdir()
    store = store_dir / "runs.sqlite"
    job = tmp_path / "hi.yaml"
    job.write_text("version: 1\ntasks:\n- command: [echo, hi]\n")
    env = {**os.environ, "JOBSPEC_STORE": str(store)}

    def jobspec(wrap, *args):
        argv = wrap([sys.executable, "-m", "jobspec_core", *args])
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)

    first = jobspec(lambda a: a, "run", "--quiet", str(job))
    assert first.returncode == 0, first.stderr
    wrap = _read_only_runner(store_dir)
    listed = jobspec(wrap, "list")
    assert listed.returncode == 0, listed.stderr
    assert "completed" in listed.stdout and "unable to open" not in listed.stderr
    status = jobspec(wrap, "status")
    assert status.returncode == 0, status.stderr
    assert "1 completed" in status.stdout
    logs = jobspec(wrap, "logs", "latest")
    assert logs.returncode == 0 and logs.stdout.strip() == "hi"
    again = jobspec(wrap, "run", str(job))
    assert again.returncode == 1
    assert "is read-only here" in again.stderr and "--store" in again.stderr
    assert "internal error" not in again.stderr
