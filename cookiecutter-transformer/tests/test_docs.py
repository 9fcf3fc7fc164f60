"""docs/writing-a-transformer.md stays true: its plan example is what the planner produces,
it names every feature and every member of the Scheduler protocol, its Grid Engine
walk-through shows the template's real code and what that code really renders, and what it
says the generated transformer declares is what it declares."""

from __future__ import annotations

import importlib.util
import inspect
import json
import re
from pathlib import Path

from jobspec_core.batch import BatchTransformer, Scheduler
from jobspec_core.cli.transform_cmd import format_submission
from jobspec_core.features import FEATURES
from jobspec_core.transformer import RunContext

from jobspec_core import api

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "writing-a-transformer.md").read_text(encoding="utf-8")
PACKAGE = REPO / "cookiecutter-transformer" / "{{cookiecutter.project_slug}}" / "src"
KINDS = PACKAGE / "{{cookiecutter.package_name}}" / "_kinds"


def _section(title: str) -> str:
    start = DOC.index(f"## {title}")
    end = DOC.find("\n## ", start + 1)
    return DOC[start : end if end != -1 else len(DOC)]


def _blocks(language: str, text: str = DOC) -> list[str]:
    return [m.group(1) for m in re.finditer(rf"```{language}\n(.*?)```", text, re.S)]


def _block(language: str, starts_with: str) -> str:
    for block in _blocks(language):
        if block.startswith(starts_with):
            return block
    raise AssertionError(f"no ```{language} block starting with {starts_with!r} in the doc")


def _sge_kind():
    spec = importlib.util.spec_from_file_location("doc_sge_kind", KINDS / "sge.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    section = _section("Capabilities")
    for name in FEATURES:
        assert f"`{name}`" in section, f"feature {name} is not in the Capabilities section"


def test_every_member_of_the_scheduler_protocol_is_in_its_table():
    table = _section("The Scheduler protocol")
    members = set(Scheduler.__annotations__) | {
        name
        for name, _ in inspect.getmembers(Scheduler, inspect.isfunction)
        if not name.startswith("_")
    }
    assert len(members) > 30
    for name in members:
        assert re.search(rf"`{name}(\(|`)", table), f"{name} is not in the protocol table"


def test_the_walk_through_shows_the_templates_real_code():
    source = (KINDS / "sge.py").read_text(encoding="utf-8")
    shown = _blocks("python", _section("Walk-through: Grid Engine"))
    assert len(shown) >= 6
    for block in shown:
        assert block in source, f"not in the sge starting point:\n{block}"


def test_the_walk_through_shows_what_it_renders(tmp_path):
    walk = _section("Walk-through: Grid Engine")
    source = tmp_path / "sweep.yaml"
    source.write_text(_block("yaml", "version: 1\nname: sweep"), encoding="utf-8")
    kind = _sge_kind()

    class MysiteTransformer(BatchTransformer):
        name = "mysite"
        scheduler = kind.SiteScheduler()
        standin = kind.STANDIN

    context = RunContext(
        "R1",
        Path("/scratch/alice/runs/R1"),
        Path("/home/alice/proj"),
        options={"scheduler": "native"},
        home=Path("/home/alice"),
    )
    submission = MysiteTransformer().render(api.load_plan(source), context)
    real = format_submission(submission).splitlines()
    shown = [line for line in _blocks("sh", walk)[0].splitlines() if line != "..."]
    position = 0
    for line in shown:  # every line shown, in the order rendered
        assert line in real[position:], f"{line!r} is not rendered (in this order)"
        position = real.index(line, position) + 1
    assert [u.kind for u in submission.units] == ["job", "array"]
    assert sum("qsub" in line and "sweep.sh" in line for line in real) == 1


def test_what_the_doc_says_the_generated_transformer_declares_is_true():
    assert BatchTransformer.capabilities == frozenset(FEATURES)
    sentence = "A `BatchTransformer` declares every feature: the layer implements them all."
    assert sentence in " ".join(DOC.split())
    plugin = (PACKAGE / "{{cookiecutter.package_name}}" / "plugin.py").read_text()
    assert "capabilities" not in plugin.split('"""', 2)[2]  # the layer's, not a copy


def test_the_override_variables_the_doc_names_are_the_layers():
    class Mysite(BatchTransformer):
        name = "mysite"
        scheduler = _sge_kind().SiteScheduler()

    assert Mysite.variable_prefix() == "JOBSPEC_MYSITE"
    assert "JOBSPEC_MYSITE_SCHEDULER=native" in DOC and "JOBSPEC_<NAME>_<VERB>" in DOC
