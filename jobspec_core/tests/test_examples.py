"""Every file in spec/examples validates and plans; together they use every feature."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from jobspec_core.features import FEATURES, features_used
from jobspec_core.plan import Plan, PlanGroup

from jobspec_core import api

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "spec" / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.yaml"))
REQUIRED = {
    "hello",
    "build-and-run",
    "named-resources",
    "alternatives",
    "mini-mummi",
    "services",
    "durations",
    "environment",
    "cwd",
    "steps",
    "passthrough",
    "requires",
    "replicas",
}


def test_required_examples_exist():
    assert REQUIRED <= {p.stem for p in EXAMPLES}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates_and_plans(path):
    document = api.load(path)
    assert api.validate(document) == []
    plan = api.plan(document)
    assert list(plan.tasks())
    again = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again.to_dict() == plan.to_dict()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_runnable_examples_fit_this_machine(path):
    """Examples other than large-resources.yaml ask for at most 2 cores and 1 node."""
    if path.name.startswith("large-"):
        assert "not runnable" in path.read_text().lower()
        return
    plan = api.load_plan(path)
    for node, _ in plan.walk():
        request = node.resources.preferred
        assert request.slots * request.cores_per_slot <= 2, node.id
        assert request.nodes <= 1, node.id


def test_examples_cover_every_feature():
    used: set[str] = set()
    for path in EXAMPLES:
        used |= features_used(api.load_plan(path))
    assert set(FEATURES) - used == set()


def test_mini_mummi_shape():
    plan = api.load_plan(EXAMPLES_DIR / "mini-mummi.yaml")
    ids = [(node.id, node.kind) for node, _ in plan.walk()]
    assert ids == [
        ("mini-mummi", "group"),
        ("mini-mummi/start-queue", "task"),
        ("mini-mummi/train", "group"),
        ("mini-mummi/train/train", "task"),
        ("mini-mummi/test", "task"),
        ("mini-mummi/stop-queue", "task"),
    ]
    test = plan.node("mini-mummi/test")
    assert test.replicas == 4 and test.depends_on == ["mini-mummi/train"]
    assert [a.name for a in test.resources.alternatives] == ["mummi-cpu", "mummi-gpu"]
    assert plan.node("mini-mummi/start-queue").local
    assert isinstance(plan.node("mini-mummi/train"), PlanGroup)


def test_cli_validates_all_examples_at_once():
    proc = subprocess.run(
        [sys.executable, "-m", "jobspec_core", "validate", *map(str, EXAMPLES)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(": valid (") == len(EXAMPLES)


RUNNABLE = [p for p in EXAMPLES if not p.name.startswith("large-")]


@pytest.mark.slow
def test_examples_run_on_this_machine(tmp_path):
    """Every example but large-resources.yaml runs to completion with the local backend."""
    pytest.importorskip(
        "jobspec_local", reason="the local backend (jobspec-local) is not installed"
    )
    env = {**__import__("os").environ, "JOBSPEC_STORE": str(tmp_path / "runs.sqlite")}
    env.pop("JOBSPEC_TRANSFORMER", None)
    failures = []
    for path in RUNNABLE:
        proc = subprocess.run(
            [sys.executable, "-m", "jobspec_core", "run", "-t", "local", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            env=env,
        )
        if proc.returncode != 0:
            failures.append(f"{path.name}: exit {proc.returncode}\n{proc.stdout}{proc.stderr}")
    assert not failures, "\n".join(failures)
