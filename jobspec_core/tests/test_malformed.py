"""The malformed corpus: every file in ``malformed/`` is refused clearly and cheaply.

Each file records the problem it must produce: a first line ``# expect: <text>`` or, for
files that cannot hold a comment (binary, empty), an entry in ``malformed/EXPECTED.json``.
A second line ``# args: ...`` gives the file's command-line arguments (parameter values:
``--set``, ``--sweep``, ``--params params/FILE.yml``, relative to ``malformed/``), used by the
CLI run and, through the same parsing, in-process.
For each file the CLI (``python -m jobspec_core validate FILE``) must exit 2, name the file
and a line or a document path, print the expected text and no traceback; in-process, the
loader must finish within a second and 200 MB.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from jobspec_core.errors import InvalidJobspec

from jobspec_core import api

HERE = Path(__file__).parent / "malformed"
FILES = sorted(p.name for p in HERE.glob("*.yaml"))
SIDECAR = json.loads((HERE / "EXPECTED.json").read_text())


def expected(name: str) -> str:
    if name in SIDECAR:
        return SIDECAR[name]
    first = (HERE / name).read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect:"), f"{name} has no '# expect:' line and no sidecar entry"
    return first.split(":", 1)[1].strip()


def args_of(name: str) -> list[str]:
    """The command-line arguments a corpus file is validated with (``# args:``)."""
    if name in SIDECAR:
        return []
    lines = (HERE / name).read_text(encoding="utf-8").splitlines()
    if len(lines) > 1 and lines[1].startswith("# args:"):
        return shlex.split(lines[1].split(":", 1)[1])
    return []


def test_corpus_is_large_enough():
    assert len(FILES) >= 105  # 22 of them about requirements (issue 12)
    assert set(SIDECAR) <= set(FILES)
    # issue 13: bad parameter values, names and references
    assert len([f for f in FILES if f.startswith("param-")]) >= 15


@pytest.fixture(scope="module")
def cli_results() -> dict[str, subprocess.CompletedProcess]:
    """Run the CLI once per file (two at a time: the machine is shared)."""

    def run(name: str) -> tuple[str, subprocess.CompletedProcess]:
        proc = subprocess.run(
            [sys.executable, "-m", "jobspec_core", "validate", name, *args_of(name)],
            cwd=HERE,
            capture_output=True,
            timeout=60,
        )
        return name, proc

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, FILES))


@pytest.mark.parametrize("name", FILES)
def test_cli_refuses_clearly(name, cli_results):
    proc = cli_results[name]
    out = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    assert proc.returncode == 2, out
    assert "Traceback" not in out
    assert expected(name) in out, out
    # names the file, with a line number or a document path
    located = re.search(rf"^{re.escape(name)}:(\d+)", out, re.M) or re.search(
        rf"^{re.escape(name)}: [A-Za-z_][\w.\[\]-]*: ", out, re.M
    )
    assert located, out


def _combinations(name: str) -> list[dict]:
    """The parameter values of ``name``'s ``# args:``, parsed as ``jobspec validate`` does."""
    from jobspec_core.cli._params import parameter_input
    from jobspec_core.cli.main import build_parser

    argv = ["validate", name, *args_of(name)]
    args = build_parser(argv).parse_args(argv)
    params = args.parameter_file
    if params:
        args.parameter_file = str(HERE / params)
    return parameter_input(args).combinations()


def _load_and_validate(raw: bytes, name: str, combinations=({},)):
    try:
        document = api.load_text(raw, name)
    except InvalidJobspec as exc:
        return exc.problems
    return [p for values in combinations for p in api.validate(document, parameters=values)]


@pytest.fixture(scope="module")
def warm() -> None:
    """Import what the error path imports (jsonschema) once, outside the measurements:
    the bounds are about the work an input causes, not one-time imports."""
    _load_and_validate(b"version: 2\ntasks: [{command: x}]\n", "warm.yaml")


@pytest.mark.parametrize("name", FILES)
def test_loading_is_bounded(name, warm):
    raw = (HERE / name).read_bytes()
    combinations = _combinations(name) if name not in SIDECAR else [{}]
    start = time.perf_counter()
    problems = _load_and_validate(raw, name, combinations)
    elapsed = time.perf_counter() - start
    tracemalloc.start()  # measured apart: tracing slows everything down several times
    try:
        _load_and_validate(raw, name, combinations)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert problems, "a malformed document must produce at least one problem"
    assert all(p.file == name for p in problems)
    assert all(p.line is not None or p.path for p in problems), [p.format() for p in problems]
    assert elapsed < 1.0, f"{name}: loading and validating took {elapsed:.2f} s"
    assert peak < 200 * 1024 * 1024, f"{name}: peak memory {peak / 1e6:.0f} MB"
