"""The group batch script's own scheduler (templates/lib.sh), run by bash with a stand-in
``srun`` that just runs the step's command: the dependency logic without Slurm. (The same
scripts run under real Slurm in test_slurm_run.py.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from jobspec_core.transformer import RunContext
from slurm_helpers import plan_of

from jobspec_slurm import SlurmTransformer

FAKE_SRUN = """#!/bin/bash
# stand-in srun: drop options up to "--", then run the command
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
shift
exec "$@"
"""


def run_group(doc: str, tmp_path: Path) -> dict[str, list[str]]:
    ctx = RunContext("G", tmp_path / "run", tmp_path / "work")
    ctx.workdir.mkdir()
    plan = plan_of(doc)
    submission = SlurmTransformer().render(plan, ctx)
    submission.write(ctx.run_dir)
    (ctx.run_dir / "logs").mkdir()
    (ctx.run_dir / "slurm" / "status").mkdir()
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "srun").write_text(FAKE_SRUN)
    (fake / "srun").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env["PATH"] = f"{fake}:{env['PATH']}"
    script = ctx.run_dir / submission.units[0].script
    subprocess.run(["bash", str(script)], env=env, timeout=60, check=False, capture_output=True)
    records = {}
    for path in (ctx.run_dir / "slurm" / "status").iterdir():
        records[path.name] = path.read_text().split()
    return records


def test_independent_steps_are_not_serialized(tmp_path):
    records = run_group(
        """
        version: 1
        groups:
        - name: g
          tasks:
          - {name: a, command: [sleep, "2"]}
          - {name: b, command: ["true"]}
          - {name: c, depends_on: [b], command: ["true"]}
        """,
        tmp_path,
    )
    assert {k: v[0] for k, v in records.items()} == {
        "g.a.0": "completed",
        "g.b.0": "completed",
        "g.c.0": "completed",
    }
    c_end, a_end = float(records["g.c.0"][3]), float(records["g.a.0"][3])
    b_end, c_start = float(records["g.b.0"][3]), float(records["g.c.0"][2])
    assert c_start >= b_end  # after what it depends on
    assert c_end < a_end - 1  # and not behind the unrelated sleeper


def test_failure_makes_dependents_never_run_and_local_stop_still_runs(tmp_path):
    records = run_group(
        """
        version: 1
        groups:
        - name: g
          tasks:
          - {name: start, local: true, command: ["true"]}
          - {name: bad, command: [sh, -c, "exit 3"]}
          - {name: next, depends_on: [bad], command: ["true"]}
          - {name: last, depends_on: [next], command: ["true"]}
          - {name: stop, local: true, command: ["true"]}
        """,
        tmp_path,
    )
    states = {k: v[0] for k, v in records.items()}
    assert states == {
        "g.start.0": "completed",
        "g.bad.0": "failed",
        "g.next.0": "never_run",
        "g.last.0": "never_run",
        "g.stop.0": "completed",
    }
    assert records["g.bad.0"][1] == "3"


def test_step_over_its_duration_is_recorded_as_timeout(tmp_path):
    records = run_group(
        """
        version: 1
        groups:
        - name: g
          tasks:
          - {name: slow, command: [sleep, "30"], attributes: {duration: 1s}}
        """,
        tmp_path,
    )
    state, code, started, finished = records["g.slow.0"]
    assert state == "timeout" and code == "124"
    assert float(finished) - float(started) < 10
