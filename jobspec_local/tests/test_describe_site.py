"""The local backend as a site (jobspec_local.describe) and the requirement check of
``jobspec run`` on this machine (spec/spec.md, "Requires"; Decisions 55 and 56)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from jobspec_core.errors import RequirementsNotMet
from jobspec_core.runner import Runner
from jobspec_core.store import RunStore
from jobspec_local.transformer import LocalTransformer

from jobspec_local import describe, plugin

#: a CPU target this machine surely does not run code for
ABSENT = "a64fx" if platform.machine() != "aarch64" else "zen4"
FAMILY = platform.machine()


def test_the_local_machine_is_the_system_subsystem():
    system = describe.describe_machine({"cores": "3", "gpus": "1"})
    assert system.name == "system"
    (node,) = system.nodes
    assert node["type"] == "node"
    assert node["cores"] == 3 and node["gpus"] == 1
    assert node["memory"] > 0
    assert FAMILY in node["cpu.target"]
    for alias in describe.FAMILY_ALIASES.get(FAMILY, []):
        assert alias in node["cpu.target"]


def test_with_archspec_the_microarchitecture_and_its_ancestors_are_offered():
    archspec_cpu = pytest.importorskip("archspec.cpu", reason="the archspec extra is absent")
    host = archspec_cpu.host()
    (node,) = describe.describe_machine().nodes
    assert node["cpu.target"][0] == host.name
    assert {a.name for a in host.ancestors} <= set(node["cpu.target"])
    assert node["cpu.vendor"] == host.vendor


def test_without_archspec_only_the_family_is_known(monkeypatch):
    monkeypatch.setitem(sys.modules, "archspec", None)
    monkeypatch.setitem(sys.modules, "archspec.cpu", None)
    system = describe.describe_machine()
    assert system.nodes[0]["cpu.target"][0] == FAMILY
    assert "install archspec" in system.unknown["cpu.target"]


def test_the_hook_answers_only_for_the_local_transformer():
    assert plugin.jobspec_describe_site(transformer=object(), context=None) is None
    (system,) = plugin.jobspec_describe_site(transformer=LocalTransformer(), context=None)
    assert system.name == "system"


DOC = """\
version: 1
resources:
  special:
    type: slot
    count: 2
    with: [{type: core}]
    requires:
    - {name: system, field: cpu.target, value: %(absent)s}
  ordinary:
    type: slot
    with: [{type: core}]
    requires:
    - {name: system, field: cpu.target, value: %(family)s}
tasks:
- name: hello
  command: [echo, hello]
  resources: %(resources)s
"""


def doc(resources: str) -> str:
    return DOC % {"absent": ABSENT, "family": FAMILY, "resources": resources}


def test_run_uses_the_alternative_whose_requirements_are_met(tmp_path, make_plan, registry):
    runner = Runner(RunStore(tmp_path / "runs.sqlite"), registry)
    plan = make_plan(doc("special|ordinary"))
    run_id = runner.submit(plan, "local", workdir=tmp_path, options={"cores": "4"})
    assert [a.name for a in plan.node("hello").resources.alternatives] == ["ordinary"]
    assert runner.wait(run_id, timeout=120).succeeded


def test_run_refuses_what_this_machine_cannot_meet_and_records_nothing(
    tmp_path, make_plan, registry
):
    store = RunStore(tmp_path / "runs.sqlite")
    runner = Runner(store, registry)
    with pytest.raises(RequirementsNotMet) as info:
        runner.submit(make_plan(doc("special")), "local", workdir=tmp_path)
    assert f"cpu.target={ABSENT}" in str(info.value)
    assert store.list_runs() == []


def cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "JOBSPEC_STORE": str(cwd / "runs.sqlite")}
    env.pop("JOBSPEC_TRANSFORMER", None)
    env.pop("JOBSPEC_SUBSYSTEMS", None)
    return subprocess.run(
        [sys.executable, "-m", "jobspec_core", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_jobspec_run_refuses_with_the_report_and_the_skip_flag_runs(tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "arch.yaml").write_text(
        textwrap.dedent(
            f"""\
            version: 1
            tasks:
            - name: touch
              command: [touch, {marker}]
              requires:
              - {{name: system, field: cpu.target, value: {ABSENT}}}
            """
        )
    )
    refused = cli("run", "arch.yaml", cwd=tmp_path)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "nothing was submitted" in refused.stderr
    assert f"arch.yaml:6:5: tasks[0].requires[0]: not satisfied: system: cpu.target={ABSENT}" in (
        refused.stderr
    )
    assert f"{FAMILY}" in refused.stderr  # what this machine has instead
    assert "Traceback" not in refused.stderr
    assert not marker.exists()
    listed = cli("list", "--json", cwd=tmp_path)
    assert json.loads(listed.stdout) == []
    ran = cli("run", "-q", "--skip-requirements", "arch.yaml", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert marker.exists()


def test_validate_imports_neither_the_site_nor_archspec(tmp_path):
    """Requirements cost nothing at start-up: ``jobspec validate`` (of a document with
    requirements, too) loads neither the evaluation, the site description nor archspec."""
    (tmp_path / "r.yaml").write_text(doc("special|ordinary"))
    code = (
        "import sys\n"
        "from jobspec_core.cli.main import main\n"
        "assert main(['validate', 'r.yaml']) == 0\n"
        "bad = [m for m in ('jobspec_core.satisfy', 'jobspec_core.site', 'archspec',"
        " 'jobspec_local.describe') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_archspec_is_imported_only_when_a_cpu_field_is_looked_at(tmp_path):
    pytest.importorskip("archspec", reason="the archspec extra is absent")
    code = (
        "import sys\n"
        "from jobspec_local.describe import describe_machine\n"
        "node = describe_machine().nodes[0]\n"
        "assert node['cores'] >= 1 and 'archspec' not in sys.modules\n"
        "assert 'cpu.target' in node and 'archspec' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
