"""``stage: ~/x`` means the submitting user's home on every backend (issue 11, item 8):
it worked on local and was joined to the working directory on Slurm and Flux."""

from __future__ import annotations

import textwrap

from jobspec_core.transformer import RunContext
from jobspec_flux.render import render_plan as flux_render

from jobspec_core import api
from jobspec_slurm import SlurmTransformer

DOC = """
version: 1
tasks:
- name: t
  command: ["true"]
  attributes: {cwd: work}
  steps:
  - {name: stage, path: ~/inputs/data.txt}
  - {name: stage, path: rel.txt}
"""


def _context(tmp_path):
    return RunContext("R1", tmp_path / "run", tmp_path / "submit", home=tmp_path / "home")


def test_slurm_stages_a_home_path_from_the_submitting_users_home(tmp_path):
    plan = api.plan(api.load_text(textwrap.dedent(DOC), "job.yaml"))
    script = SlurmTransformer().render(plan, _context(tmp_path)).files["slurm/t.sh"].content
    assert f"_js_stage {tmp_path}/home/inputs/data.txt " in script, script
    assert f"_js_stage {tmp_path}/submit/work/rel.txt " in script
    assert "~" not in script.split("_js_stage", 1)[1].split("\n", 1)[0]


def test_flux_stages_a_home_path_from_the_submitting_users_home(tmp_path):
    plan = api.plan(api.load_text(textwrap.dedent(DOC), "job.yaml"))
    stages = flux_render(plan, _context(tmp_path)).stages["t"]
    assert [(s.directory, s.base) for s in stages] == [
        (f"{tmp_path}/home/inputs", "data.txt"),
        (f"{tmp_path}/submit/work", "rel.txt"),
    ]
