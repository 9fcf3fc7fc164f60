"""What the sge transformer renders (no Grid Engine needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobspec_core.errors import InvalidJobspec
from jobspec_core.loader import load_text
from jobspec_core.transformer import RunContext
from jobspec_sge.transformer import SgeTransformer

from jobspec_core import api


def render(spec: str, tmp_path: Path, run: str = "run"):
    plan = api.plan(load_text(spec, "job.yaml"))
    context = RunContext("r1", tmp_path / run, tmp_path)
    return SgeTransformer().render(plan, context), context


def directives(script: str) -> list[str]:
    return [line for line in script.splitlines() if line.startswith("#$")]


REPLICAS = """
version: 1
tasks:
  - name: many
    replicas: 100
    command: ["true"]
  - name: 2nd
    depends_on: [many]
    attributes: {duration: 90s}
    resources: {type: slot, count: 1, with: [{type: core, count: 2}, {type: memory, count: 300}]}
    command: ["echo", "it's done"]
"""


def test_replicas_100_is_one_array_job(tmp_path: Path) -> None:
    sub, context = render(REPLICAS, tmp_path)
    many = sub.units[0]
    assert (many.node_id, many.kind, many.instances) == ("many", "array", 100)
    assert many.argv == [
        "qsub",
        "-terse",
        "-w",
        "e",
        "-S",
        "/bin/sh",
        str(context.run_dir / "many.sh"),
    ]
    lines = directives(sub.files["many.sh"].content)
    assert "#$ -t 1-100" in lines and "#$ -N many" in lines
    assert f"#$ -o {context.run_dir}/logs/many.job.$TASK_ID.out" in lines
    # the 0-based index comes from SGE_TASK_ID, whose first value is 1
    assert "$((SGE_TASK_ID - 1))" in sub.files["many.sh"].content


def test_dependent_cores_memory_duration_and_name(tmp_path: Path) -> None:
    sub, context = render(REPLICAS, tmp_path)
    second = sub.units[1]
    # -hold_jid names the array by a placeholder filled in at submission
    assert second.argv[:8] == [
        "qsub",
        "-terse",
        "-w",
        "e",
        "-S",
        "/bin/sh",
        "-hold_jid",
        "{id:many}",
    ]
    lines = directives(sub.files[second.script].content)
    assert "#$ -N j2nd" in lines  # Grid Engine refuses a name starting with a digit
    assert "#$ -pe smp 2" in lines
    assert "#$ -l mem_free=300M" in lines
    assert "#$ -l h_rt=0:02:30" in lines  # 90 s + the layer's grace for the script's record
    assert f"#$ -wd {context.run_dir}" in lines
    assert not any("'" in line or '"' in line for line in lines)


def test_path_with_spaces_and_quotes_goes_on_the_command_line(tmp_path: Path) -> None:
    run = "run dir 'with' \"quotes\""
    sub, context = render(REPLICAS, tmp_path, run)
    unit = sub.units[0]
    assert unit.argv[unit.argv.index("-wd") + 1] == str(context.run_dir)
    assert unit.argv[unit.argv.index("-o") + 1] == f"{context.run_dir}/logs/many.job.$TASK_ID.out"
    lines = directives(sub.files["many.sh"].content)
    assert "#$ -t 1-100" in lines
    assert not any("'" in line or '"' in line or "run dir" in line for line in lines)


GROUP = """
version: 1
tasks:
  - group: g
groups:
  - name: g
    tasks:
      - name: a
        replicas: 3
        command: ["true"]
"""


def test_group_is_one_job_with_its_cores(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("JOBSPEC_SGE_CORES_PER_NODE", "8")
    sub, _ = render(GROUP, tmp_path)
    (unit,) = sub.units
    assert unit.kind == "allocation" and unit.instances == 3
    assert "#$ -pe smp 3" in directives(sub.files[unit.script].content)
    assert "#$ -t" not in sub.files[unit.script].content
    # on a host of 2 cores the same group can never run: refused, never pending forever
    monkeypatch.setenv("JOBSPEC_SGE_CORES_PER_NODE", "2")
    with pytest.raises(InvalidJobspec, match="can never run"):
        render(GROUP, tmp_path)


HUGE = """
version: 1
tasks:
  - name: huge
    resources: {type: slot, count: 1, with: [{type: core, count: 100000}]}
    command: ["true"]
"""


def test_request_no_host_can_run_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("JOBSPEC_SGE_CORES_PER_NODE", "8")
    with pytest.raises(InvalidJobspec, match="Grid Engine's largest node"):
        render(HUGE, tmp_path)


def test_pe_name_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("JOBSPEC_SGE_PE", "threads")
    monkeypatch.setenv("JOBSPEC_SGE_CORES_PER_NODE", "8")
    from jobspec_sge.scheduler import GridEngine

    monkeypatch.setattr(SgeTransformer, "scheduler", GridEngine())
    sub, _ = render(REPLICAS, tmp_path)
    assert "#$ -pe threads 2" in directives(sub.files[sub.units[1].script].content)


def test_passthrough_queue_and_resource(tmp_path: Path) -> None:
    sub, _ = render(
        """
version: 1
tasks:
  - name: t
    attributes:
      sge.q: all.q
      sge.arch: lx-amd64
    command: ["true"]
""",
        tmp_path,
    )
    lines = directives(sub.files[sub.units[0].script].content)
    assert "#$ -q all.q" in lines and "#$ -l arch=lx-amd64" in lines


def test_unknown_host_size_leaves_the_refusal_to_qsub(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("JOBSPEC_SGE_CORES_PER_NODE", raising=False)
    sub, _ = render(HUGE, tmp_path)
    assert "#$ -pe smp 100000" in directives(sub.files[sub.units[0].script].content)
    assert sub.units[0].argv[:4] == ["qsub", "-terse", "-w", "e"]
