"""Golden files: ``jobspec transform -t slurm`` of every example in ``spec/examples``.

The files under ``tests/golden/`` are the exact output (the batch scripts, the sbatch
command lines in order, the notes), for a person to read and review when they change. The
directory the example was transformed in is written ``/WORKDIR``.

To update them after an intended change, run

    JOBSPEC_UPDATE_GOLDEN=1 python3 -m pytest jobspec_slurm/tests/test_golden.py

and review ``git diff jobspec_slurm/tests/golden``. No Slurm is needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
EXAMPLES = sorted((HERE.parents[1] / "spec" / "examples").glob("*.yaml"))
UPDATE = os.environ.get("JOBSPEC_UPDATE_GOLDEN") == "1"


def transform(example: Path, workdir: Path) -> str:
    """The CLI's output for ``example`` copied into ``workdir``, with that dir as /WORKDIR."""
    local = workdir / example.name
    shutil.copyfile(example, local)
    result = subprocess.run(
        [sys.executable, "-m", "jobspec_core", "transform", "-t", "slurm", example.name],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        # no cluster is asked for its capacity (sinfo), whatever this machine has: the
        # golden files are what transform shows where the scheduler cannot be asked
        env={**os.environ, "JOBSPEC_SLURM_SINFO": "/nonexistent/sinfo"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.replace(str(workdir), "/WORKDIR")


def test_every_example_has_a_golden_file():
    assert EXAMPLES, "spec/examples is empty"
    if UPDATE:
        return
    missing = [e.name for e in EXAMPLES if not (GOLDEN / f"{e.stem}.txt").exists()]
    assert not missing, f"no golden file for {missing}: run with JOBSPEC_UPDATE_GOLDEN=1"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_transform_matches_golden(example: Path, tmp_path: Path):
    workdir = tmp_path / "w"
    workdir.mkdir()
    output = transform(example, workdir)
    golden = GOLDEN / f"{example.stem}.txt"
    if UPDATE:
        golden.write_text(output, encoding="utf-8")
        return
    assert golden.exists(), f"{golden} missing: run with JOBSPEC_UPDATE_GOLDEN=1"
    expected = golden.read_text(encoding="utf-8")
    assert output == expected, (
        f"jobspec transform -t slurm {example.name} differs from {golden}; if the change is "
        "intended, update with JOBSPEC_UPDATE_GOLDEN=1 and review the diff"
    )


def test_golden_output_is_stable(tmp_path: Path):
    """Rendering is pure: the same example twice gives the same text."""
    example = EXAMPLES[0]
    first = tmp_path / "a"
    second = tmp_path / "b"
    first.mkdir()
    second.mkdir()
    assert transform(example, first) == transform(example, second)
