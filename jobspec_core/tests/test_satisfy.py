"""Evaluating requirements against a site (jobspec_core.satisfy, jobspec_core.site) and the
``jobspec satisfy`` command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from jobspec_core.plan import Constraint
from jobspec_core.satisfy import NOT_SATISFIED, SATISFIED, UNKNOWN, check_plan, evaluate
from jobspec_core.site import Site, SiteError, Subsystem, load_subsystems, read_jgf

from jobspec_core import api

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = ROOT / "spec" / "examples" / "origin"
SUBSYSTEMS = ORIGIN / "subsystems"


def site() -> Site:
    s = Site()
    for sub in load_subsystems(SUBSYSTEMS):
        s.add(sub)
    s.add(
        Subsystem(
            "system",
            [{"type": "node", "cpu.target": ["zen2", "zen", "x86_64", "amd64"], "cores": 8}],
            "test",
            unknown={"gpus": "no GPU is visible to the test"},
        )
    )
    return s


def c(**kw) -> Constraint:
    subsystem = kw.pop("name")
    return Constraint(subsystem=subsystem, **kw)


@pytest.mark.parametrize(
    ("constraint", "status", "detail"),
    [
        (c(name="spack", field="type", match="package"), SATISFIED, "6 node(s)"),
        (c(name="spack", field="type", match="compiler"), NOT_SATISFIED, "type there: spack"),
        (
            c(name="spack", field="type", match="package", attribute="name", value="openssl"),
            SATISFIED,
            "spack-subsystem.json",
        ),
        (
            c(name="spack", field="type", match="package", attribute="name", value="lammps"),
            NOT_SATISFIED,
            "has name openssl, zlib",
        ),
        (c(name="environment-modules", attribute="software", value="python"), SATISFIED, ""),
        (c(name="system", field="cpu.target", value="amd64"), SATISFIED, ""),
        (c(name="system", field="cpu.target", value="a64fx"), NOT_SATISFIED, "zen2"),
        (c(name="system", field="cores", min=16), NOT_SATISFIED, "has cores 8 instead"),
        (c(name="system", field="cores", min=2, max=8), SATISFIED, ""),
        (c(name="system", field="gpus", min=1), UNKNOWN, "no GPU is visible"),
        (c(name="system", field="memory", min=1), UNKNOWN, "carry no 'memory'"),
        (c(name="rocm", field="type", match="x"), UNKNOWN, "describes no subsystem 'rocm'"),
        (c(name="spack", field="type", match="package", attribute="name", min=1), UNKNOWN, ""),
    ],
)
def test_evaluate(constraint, status, detail):
    got, text = evaluate(constraint, site())
    assert got == status, text
    assert detail in text


def test_values_from_a_document_are_compared_as_data_never_as_a_query():
    # quotes and SQL or shell syntax are just text that no node has
    hostile = "openssl' OR '1'='1; rm -rf ~"
    got, text = evaluate(
        c(name="spack", field="type", match="package", attribute="name", value=hostile), site()
    )
    assert got == NOT_SATISFIED, text


def test_a_requirement_inherited_by_many_tasks_is_one_line():
    text = "version: 1\nrequires:\n  s: [{name: system, field: cores, min: 99}]\ntasks:\n"
    text += "".join(f"- name: t{i}\n  command: [echo]\n" for i in range(50))
    report = check_plan(api.plan(api.load_text(text, "many.yaml")), site())
    assert len(report.findings) == 1
    assert report.findings[0].applies == 50
    assert len(report.refused) == 50
    assert "[for t0 and 49 more]" in report.lines()[0]
    assert report.exit_code() == 1


def test_require_all_turns_cannot_be_evaluated_into_a_failure():
    doc = "version: 1\ntasks:\n- command: [echo]\n  requires: [{name: rocm, field: type, match: gpu}]\n"
    plan = api.plan(api.load_text(doc, "r.yaml"))
    assert check_plan(plan, site()).exit_code() == 0
    assert check_plan(plan, site(), require_all=True).exit_code() == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid JSON at line 1"),
        ('{"nodes": []}', "expected an object with a 'graph' object"),
        ('{"graph": {"nodes": 3}}', "'graph.nodes' as an object"),
        ('{"graph": {"nodes": {}}}', "'graph.nodes' is empty"),
        ('{"graph": {"nodes": {"a": {"metadata": []}}}}', "'metadata' is not an object"),
        ('{"graph": {"nodes": {"a": {"metadata": {"name": "x"}}}}}', "no 'metadata.type'"),
        ("[1, 2]", "expected an object with a 'graph' object"),
    ],
)
def test_a_malformed_jgf_file_is_an_error_naming_it(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(SiteError) as info:
        read_jgf(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_jgf_nodes_may_be_a_list(tmp_path):
    path = tmp_path / "list.json"
    path.write_text(json.dumps({"graph": {"nodes": [{"id": "0", "metadata": {"type": "x"}}]}}))
    assert read_jgf(path).name == "x"


def test_a_missing_or_empty_subsystems_directory_is_an_error(tmp_path):
    with pytest.raises(SiteError, match="does not exist"):
        load_subsystems(tmp_path / "nope")
    with pytest.raises(SiteError, match="no subsystem files"):
        load_subsystems(tmp_path)


# -- the command ----------------------------------------------------------------------------


def jobspec(*argv: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = dict(os.environ)
    environ.pop("JOBSPEC_SUBSYSTEMS", None)
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "jobspec_core", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


def test_satisfy_exits_0_when_the_software_is_present():
    proc = jobspec(
        "satisfy",
        "subsystems/jobspec-spack-subystem-satisfied.yaml",
        "--subsystems",
        "subsystems",
        cwd=ORIGIN,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (
        "subsystems/jobspec-spack-subystem-satisfied.yaml:4:5: requires.spack-software[0]: "
        "satisfied: spack: type=package with name=openssl"
    ) in proc.stdout


def test_satisfy_exits_1_naming_the_requirement_its_line_and_what_was_found():
    proc = jobspec(
        "satisfy",
        "subsystems/jobspec-spack-subystem-unsatisfied.yaml",
        cwd=ORIGIN,
        env={"JOBSPEC_SUBSYSTEMS": str(SUBSYSTEMS)},
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    line = next(x for x in proc.stdout.splitlines() if "lammps" in x)
    assert line.startswith("subsystems/jobspec-spack-subystem-unsatisfied.yaml:4:5: ")
    assert "not satisfied: spack: type=package with name=lammps (set spack-software)" in line
    assert "spack has name openssl, zlib, cmake" in line
    assert "Traceback" not in proc.stderr


def test_satisfy_without_the_subsystem_cannot_evaluate_it_and_require_all_fails(tmp_path):
    name = "subsystems/jobspec-spack-subystem-satisfied.yaml"
    proc = jobspec("satisfy", name, cwd=ORIGIN)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "cannot be evaluated: spack:" in proc.stdout
    assert "describes no subsystem 'spack'" in proc.stdout
    strict = jobspec("satisfy", name, "--require-all", cwd=ORIGIN)
    assert strict.returncode == 1, strict.stdout


def test_satisfy_json(tmp_path):
    proc = jobspec(
        "satisfy",
        "subsystems/jobspec-spack-subystem-unsatisfied.yaml",
        "--subsystems",
        "subsystems",
        "--json",
        cwd=ORIGIN,
    )
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["ok"] is False
    statuses = {r["requirement"]: r["status"] for r in data["requirements"]}
    assert statuses["spack: type=package with name=lammps (set spack-software)"] == NOT_SATISFIED
    assert list(data["refused"]) == ["task-1"]


def test_a_malformed_jgf_file_gives_exit_2_with_its_path(tmp_path):
    subs = tmp_path / "subs"
    shutil.copytree(SUBSYSTEMS, subs)
    (subs / "broken.json").write_text('{"graph": {"nodes": {"a": ')
    doc = ORIGIN / "subsystems" / "jobspec-spack-subystem-satisfied.yaml"
    proc = jobspec("satisfy", str(doc), "--subsystems", str(subs), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert str(subs / "broken.json") in proc.stderr
    assert "invalid JSON" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_satisfy_of_an_invalid_document_exits_2(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        textwrap.dedent(
            """\
            version: 1
            tasks:
            - command: [echo]
              requires: nope
            """
        )
    )
    proc = jobspec("satisfy", "bad.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    assert "bad.yaml:4:" in proc.stderr + proc.stdout
    assert "unknown requirement set 'nope'" in proc.stderr + proc.stdout


def test_satisfy_of_a_document_without_requirements(tmp_path):
    (tmp_path / "plain.yaml").write_text("version: 1\ntasks:\n- command: [echo]\n")
    proc = jobspec("satisfy", "plain.yaml", cwd=tmp_path)
    assert proc.returncode == 0
    assert "plain.yaml: no requirements" in proc.stdout


def test_satisfy_notes_that_metadata_is_not_evaluated():
    proc = jobspec("satisfy", "flux-jobspec.yaml", cwd=ORIGIN)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "flux-jobspec.yaml: no requirements" in proc.stdout
    assert "note: requires metadata (io.archspec) is for schedulers and is not evaluated" in (
        proc.stdout
    )


def test_narrowing_resums_a_group_whose_resources_are_its_childrens_sum():
    from jobspec_core.satisfy import narrow_alternatives

    doc = textwrap.dedent(
        """\
        version: 1
        resources:
          big:
            type: slot
            with: [{type: core, count: 8}]
            requires: [{name: system, field: cpu.target, value: a64fx}]
          small:
            type: slot
            with: [{type: core, count: 1}]
        groups:
        - name: g
          tasks:
          - name: t
            command: [echo]
            resources: big|small
        """
    )
    plan = api.plan(api.load_text(doc, "g.yaml"))
    assert plan.node("g").resources.preferred.totals["core"] == 8
    report = check_plan(plan, site())
    assert report.ok and report.usable["g/t"] == [1]
    notes = narrow_alternatives(plan, report)
    assert [a.name for a in plan.node("g/t").resources.alternatives] == ["small"]
    assert plan.node("g").resources.preferred.totals["core"] == 1
    assert notes == ["g/t: resources narrowed to small (the others' requirements are not met)"]


def test_satisfy_takes_parameter_values(tmp_path):
    """``--set`` reaches the requirements (issue 13 on ``satisfy``); a bad name is exit 2."""
    (tmp_path / "job.yaml").write_text(
        textwrap.dedent(
            """\
            version: 1
            parameters:
              package: {type: string, default: lammps}
            tasks:
            - name: t
              command: [echo]
              requires:
              - {name: spack, field: type, match: package, attribute: name, value: "${{ package }}"}
            """
        )
    )
    shutil.copytree(ORIGIN / "subsystems", tmp_path / "subsystems")
    graphs = ["--subsystems", "subsystems"]
    absent = jobspec("satisfy", "job.yaml", *graphs, cwd=tmp_path)
    assert absent.returncode == 1, absent.stdout + absent.stderr
    assert "not satisfied: spack: type=package with name=lammps" in absent.stdout
    present = jobspec("satisfy", "job.yaml", "--set", "package=openssl", *graphs, cwd=tmp_path)
    assert present.returncode == 0, present.stdout + present.stderr
    assert "satisfied: spack: type=package with name=openssl" in present.stdout
    unknown = jobspec("satisfy", "job.yaml", "--set", "pkg=openssl", *graphs, cwd=tmp_path)
    assert unknown.returncode == 2 and "no parameter 'pkg'" in unknown.stdout + unknown.stderr
