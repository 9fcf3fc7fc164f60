"""The plugin system, through the only door plugins use: entry points of the ``jobspec`` group.

Each test writes real (tiny) distributions into a temporary directory (modules plus a
``*.dist-info`` with ``entry_points.txt``, see ``fakedist.py``) and runs ``python -m
jobspec_core`` in a subprocess with that directory on ``PYTHONPATH``. The plugins installed
on this machine are blocked with ``JOBSPEC_DISABLE_PLUGINS`` so that the listings are
exactly what each test installed plus the core's own ``core_steps``.

Every hook of ``hookspecs.py`` is exercised here (``test_hookspecs_documented.py`` checks).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakedist import TINY_PLUGIN, isolated_env, make_dist, run_jobspec

BROKEN_ON_IMPORT = 'raise RuntimeError("this plugin is broken on purpose")\n'

MISSPELT_HOOK = TINY_PLUGIN.replace(
    "def jobspec_register_transformers(", "def jobspec_register_transformer("
).replace('name = "tiny"', 'name = "misspelt"')

# the same transformer name as TINY_PLUGIN, from a second plugin
DUPLICATE = TINY_PLUGIN.replace("a tiny test transformer", "an impostor")

STEP_PLUGIN = """
from jobspec_core import hookimpl
from jobspec_core.steps import StepType


class GreetStep(StepType):
    name = "greet"
    description = "say hello before the task"
    options_schema = {
        "type": "object",
        "properties": {"who": {"type": "string"}},
        "required": ["who"],
        "additionalProperties": False,
    }


@hookimpl
def jobspec_register_steps(register):
    register(GreetStep)
"""

REGISTRATION_RAISES = """
from jobspec_core import hookimpl


@hookimpl
def jobspec_register_transformers(register):
    raise ValueError("no licence server")
"""

NOT_A_TRANSFORMER = """
from jobspec_core import hookimpl


class NotOne:
    name = "notone"


@hookimpl
def jobspec_register_transformers(register):
    register(NotOne)
"""

EXITS_ON_IMPORT = "import sys\nsys.exit(3)\n"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A directory for fake distributions, with the good ``tiny`` plugin already in it."""
    root = tmp_path / "site"
    make_dist(root, "jobspec-tiny", "0.3", {"tiny_plugin": TINY_PLUGIN}, {"tiny": "tiny_plugin"})
    return root


def listing(site: Path, **extra: str) -> dict:
    done = run_jobspec("transformers", "--json", env=isolated_env(site, extra=extra))
    assert "Traceback" not in done.stderr, done.stderr
    data = json.loads(done.stdout)
    data["returncode"] = done.returncode
    data["stderr"] = done.stderr
    return data


