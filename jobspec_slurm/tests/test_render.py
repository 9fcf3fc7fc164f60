"""Rendering plans into sbatch scripts: no Slurm needed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from jobspec_core.errors import InvalidJobspec
from jobspec_core.transformer import RunContext
from jobspec_slurm.group import flatten
from slurm_helpers import plan_of

from jobspec_slurm import SlurmTransformer


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext("R1", tmp_path / "run", tmp_path / "work")


def render(doc, ctx):
    return SlurmTransformer().render(plan_of(doc), ctx)


def sbatch_lines(text: str) -> list[str]:
    return [line[len("#SBATCH ") :] for line in text.splitlines() if line.startswith("#SBATCH ")]


def test_task_directives_resources_time_and_note(ctx):
    sub = render(
        """
        version: 1
        tasks:
        - name: sim
          command: [./sim]
          resources:
            type: node
            count: 2
            with:
            - type: slot
              count: 3
              with:
              - {type: core, count: 4}
              - {type: gpu, count: 1}
              - {type: memory, count: 1000}
          attributes:
            duration: 90s
        """,
        ctx,
    )
    lines = sbatch_lines(sub.files["slurm/sim.sh"].content)
    assert "--time=2" in lines  # 90 s rounded up to whole minutes
    for option in (
        "--nodes=2",
        "--ntasks=6",
        "--cpus-per-task=4",
        "--gpus-per-task=1",
        "--mem-per-cpu=250M",
        "--job-name=sim",
    ):
        assert option in lines
    assert any("duration 90s" in note and "--time=2" in note for note in sub.notes)
    # more than one slot: one process per slot through srun
    assert '_js_exec "$_js_key" 90 srun -- ./sim' in sub.files["slurm/sim.sh"].content


def test_whole_minutes_have_no_note(ctx):
    sub = render("version: 1\ntasks:\n- {name: t, command: [x], attributes: {duration: 2m}}", ctx)
    assert "--time=2" in sbatch_lines(sub.files["slurm/t.sh"].content)
    assert not any("duration" in n for n in sub.notes)


def test_replicas_are_one_array_with_index_from_slurm(ctx):
    sub = render("version: 1\ntasks:\n- {name: many, replicas: 100, command: [x]}", ctx)
    assert len(sub.units) == 1
    unit = sub.units[0]
    assert unit.kind == "array" and unit.instances == 100
    text = sub.files["slurm/many.sh"].content
    assert "--array=0-99" in sbatch_lines(text)
    assert "export JOBSPEC_TASK_INDEX=${SLURM_ARRAY_TASK_ID}" in text
    assert "export JOBSPEC_TASK_COUNT=100" in text
    assert f"--output={ctx.run_dir}/logs/many-%a.out" in sbatch_lines(text)


def test_depends_on_is_afterok_placeholder_and_order_is_topological(ctx):
    sub = render(
        """
        version: 1
        tasks:
        - {name: c, depends_on: [b], command: [x]}
        - {name: b, depends_on: [a], command: [x]}
        - {name: a, command: [x]}
        """,
        ctx,
    )
    assert [u.node_id for u in sub.units] == ["a", "b", "c"]
    c = sub.units[2]
    assert "--dependency=afterok:{id:b}" in c.argv
    assert "--kill-on-invalid-dep=yes" in c.argv
    assert c.argv[:2] == ["sbatch", "--parsable"]
    assert "--dependency" not in " ".join(sub.units[0].argv)


def test_passthrough_becomes_quoted_sbatch_options(ctx):
    sub = render(
        {
            "version": 1,
            "tasks": [
                {
                    "name": "t",
                    "command": ["x"],
                    "attributes": {
                        "slurm.partition": "debug",
                        "slurm.comment": "it's $x",
                        "slurm.exclusive": True,
                        "slurm.requeue": False,
                        "flux.queue": "batch",
                    },
                }
            ],
        },
        ctx,
    )
    lines = sbatch_lines(sub.files["slurm/t.sh"].content)
    assert "--partition=debug" in lines
    assert "--comment='it'\"'\"'s $x'" in lines
    assert "--exclusive" in lines
    assert not any("requeue" in line or "queue=batch" in line for line in lines)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("Partition", "x", "not an sbatch option name"),
        ("part ition", "x", "not an sbatch option name"),
        ("array", "0-3", "use replicas instead"),
        ("output", "/x", "set by jobspec"),
        ("comment", "two\nlines", "must be one line"),
    ],
)
def test_bad_passthrough_is_refused_with_its_path(ctx, key, value, message):
    doc = {
        "version": 1,
        "tasks": [{"name": "t", "command": ["x"], "attributes": {f"slurm.{key}": value}}],
    }
    with pytest.raises(InvalidJobspec) as info:
        render(doc, ctx)
    text = str(info.value)
    assert message in text and f"attributes.slurm.{key}" in text


def test_environment_survives_bash_byte_for_byte(ctx, tmp_path):
    values = {
        "A": "two words",
        "B": 'it\'s "quoted"',
        "C": "line1\nline2\n\nend",
        "D": "$(touch pwned) `id` $HOME ${X}",
        "E": "\t\r\x0c\u2028 é 漢字",
        "F": "",
    }
    sub = render(
        {
            "version": 1,
            "tasks": [{"name": "t", "command": ["x"], "attributes": {"environment": values}}],
        },
        ctx,
    )
    text = sub.files["slurm/t.sh"].content
    block = text[text.index("export A=") : text.index("export JOBSPEC_RUN_ID")]
    # the export block as rendered, then print each value NUL-separated
    script = block + '\nprintf "%s\\0" "$A" "$B" "$C" "$D" "$E" "$F"\n'
    out = subprocess.run(["bash", "-c", script], capture_output=True, cwd=tmp_path, check=True)
    assert out.stdout.decode().split("\0")[:-1] == list(values.values())
    assert not (tmp_path / "pwned").exists()


def test_group_is_one_allocation_with_srun_steps(ctx):
    sub = render(
        """
        version: 1
        groups:
        - name: g
          resources: {type: core, count: 4}
          tasks:
          - {local: true, command: [start]}
          - {name: a, replicas: 2, command: [work]}
          - {name: b, depends_on: [a], command: [after]}
          - {local: true, command: [stop]}
        """,
        ctx,
    )
    assert len(sub.units) == 1 and sub.units[0].kind == "allocation"
    assert sub.units[0].instances == 5
    text = sub.files["slurm/g.sh"].content
    assert "--ntasks=1" in sbatch_lines(text) and "--cpus-per-task=4" in sbatch_lines(text)
    steps = [line for line in text.split("\n") if line.startswith("    _js_exec")]
    assert sum("srun --exact" in line for line in steps) == 3  # a[0], a[1], b
    assert len(steps) == 5  # and the two local entries, as plain lines
    assert "_js_exec g.task-0.0 0 start >" in text


def test_flatten_keeps_dependencies_and_local_order(ctx):
    plan = plan_of(
        """
        version: 1
        groups:
        - name: outer
          tasks:
          - {name: up, local: true, command: [x]}
          - {name: a, replicas: 2, command: [x]}
          - group: inner
          - {name: c, depends_on: [inner], command: [x]}
          - {name: down, local: true, command: [x]}
        - name: inner
          depends_on: [a]
          tasks:
          - {name: i1, command: [x]}
          - {name: i2, depends_on: [i1], command: [x]}
        """
    )
    outer = plan.children[0]
    instances = flatten(outer, ctx)
    ids = [(i.task.id, i.index) for i in instances]
    assert ids == [
        ("outer/up", 0),
        ("outer/a", 0),
        ("outer/a", 1),
        ("outer/inner/i1", 0),
        ("outer/inner/i2", 0),
        ("outer/c", 0),
        ("outer/down", 0),
    ]
    pos = {k: n for n, k in enumerate(ids)}
    assert instances[pos[("outer/a", 0)]].after_ok == {0}
    assert instances[pos[("outer/inner/i1", 0)]].after_ok == {0, 1, 2}
    assert instances[pos[("outer/inner/i2", 0)]].after_ok == {0, 1, 2, 3}
    assert instances[pos[("outer/c", 0)]].after_ok == {0, 3, 4}
    down = instances[pos[("outer/down", 0)]]
    assert down.after_any == {0, 1, 2, 3, 4, 5}  # runs even when something failed


def test_render_is_pure_and_stable(ctx):
    doc = "version: 1\ntasks:\n- {name: t, replicas: 3, command: [echo, hi]}"
    first, second = render(doc, ctx), render(doc, ctx)
    assert first.to_dict() == second.to_dict()
    assert not ctx.run_dir.exists()  # nothing written, nothing run


def test_names_are_sanitized_and_unique(ctx):
    # group g's task a and a top-level task "g.a" would both be "g.a" in file names
    sub = render(
        """
        version: 1
        tasks:
        - {name: g.a, command: [x]}
        groups:
        - name: g
          tasks:
          - {name: a, command: [x]}
        """,
        ctx,
    )
    assert sorted(sub.files) == ["slurm/g.a.sh", "slurm/g.sh", "slurm/jobspec-lib.sh"]
    group_script = sub.files["slurm/g.sh"].content
    assert "_js_keys=(g.a-2.0)" in group_script


def test_drift_tilde_cwd_is_the_submitting_users_home(tmp_path):
    """Drift 2: ``cwd: ~/x`` is RunContext.home/x (the submitting user's home), the same
    directory on every backend; a relative cwd joins the submit directory."""
    ctx = RunContext("R1", tmp_path / "run", tmp_path / "work", home=tmp_path / "home")
    sub = render(
        """
        version: 1
        tasks:
        - {name: a, command: [x], attributes: {cwd: "~/x"}}
        - {name: b, command: [x], attributes: {cwd: "rel"}}
        """,
        ctx,
    )
    assert f"cd -- {tmp_path}/home/x ||" in sub.files["slurm/a.sh"].content
    assert f"cd -- {tmp_path}/work/rel ||" in sub.files["slurm/b.sh"].content


def test_write_notes_name_the_working_directory(ctx):
    sub = render(
        """
        version: 1
        tasks:
        - name: a
          command: [x]
          attributes: {cwd: sub}
          steps: [{name: write, path: f.txt, content: "abc"}]
        """,
        ctx,
    )
    assert f"a: write {ctx.workdir}/sub/f.txt (3 bytes) before submission" in sub.notes


def test_alternatives_are_chosen_from_the_capacity_when_rendering(tmp_path):
    """With a known capacity (what sinfo said before rendering) render chooses, so what
    is rendered is what is submitted; a group without resources asks for the sum of what
    its tasks use."""
    from jobspec_core.alternatives import Capacity

    ctx = RunContext("R1", tmp_path / "run", tmp_path / "work", capacity=Capacity(8, nodes=1))
    sub = render(
        """
        version: 1
        resources:
          huge: {type: slot, count: 1, with: [{type: core, count: 64}]}
          small: {type: slot, count: 1, with: [{type: core, count: 2}]}
        groups:
        - name: g
          tasks:
          - {name: a, resources: "huge|small", replicas: 2, command: [x]}
        tasks:
        - {name: t, resources: "huge|small", command: [x]}
        - group: g
        """,
        ctx,
    )
    assert "--cpus-per-task=2" in sbatch_lines(sub.files["slurm/t.sh"].content)
    group = sbatch_lines(sub.files["slurm/g.sh"].content)
    assert "--ntasks=2" in group and "--cpus-per-task=2" in group  # not 64: huge does not fit
    assert any("t: resource alternative small is used" in n for n in sub.notes)
