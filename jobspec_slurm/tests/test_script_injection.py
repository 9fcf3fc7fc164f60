"""Nothing from a file name or a path becomes a line of a generated script (issue 11, items
2 and 8): the source file name, the run directory (the store's path) and the comments that
name them. The judge is the shell itself: each name carries ``)(`` on a line of its own,
which is a syntax error wherever it is parsed as code, so ``bash -n`` of the script fails
exactly when a value escaped its comment or its quotes."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
from jobspec_core.errors import JobspecError
from jobspec_core.transformer import RunContext

from jobspec_core import api
from jobspec_slurm import SlurmTransformer

HOSTILE = "job\n)(\n.yaml"

DOC = """
version: 1
tasks:
- {name: one, command: ["true"]}
- {name: many, replicas: 2, command: ["true"]}
- group: g
groups:
- name: g
  tasks:
  - {name: inner, command: ["true"]}
"""


def _plan(filename: str = HOSTILE):
    return api.plan(api.load_text(textwrap.dedent(DOC), filename))


def _scripts(submission) -> dict[str, str]:
    return {name: f.content for name, f in submission.files.items() if name.endswith(".sh")}


def _bash_n(text: str, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "check.sh"
    path.write_text(text)
    return subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)


def test_a_source_file_name_with_a_newline_stays_in_its_comment(tmp_path):
    context = RunContext("R1", tmp_path / "run", tmp_path / "work")
    scripts = _scripts(SlurmTransformer().render(_plan(), context))
    assert scripts
    for name, text in scripts.items():
        checked = _bash_n(text, tmp_path)
        assert checked.returncode == 0, f"{name}: {checked.stderr}\n{text}"
        assert "\n)(\n" not in text, name
    assert any("job\\n)(\\n.yaml" in text for text in scripts.values())  # still readable


def test_a_run_directory_with_a_newline_is_refused_or_stays_quoted(tmp_path):
    context = RunContext("R1", tmp_path / "run\n)(\n", tmp_path / "work")
    try:
        submission = SlurmTransformer().render(_plan("job.yaml"), context)
    except JobspecError as exc:
        assert exc.exit_code == 2 and "newline" in str(exc)
        return
    for name, text in _scripts(submission).items():
        checked = _bash_n(text, tmp_path)
        assert checked.returncode == 0, f"{name}: {checked.stderr}\n{text}"


@pytest.mark.parametrize("bad", ["back\\slash", "tab\there"])
def test_a_run_directory_slurm_cannot_name_in_output_is_refused(tmp_path, bad):
    context = RunContext("R1", tmp_path / bad / "run", tmp_path / "work")
    with pytest.raises(JobspecError) as info:
        SlurmTransformer().render(_plan("job.yaml"), context)
    assert info.value.exit_code == 2 and "--output" in str(info.value)


def test_percent_in_the_run_directory_is_escaped_in_output_patterns(tmp_path):
    context = RunContext("R1", tmp_path / "50%x" / "run", tmp_path / "work")
    scripts = _scripts(SlurmTransformer().render(_plan("job.yaml"), context))
    outputs = [
        line
        for text in scripts.values()
        for line in text.splitlines()
        if line.startswith("#SBATCH --output=")
    ]
    assert len(outputs) == 3, outputs
    for line in outputs:
        assert "50%%x" in line and "50%x" not in line.replace("%%", "")
    assert any(line.endswith("-%a.out") for line in outputs)  # the array index still expands