def test_a_plugin_that_raises_on_import_is_named_and_the_others_still_work(site, tmp_path):
    """The issue's acceptance test: a broken plugin REALLY installed through an entry point."""
    make_dist(
        site,
        "broken-plugin",
        "0.1",
        {"broken_plugin": BROKEN_ON_IMPORT},
        {"broken": "broken_plugin"},
    )
    env = isolated_env(site)
    done = run_jobspec("transformers", env=env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    out = done.stdout
    # the others keep working: the good transformer and the core's own plugin are listed
    transformers = out.split("Transformers (1):\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert transformers[0].split() == ["NAME", "VERSION", "DISTRIBUTION", "PLUGIN", "DESCRIPTION"]
    assert transformers[1].split()[:4] == ["tiny", "0.3", "jobspec-tiny", "tiny"]
    assert "core_steps  jobspec-core" in out
    # the broken one is named, clearly, with its cause
    broken = out.split("BROKEN plugins (1)", 1)[1].splitlines()
    assert broken[2].split(None, 1) == [
        "broken",
        "failed to load broken_plugin: RuntimeError: this plugin is broken on purpose",
    ]
    assert "1 plugin(s) failed to load: broken" in done.stderr
    # and the working transformer still renders
    job = tmp_path / "job.yaml"
    job.write_text("version: 1\ntasks:\n- name: hello\n  command: echo hello\n")
    done = run_jobspec("transform", "-t", "tiny", str(job), env=env)
    assert done.returncode == 0, done.stderr
    assert "# ==> hello.sh (executable) <==" in done.stdout


def test_broken_plugins_in_json(site):
    make_dist(
        site,
        "broken-plugin",
        "0.1",
        {"broken_plugin": BROKEN_ON_IMPORT},
        {"broken": "broken_plugin"},
    )
    data = listing(site)
    assert data["returncode"] == 0
    assert [t["name"] for t in data["transformers"]] == ["tiny"]
    assert data["broken"] == [
        {
            "plugin": "broken",
            "cause": "failed to load broken_plugin: RuntimeError: this plugin is broken on purpose",
        }
    ]


def test_a_plugin_that_exits_on_import_does_not_take_the_cli_down(site):
    make_dist(
        site, "jobspec-exits", "1.0", {"exits_plugin": EXITS_ON_IMPORT}, {"exits": "exits_plugin"}
    )
    data = listing(site)
    assert data["returncode"] == 0
    assert [t["name"] for t in data["transformers"]] == ["tiny"]
    assert data["broken"] == [
        {"plugin": "exits", "cause": "failed to load exits_plugin: SystemExit: 3"}
    ]


def test_a_misspelt_hook_name_is_reported_as_broken(site):
    make_dist(
        site,
        "jobspec-misspelt",
        "1.0",
        {"misspelt_plugin": MISSPELT_HOOK},
        {"misspelt": "misspelt_plugin"},
    )
    data = listing(site)
    assert [t["name"] for t in data["transformers"]] == ["tiny"]
    (entry,) = data["broken"]
    assert entry["plugin"] == "misspelt"
    assert entry["cause"].startswith("unknown hook 'jobspec_register_transformer' (misspelt?")
    assert "jobspec_register_transformers" in entry["cause"]  # says what exists


def test_a_duplicate_transformer_name_is_reported_against_the_second_plugin(site):
    # entry points load in name order: 'tiny' first, then 'tiny_again'
    make_dist(
        site,
        "jobspec-impostor",
        "9.9",
        {"impostor_plugin": DUPLICATE},
        {"tiny_again": "impostor_plugin"},
    )
    data = listing(site)
    (tiny,) = data["transformers"]
    assert (tiny["name"], tiny["distribution"], tiny["version"]) == ("tiny", "jobspec-tiny", "0.3")
    assert tiny["description"].startswith("a tiny test transformer")
    assert data["broken"] == [
        {"plugin": "tiny_again", "cause": "transformer 'tiny' is already provided by plugin 'tiny'"}
    ]


def test_registration_that_raises_or_registers_junk_is_broken(site):
    make_dist(
        site,
        "jobspec-bad",
        "1.0",
        {"raises_plugin": REGISTRATION_RAISES, "junk_plugin": NOT_A_TRANSFORMER},
        {"raises": "raises_plugin", "junk": "junk_plugin"},
    )
    data = listing(site)
    causes = {b["plugin"]: b["cause"] for b in data["broken"]}
    assert causes["raises"] == "registration failed: ValueError: no licence server"
    assert "is not a Transformer subclass" in causes["junk"]
    assert [t["name"] for t in data["transformers"]] == ["tiny"]


def test_disable_plugins_blocks_by_name(site, tmp_path):
    make_dist(
        site,
        "broken-plugin",
        "0.1",
        {"broken_plugin": BROKEN_ON_IMPORT},
        {"broken": "broken_plugin"},
    )
    env = isolated_env(site)
    env["JOBSPEC_DISABLE_PLUGINS"] += ",tiny , broken"  # spaces around names are fine
    done = run_jobspec("transformers", "--json", env=env)
    data = json.loads(done.stdout)
    assert data["transformers"] == [] and data["broken"] == []
    assert [p["name"] for p in data["plugins"]] == ["core_steps"]
    job = tmp_path / "job.yaml"
    job.write_text("version: 1\ntasks:\n- command: 'true'\n")
    done = run_jobspec("transform", "-t", "tiny", str(job), env=env)
    assert done.returncode == 2
    assert 'no such transformer "tiny". Available transformers: (none)' in done.stderr


def test_all_transformers_broken_exits_1(tmp_path):
    site = tmp_path / "site"
    make_dist(
        site,
        "broken-plugin",
        "0.1",
        {"broken_plugin": BROKEN_ON_IMPORT},
        {"broken": "broken_plugin"},
    )
    done = run_jobspec("transformers", env=isolated_env(site))
    assert done.returncode == 1
    assert "No transformers installed" in done.stdout
    assert "broken" in done.stdout.split("BROKEN plugins (1)")[1]


def test_unknown_transformer_lists_the_available_ones(site, tmp_path):
    make_dist(
        site,
        "jobspec-other",
        "2.0",
        {"other_plugin": TINY_PLUGIN.replace('name = "tiny"', 'name = "other"')},
        {"other": "other_plugin"},
    )
    job = tmp_path / "job.yaml"
    job.write_text("version: 1\ntasks:\n- command: 'true'\n")
    done = run_jobspec("transform", "-t", "slurmm", str(job), env=isolated_env(site))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        'jobspec: error: no such transformer "slurmm". Available transformers: other, tiny'
    )


def test_unknown_transformer_whose_plugin_is_broken_says_why(site, tmp_path):
    make_dist(
        site,
        "broken-plugin",
        "0.1",
        {"broken_plugin": BROKEN_ON_IMPORT},
        {"broken": "broken_plugin"},
    )
    job = tmp_path / "job.yaml"
    job.write_text("version: 1\ntasks:\n- command: 'true'\n")
    done = run_jobspec("transform", "-t", "broken", str(job), env=isolated_env(site))
    assert done.returncode == 2
    assert "Available transformers: tiny" in done.stderr
    assert "The plugin providing it failed to load: failed to load broken_plugin" in done.stderr


def test_hook_jobspec_register_transformers(site, tmp_path):
    """``jobspec_register_transformers``: each register() call adds one transformer, with the
    name, description and capabilities its class declares, attributed to its plugin."""
    two = TINY_PLUGIN.replace('name = "tiny"', 'name = "one"') + (
        "\n\nclass Two(TinyTransformer):\n"
        '    name = "two"\n'
        '    description = "the second of a pair"\n'
        '    capabilities = frozenset({"tasks", "command", "portable-variables", "replicas"})\n'
        "\n\n@hookimpl\ndef jobspec_register_transformers(register):\n"
        "    register(TinyTransformer)\n    register(Two)\n"
    )
    make_dist(site, "jobspec-pair", "1.2.3", {"pair_plugin": two}, {"pair": "pair_plugin"})
    data = listing(site)
    assert data["broken"] == []
    by_name = {t["name"]: t for t in data["transformers"]}
    assert set(by_name) == {"one", "two", "tiny"}
    assert by_name["two"] == {
        "name": "two",
        "version": "1.2.3",
        "distribution": "jobspec-pair",
        "plugin": "pair",
        "description": "the second of a pair",
        "capabilities": ["tasks", "command", "replicas", "portable-variables"],
    }
    assert by_name["one"]["plugin"] == "pair" and by_name["tiny"]["plugin"] == "tiny"
    plugins = {p["name"]: p for p in data["plugins"]}
    assert plugins["pair"]["transformers"] == ["one", "two"]
    # the registered class is what -t NAME instantiates
    job = tmp_path / "job.yaml"
    job.write_text("version: 1\ntasks:\n- name: r\n  replicas: 2\n  command: 'true'\n")
    done = run_jobspec("transform", "-t", "two", str(job), env=isolated_env(site))
    assert done.returncode == 0, done.stderr
    done = run_jobspec("transform", "-t", "one", str(job), env=isolated_env(site))
    assert done.returncode == 2 and "  - replicas: " in done.stderr


def test_hook_jobspec_register_steps(site):
    """``jobspec_register_steps``: the step is provided by its plugin, beside the core's."""
    make_dist(
        site, "jobspec-greet", "0.2", {"greet_plugin": STEP_PLUGIN}, {"greet": "greet_plugin"}
    )
    data = listing(site)
    plugins = {p["name"]: p for p in data["plugins"]}
    assert plugins["greet"]["steps"] == ["greet"]
    assert plugins["greet"]["distribution"] == "jobspec-greet"
    assert plugins["core_steps"]["steps"] == ["stage", "write"]
    assert data["broken"] == []


def test_a_step_is_valid_only_while_its_plugin_is_loaded(site, tmp_path):
    """A step name no plugin registers is a validation error (the hook's contract)."""
    make_dist(
        site, "jobspec-greet", "0.2", {"greet_plugin": STEP_PLUGIN}, {"greet": "greet_plugin"}
    )
    job = tmp_path / "job.yaml"
    job.write_text(
        "version: 1\ntasks:\n- name: t\n  command: 'true'\n  steps:\n  - name: greet\n    who: you\n"
    )
    env = isolated_env(site)
    # `graph` validates and plans, with no transformer involved
    done = run_jobspec("graph", str(job), env=env)
    assert done.returncode == 0, done.stderr
    env["JOBSPEC_DISABLE_PLUGINS"] += ",greet"
    done = run_jobspec("graph", str(job), env=env)
    assert done.returncode == 2
    assert "greet" in done.stderr and str(job) in done.stderr
    assert "Traceback" not in done.stderr


def test_two_distributions_claiming_one_plugin_name(site, tmp_path):
    other = tmp_path / "site2"
    make_dist(
        other, "jobspec-tiny-fork", "7.0", {"fork_plugin": DUPLICATE}, {"tiny": "fork_plugin"}
    )
    done = run_jobspec("transformers", "--json", env=isolated_env(site, other))
    data = json.loads(done.stdout)
    (tiny,) = data["transformers"]
    assert tiny["distribution"] == "jobspec-tiny"  # the first on the path wins
    (entry,) = data["broken"]
    assert entry["plugin"] == "tiny (jobspec-tiny-fork)"
    assert "already provided by distribution 'jobspec-tiny'" in entry["cause"]


def test_the_suite_is_isolated_from_installed_plugins(site):
    """What this file's listings contain is exactly what the tests installed."""
    data = listing(site)
    assert [p["name"] for p in data["plugins"]] == ["core_steps", "tiny"]


def test_a_hook_implementation_with_the_wrong_signature_is_broken(site):
    wrong = TINY_PLUGIN.replace(
        "def jobspec_register_transformers(register):",
        "def jobspec_register_transformers(register, cluster):",
    ).replace('name = "tiny"', 'name = "wrongsig"')
    make_dist(
        site, "jobspec-wrongsig", "1.0", {"wrongsig_plugin": wrong}, {"wrongsig": "wrongsig_plugin"}
    )
    data = listing(site)
    (entry,) = data["broken"]
    assert entry["plugin"] == "wrongsig"
    assert entry["cause"].startswith(
        "invalid hook implementation: hookimpl definition: "
        "jobspec_register_transformers(register, cluster)"
    )
    assert "'cluster'" in entry["cause"]
    assert [t["name"] for t in data["transformers"]] == ["tiny"]


def test_builtin_steps_stay_valid_when_core_steps_is_blocked(tmp_path):
    job = tmp_path / "job.yaml"
    job.write_text(
        "version: 1\ntasks:\n- name: t\n  command: 'true'\n"
        "  steps:\n  - name: write\n    path: in.txt\n    content: hi\n"
    )
    env = isolated_env(keep=set())  # nothing at all, core_steps included
    assert "core_steps" in env["JOBSPEC_DISABLE_PLUGINS"].split(",")
    done = run_jobspec("graph", str(job), env=env)
    assert done.returncode == 0, done.stderr
    data = json.loads(run_jobspec("transformers", "--json", env=env).stdout)
    assert data["plugins"] == [] and data["transformers"] == []


DESCRIBING_PLUGIN = (
    TINY_PLUGIN
    + """

from jobspec_core.site import Subsystem


@hookimpl
def jobspec_describe_site(transformer, context):
    if transformer.name != "tiny":
        return None
    node = {"type": "node", "cpu.target": ["power9le", "ppc64le"], "cores": 4}
    return [Subsystem("system", [node], "transformer tiny")]
"""
)


def test_hook_jobspec_describe_site(tmp_path):
    """``jobspec_describe_site``: what a transformer reports of its target is what
    ``jobspec satisfy -t NAME`` evaluates requirements against."""
    site = tmp_path / "site"
    make_dist(
        site, "jobspec-tiny", "0.3", {"tiny_plugin": DESCRIBING_PLUGIN}, {"tiny": "tiny_plugin"}
    )
    job = tmp_path / "job.yaml"
    job.write_text(
        "version: 1\n"
        "tasks:\n"
        "- command: [echo]\n"
        "  requires:\n"
        "  - {name: system, field: cpu.target, value: power9le}\n"
        "  - {name: system, field: cores, min: 8}\n"
    )
    done = run_jobspec("satisfy", "-t", "tiny", str(job), env=isolated_env(site))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert ":5:5: tasks[0].requires[0]: satisfied: system: cpu.target=power9le" in lines[0]
    assert ":6:5: tasks[0].requires[1]: not satisfied: system: 8 <= cores" in lines[1]
    assert "system has cores 4 instead" in lines[1]
    assert "(in transformer tiny)" in lines[0]
