"""``jobspec transformers``: a readable table, the same facts as JSON, honest exit codes.

In-process, against registries built from modules (the entry-point path is covered by
``test_plugins.py``).
"""

from __future__ import annotations

import json

import pytest
from fakedist import TINY_PLUGIN, module_from_source
from jobspec_core.cli.main import main
from jobspec_core.cli.transformers_cmd import collect, format_table
from jobspec_core.features import FEATURES

from jobspec_core import builtin_steps, plugins

OWN_VERSION = (
    TINY_PLUGIN.replace('name = "tiny"', 'name = "wide"')
    .replace(
        "    def render(self, plan, context):",
        "    @classmethod\n    def version(cls):\n        return '4.5.6'\n\n"
        "    def render(self, plan, context):",
    )
    .replace(
        '"attributes.environment"}',
        '"attributes.environment", "replicas", "groups", "x-site-magic"}',
    )
)


@pytest.fixture
def use_registry():
    def install(*modules, broken=None):
        reg = plugins.Registry.from_modules(modules)
        reg.broken.update(broken or {})
        plugins.reset_registry(reg)
        return reg

    yield install
    plugins.reset_registry(None)


def two_transformers(install):
    reg = install(
        ("core_steps", builtin_steps),
        ("tiny", module_from_source("tiny_plugin", TINY_PLUGIN)),
        ("wide", module_from_source("wide_plugin", OWN_VERSION)),
        broken={"broken": "failed to load broken_plugin: RuntimeError: boom"},
    )
    reg.plugins["tiny"].distribution = "jobspec-tiny"
    reg.plugins["tiny"].version = "0.3"
    return reg


def columns(line: str, header: str) -> list[str]:
    """Cut ``line`` at the offsets where ``header``'s words start."""
    starts = [i for i, ch in enumerate(header) if ch != " " and (i == 0 or header[i - 1] == " ")]
    bounds = [*starts[1:], max(len(line), len(header)) + 1]
    return [line[a:b].strip() for a, b in zip(starts, bounds, strict=True)]


def test_table_is_aligned_and_complete(use_registry, capsys):
    two_transformers(use_registry)
    assert main(["transformers"]) == 0
    captured = capsys.readouterr()
    sections = captured.out.split("\n\n")
    head, *rows = sections[0].splitlines()
    assert head == "Transformers (2):"
    header = rows[0]
    assert columns(rows[1], header) == [
        "tiny",
        "0.3",
        "jobspec-tiny",
        "tiny",
        "a tiny test transformer: one shell script per task",
    ]
    # a transformer overriding version() reports its own; no distribution known here
    assert columns(rows[2], header)[:4] == ["wide", "4.5.6", "-", "wide"]

    caps = sections[1].splitlines()
    assert caps[0].startswith("Capabilities (yes = supported")
    cap_header = caps[1]
    assert cap_header.split() == ["FEATURE", "tiny", "wide"]
    matrix = {columns(line, cap_header)[0]: columns(line, cap_header)[1:] for line in caps[2:]}
    # every known feature has a row, in the documented order, then the unknown one
    assert list(matrix) == [*FEATURES, "x-site-magic"]
    assert matrix["replicas"] == ["-", "yes"]
    assert matrix["depends_on"] == ["yes", "yes"]
    assert matrix["steps.write"] == ["-", "-"]
    assert matrix["x-site-magic"] == ["-", "yes"]

    others = sections[2].splitlines()
    assert others[0] == "Other plugins:"
    assert columns(others[2], others[1]) == ["core_steps", "-", "-", "step stage, step write"]

    broken = sections[3].splitlines()
    assert broken[0].startswith("BROKEN plugins (1): not loaded")
    assert columns(broken[2], broken[1]) == [
        "broken",
        "failed to load broken_plugin: RuntimeError: boom",
    ]
    assert "jobspec: warning: 1 plugin(s) failed to load: broken" in captured.err


def test_json_has_the_same_facts(use_registry, capsys):
    reg = two_transformers(use_registry)
    assert main(["transformers", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == json.loads(json.dumps(collect(reg)))
    tiny, wide = data["transformers"]
    assert tiny == {
        "name": "tiny",
        "version": "0.3",
        "distribution": "jobspec-tiny",
        "plugin": "tiny",
        "description": "a tiny test transformer: one shell script per task",
        "capabilities": [
            "tasks",
            "command",
            "depends_on",
            "attributes.duration",
            "attributes.environment",
            "portable-variables",
        ],
    }
    assert wide["version"] == "4.5.6"
    assert wide["capabilities"][-1] == "x-site-magic"
    assert data["broken"] == [
        {"plugin": "broken", "cause": "failed to load broken_plugin: RuntimeError: boom"}
    ]
    assert data["features"] == list(FEATURES)


def test_no_transformers_but_nothing_broken_is_fine(use_registry, capsys):
    use_registry(("core_steps", builtin_steps))
    assert main(["transformers"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("No transformers installed.")
    assert "BROKEN" not in out


def test_nothing_works_exits_1(use_registry, capsys):
    use_registry(("core_steps", builtin_steps), broken={"local": "failed to load x: ImportError"})
    assert main(["transformers"]) == 1
    captured = capsys.readouterr()
    assert "BROKEN plugins (1)" in captured.out
    assert "failed to load: local" in captured.err


def test_a_version_method_that_raises_does_not_hide_the_listing(use_registry):
    source = OWN_VERSION.replace("return '4.5.6'", "raise OSError('no metadata')")
    reg = use_registry(("wide", module_from_source("wide_plugin", source)))
    data = collect(reg)
    assert data["transformers"][0]["version"] == "unknown (OSError)"
    assert "wide" in format_table(data)
