"""Rendering rules of the Flux backend, checked with no Flux and no flux-python."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from flux_helpers import NASTY, plan_of
from jobspec_core.alternatives import Capacity
from jobspec_flux.jobs import option_value_text, resource_request
from jobspec_flux.render import render_plan
from jobspec_flux.transformer import FluxTransformer

BASIC = """
version: 1
tasks:
  - name: build
    command: ["make", "-j", "4"]
    attributes:
      duration: 5m
      cwd: src
      environment:
        A: "x y"
  - name: sim
    command: "echo $JOBSPEC_TASK_INDEX"
    replicas: 100
    depends_on: [build]
"""

GROUPS = """
version: 1
tasks:
  - name: first
    command: ["true"]
  - group: outer
    depends_on: [first]
groups:
  - name: outer
    resources:
      type: node
      count: 2
      with: [{type: slot, count: 2, with: [{type: core, count: 2}]}]
    tasks:
      - name: start
        local: true
        command: echo start
      - name: train
        command: ["train"]
      - name: test
        command: ["test"]
        replicas: 3
        depends_on: [train]
      - group: inner
      - name: stop
        local: true
        command: echo stop
  - name: inner
    tasks:
      - name: deep
        command: ["deep"]
"""


def test_each_top_level_task_is_one_flux_submit(context):
    sub = FluxTransformer().render(plan_of(BASIC), context)
    assert [u.node_id for u in sub.units] == ["build", "sim"]
    assert [u.argv[:2] for u in sub.units] == [["flux", "submit"], ["flux", "submit"]]
    assert [u.kind for u in sub.units] == ["job", "array"]


def test_replicas_100_are_one_cc_submission(context):
    sub = FluxTransformer().render(plan_of(BASIC), context)
    (sim,) = [u for u in sub.units if u.node_id == "sim"]
    assert "--cc=0-99" in sim.argv and sim.instances == 100
    assert sum("--cc" in " ".join(u.argv) for u in sub.units) == 1


def test_duration_has_an_explicit_unit(context):
    argv = FluxTransformer().render(plan_of(BASIC), context).units[0].argv
    assert argv[argv.index("-t") + 1] == "300s"


def test_depends_on_is_afterok_on_a_placeholder(context):
    sim = FluxTransformer().render(plan_of(BASIC), context).units[1]
    assert "--dependency=afterok:{id:build}" in sim.argv
    assert sim.depends_on == ["build"]


def test_cwd_and_log_files(context):
    sub = FluxTransformer().render(plan_of(BASIC), context)
    build, sim = sub.units
    assert f"--cwd={context.workdir}/src" in build.argv
    assert f"--output={context.run_dir}/logs/build.0.log" in build.argv
    assert f"--output={context.run_dir}/logs/sim.{{cc}}.log" in sim.argv


def test_environment_is_in_the_launcher_not_on_the_command_line(context):
    sub = FluxTransformer().render(plan_of(BASIC), context)
    assert not any(a.startswith("--env") for u in sub.units for a in u.argv)
    launcher = sub.files["tasks/build.sh"].content
    assert "export A='x y'" in launcher
    assert "exec make -j 4" in launcher


def test_group_is_one_flux_batch_of_waitable_submits(context):
    sub = FluxTransformer().render(plan_of(GROUPS), context)
    assert [(u.node_id, u.argv[1], u.kind) for u in sub.units] == [
        ("first", "submit", "job"),
        ("outer", "batch", "allocation"),
    ]
    outer = sub.units[1]
    assert outer.instances == 1 + 1 + 3 + 1 + 1
    assert "--nslots=4" in outer.argv and "--cores-per-slot=2" in outer.argv
    assert "-N" in outer.argv and outer.argv[outer.argv.index("-N") + 1] == "2"
    script = sub.files["groups/outer.sh"].content
    assert script.count("=$(flux submit --flags=waitable") == 2  # train, test
    assert script.count("=$(flux batch --flags=waitable") == 1  # the nested group
    assert "--cc=0-2" in script and "$(deps $J_1)" in script
    assert script.rstrip().endswith('exit "$rc"') and "flux job wait --all" in script
    assert "groups/outer+inner.sh" in sub.files


def test_local_entries_are_script_lines_in_document_order(context):
    script = FluxTransformer().render(plan_of(GROUPS), context).files["groups/outer.sh"].content
    start = script.index("tasks/outer+start.sh")
    train = script.index("--job-name=outer/train")
    stop = script.index("tasks/outer+stop.sh")
    assert start < train < stop
    # the closing local entry waits for every entry above it
    assert train < script.index("flux job status $J_1 $J_2 $J_3 ") < stop


def test_rendered_scripts_are_valid_sh(context):
    sub = FluxTransformer().render(plan_of(GROUPS), context)
    for name, rendered in sub.files.items():
        if name.endswith(".sh"):
            proc = subprocess.run(
                ["sh", "-n"], input=rendered.content, text=True, capture_output=True, check=False
            )
            assert proc.returncode == 0, (name, proc.stderr)


def test_launcher_delivers_environment_byte_for_byte(context, tmp_path):
    import yaml

    doc = {
        "version": 1,
        "tasks": [
            {
                "name": "show",
                "replicas": 2,
                "command": ["python3", "-c", "import os,json; print(json.dumps(dict(os.environ)))"],
                "attributes": {"environment": NASTY},
            }
        ],
    }
    plan = plan_of(yaml.safe_dump(doc, allow_unicode=True))
    sub = FluxTransformer().render(plan, context)
    sub.write(context.run_dir)
    env = {"PATH": os.environ["PATH"], "FLUX_JOB_CC": "1"}
    proc = subprocess.run(
        ["/bin/sh", str(context.run_dir / "tasks/show.sh")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    import json

    seen = json.loads(proc.stdout)
    for key, value in NASTY.items():
        assert seen[key] == value
    assert seen["JOBSPEC_TASK_INDEX"] == "1"
    assert seen["JOBSPEC_TASK_COUNT"] == "2"
    assert seen["JOBSPEC_TASK_NAME"] == "show"
    assert seen["JOBSPEC_RUN_ID"] == context.run_id


def test_passthrough_mapping(context):
    plan = plan_of(
        """
        version: 1
        tasks:
          - name: t
            command: ["true"]
            attributes:
              flux.queue: batch
              flux.urgency: 20
              flux.setattr.user.tag: "7"
              flux.setopt.cpu-affinity: "off"
              flux.foo: bar
              slurm.partition: debug
        """
    )
    sub = FluxTransformer().render(plan, context)
    argv = sub.units[0].argv
    assert "--queue=batch" in argv and "--urgency=20" in argv
    assert '--setattr=user.tag="7"' in argv  # stays a string: flux parses JSON values
    assert "--setopt=cpu-affinity=off" in argv
    assert "--setattr=foo=bar" in argv
    assert not any("partition" in a for a in argv)
    assert any("flux.foo" in note for note in sub.notes)


def test_option_values_keep_their_type():
    assert option_value_text("x") == "x"
    assert option_value_text("1") == '"1"'
    assert option_value_text(1) == "1"
    assert option_value_text(True) == "true"


def test_stage_and_write_steps(context):
    plan = plan_of(
        """
        version: 1
        tasks:
          - name: t
            command: ["cat", "data/in.txt", "conf.ini"]
            steps:
              - name: stage
                path: data/in.txt
              - name: write
                path: conf.ini
                content: "[x]\\n"
        """
    )
    result = render_plan(plan, context)
    sub = result.submission
    archive = result.stages["t"][0]
    assert (archive.directory, archive.base) == (f"{context.workdir}/data", "in.txt")
    argv = sub.units[0].argv
    assert argv[argv.index("-o") + 1] == f"stage-in.names={archive.name}"
    assert "flux archive create --overwrite" in sub.files["submit.sh"].content
    # the write itself is the runner's (jobspec_core.workdirs); submit.sh names it
    assert f"# jobspec writes {context.workdir}/conf.ini" in sub.files["submit.sh"].content
    assert not any(name.startswith("writes/") for name in sub.files)


def test_alternatives_choose_the_first_that_fits_the_capacity(context):
    plan = plan_of(
        """
        version: 1
        resources:
          huge: {type: slot, count: 1, with: [{type: core, count: 4096}]}
          small: {type: slot, count: 1, with: [{type: core, count: 1}]}
        tasks:
          - {name: t, resources: "huge|small", command: ["true"]}
        """
    )
    node = plan.node("t")
    notes: list[str] = []
    assert resource_request(node, notes, Capacity(cores_per_node=8, nodes=4))["cores_per_slot"] == 1
    assert resource_request(node, notes, None)["cores_per_slot"] == 4096
    assert any("unknown here: the first is rendered" in n for n in notes)


def test_inner_duration_not_longer_than_the_group(context):
    plan = plan_of(
        """
        version: 1
        tasks:
          - group: g
        groups:
          - name: g
            attributes: {duration: 10}
            tasks:
              - name: same
                command: ["true"]
              - name: shorter
                command: ["true"]
                attributes: {duration: 3}
        """
    )
    sub = FluxTransformer().render(plan, context)
    script = sub.files["groups/g.sh"].content
    same = next(line for line in script.splitlines() if "--job-name=g/same" in line)
    shorter = next(line for line in script.splitlines() if "--job-name=g/shorter" in line)
    assert " -t " not in same and " -t 3s " in shorter
    assert sub.units[0].argv[sub.units[0].argv.index("-t") + 1] == "10s"


def test_braces_in_the_run_directory_are_refused(tmp_path):
    from jobspec_core.errors import InvalidJobspec
    from jobspec_core.transformer import RunContext

    context = RunContext("r", tmp_path / "run{cc}", tmp_path)
    with pytest.raises(InvalidJobspec, match="braces"):
        FluxTransformer().render(plan_of(BASIC), context)


def test_render_is_deterministic(context):
    plan = plan_of(GROUPS)
    assert FluxTransformer().render(plan, context).to_dict() == (
        FluxTransformer().render(plan, context).to_dict()
    )


def test_transform_cli_works_without_flux(tmp_path):
    """`jobspec transform -t flux` with no flux on PATH and flux-python unimportable."""
    jobspec = shutil.which("jobspec")
    assert jobspec is not None
    spec = tmp_path / "job.yaml"
    spec.write_text(BASIC)
    blocker = tmp_path / "block"
    (blocker / "flux").mkdir(parents=True)
    (blocker / "flux" / "__init__.py").write_text("raise ImportError('flux-python blocked')\n")
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "PYTHONPATH": str(blocker),
        "HOME": str(tmp_path),
    }
    assert shutil.which("flux", path=env["PATH"]) is None
    proc = subprocess.run(
        [sys.executable, jobspec, "transform", "-t", "flux", str(spec)],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--cc=0-99" in proc.stdout and "flux submit" in proc.stdout
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, jobspec, "transform", "-t", "flux", str(spec), "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "submit.sh").exists() and (out / "tasks" / "sim.sh").exists()


def test_braced_cwd_of_replicas_is_left_to_the_launcher(context):
    plan = plan_of(
        """
        version: 1
        tasks:
          - name: t
            replicas: 2
            command: ["pwd"]
            attributes: {cwd: "dir{x}"}
        """
    )
    sub = FluxTransformer().render(plan, context)
    assert not any(a.startswith("--cwd") for a in sub.units[0].argv)
    assert f"cd '{context.workdir}/dir{{x}}'" in sub.files["tasks/t.sh"].content


def test_braced_passthrough_value_of_replicas_is_refused(context):
    from jobspec_core.errors import InvalidJobspec

    plan = plan_of(
        """
        version: 1
        tasks:
          - name: t
            replicas: 2
            command: ["true"]
            attributes: {flux.setattr.user.x: "{y}"}
        """
    )
    with pytest.raises(InvalidJobspec, match="--cc"):
        FluxTransformer().render(plan, context)


def test_drift_write_with_relative_cwd_targets_the_working_directory(context):
    """Drift 1: a write step of a task with a relative cwd lands in the task's working
    directory (not the submit directory) on Flux as on every backend."""
    plan = plan_of(
        """
        version: 1
        tasks:
          - name: t
            command: ["cat", "conf.ini"]
            attributes: {cwd: sub}
            steps: [{name: write, path: conf.ini, content: "x"}]
        """
    )
    script = render_plan(plan, context).submission.files["submit.sh"].content
    assert f"{context.workdir}/sub/conf.ini" in script
    assert f"{context.workdir}/conf.ini" not in script


def test_drift_tilde_cwd_is_the_submitting_users_home(tmp_path):
    """Drift 2: ``cwd: ~/x`` is RunContext.home/x, the same directory on every backend."""
    from jobspec_core.transformer import RunContext

    context = RunContext("R", tmp_path / "run", tmp_path / "work", home=tmp_path / "home")
    plan = plan_of(
        'version: 1\ntasks:\n  - {name: t, command: ["true"], attributes: {cwd: "~/x"}}\n'
    )
    result = render_plan(plan, context)
    assert result.requests["t"].cwd == f"{tmp_path}/home/x"
    assert f"cd {tmp_path}/home/x" in result.submission.files["tasks/t.sh"].content


def test_drift_submit_reads_back_what_render_produced(context):
    """Drift 5: the submission carries its requests (Submission.data) through a JSON round
    trip, so submit submits what render produced instead of rendering again."""
    import json

    from jobspec_core.transformer import Submission
    from jobspec_flux.render import RenderResult

    plan = plan_of(BASIC)
    result = render_plan(plan, context)
    sub = Submission.from_dict(json.loads(json.dumps(result.submission.to_dict())))
    back = RenderResult.from_submission(sub)
    assert back.order == result.order == ["build", "sim"]
    assert back.requests == result.requests
    assert back.stages == result.stages
    with pytest.raises(ValueError, match="not a Flux submission"):
        RenderResult.from_submission(Submission("slurm"))


def test_drift_write_through_a_planted_symlink_is_refused_before_submission(tmp_path):
    """Drift 3: a symlink planted in the staging directory is never followed on Flux either:
    the runner's write (jobspec_core.workdirs) refuses the run before anything is
    submitted (no Flux is needed to see it)."""
    from jobspec_core.errors import StepError
    from jobspec_core.plugins import Registry
    from jobspec_core.runner import Runner
    from jobspec_core.store import RunStore

    from jobspec_core import builtin_steps
    from jobspec_flux import plugin

    registry = Registry.from_modules([("core_steps", builtin_steps), ("flux", plugin)])
    runner = Runner(RunStore(tmp_path / "runs.sqlite"), registry)
    outside = tmp_path / "outside"
    outside.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    (work / "conf").symlink_to(outside)
    plan = plan_of(
        """
        version: 1
        tasks:
          - name: t
            command: ["true"]
            steps: [{name: write, path: conf/evil, content: "x"}]
        """
    )
    with pytest.raises(StepError, match="symbolic link"):
        runner.submit(plan, "flux", workdir=work)
    assert list(outside.iterdir()) == []
    (run,) = runner.list_runs()
    assert run.state == "failed"
