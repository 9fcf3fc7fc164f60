"""Nothing from a file name or a path becomes a line of a Flux script (issue 11, item 2).

Each hostile value carries ``)(`` on a line of its own, a syntax error wherever the shell
parses it as code: ``sh -n`` of every rendered script fails exactly when a value escaped
its comment or its quotes. No Flux needed."""

from __future__ import annotations

import subprocess
import textwrap

from jobspec_core.transformer import RunContext
from jobspec_flux.render import render_plan

from jobspec_core import api

DOC = """
version: 1
tasks:
- {name: one, command: ["true"]}
- {name: many, replicas: 2, command: ["true"]}
- group: g
groups:
- name: g
  tasks:
  - {name: first, local: true, command: ["true"]}
  - {name: inner, command: ["true"]}
"""


def test_hostile_source_and_run_directory_stay_out_of_the_code(tmp_path):
    plan = api.plan(api.load_text(textwrap.dedent(DOC), "job\n)(\n.yaml"))
    context = RunContext("R1", tmp_path / "run\n)(\n", tmp_path / "work")
    files = render_plan(plan, context).submission.files
    scripts = {name: f.content for name, f in files.items() if name.endswith(".sh")}
    assert "groups/g.sh" in scripts and "submit.sh" in scripts, sorted(scripts)
    for name, text in scripts.items():
        path = tmp_path / "check.sh"
        path.write_text(text)
        checked = subprocess.run(["sh", "-n", str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, f"{name}: {checked.stderr}\n{text}"
