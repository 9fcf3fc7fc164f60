"""docs/writing-a-transformer.md stays true: its plan example is what the planner produces,
it names every feature, and what it says the template declares is what the template
declares."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from jobspec_core.features import FEATURES

from jobspec_core import api

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "writing-a-transformer.md").read_text(encoding="utf-8")
CAPABILITIES = (
    REPO
    / "cookiecutter-transformer"
    / "{{cookiecutter.project_slug}}"
    / "src"
    / "{{cookiecutter.package_name}}"
    / "capabilities.py"
)


def _block(language: str, starts_with: str) -> str:
    for match in re.finditer(rf"```{language}\n(.*?)```", DOC, re.S):
        if match.group(1).startswith(starts_with):
            return match.group(1)
    raise AssertionError(f"no ```{language} block starting with {starts_with!r} in the doc")


def test_the_plan_example_is_what_the_planner_produces(tmp_path):
    source = tmp_path / "sim.yaml"
    source.write_text(_block("yaml", "version: 1\nname: sim"), encoding="utf-8")
    real = api.load_plan(source).to_dict()
    real["source"] = "sim.yaml"
    shown = json.loads(_block("json", '{"plan_format"'))
    for node in real["children"]:
        node["source"]["file"] = "sim.yaml"
    # The one abridged part: the named block's tree.
    abridged = shown["children"][1]["resources"]["alternatives"][0]
    assert abridged["tree"] == ["... the block as written, canonical type names ..."]
    abridged["tree"] = real["children"][1]["resources"]["alternatives"][0]["tree"]
    assert shown == real


def test_every_feature_is_named():
    section = DOC[DOC.index("## Capabilities") : DOC.index("## The template's starting points")]
    for name in FEATURES:
        assert f"`{name}`" in section, f"feature {name} is not in the Capabilities section"


def test_what_the_doc_says_the_template_declares_is_true():
    tree = ast.parse(CAPABILITIES.read_text(encoding="utf-8"))
    declared = next(
        ast.literal_eval(node.value.args[0])
        for node in ast.walk(tree)
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "CAPABILITIES"
    )
    assert declared == set(FEATURES)
    sentence = "The template declares, in its `capabilities.py`, every feature."
    assert sentence in " ".join(DOC.split())
