#!/usr/bin/env python3
"""Slurm backend: submit time of ``replicas: 100`` against a raw ``sbatch --array=0-99``.

Both are measured on the same local Slurm cluster, alternating, several rounds each; the
medians are printed with their ratio (goal: <= 1.3x). The jobspec side is what
``jobspec run -t slurm`` spends getting the task to Slurm: render the plan, write the
scripts into the run directory, ``submit`` (exactly one ``sbatch --parsable``). The raw side
is one ``sbatch --parsable --array=0-99`` of an equivalent script written beforehand.
Jobs are cancelled between rounds so the queue does not grow (``_common.py`` holds what the
submit benchmarks share).

Starts its own cluster (``jobspec_slurm.testing.cluster``) in a temporary directory and
stops it at the end. Where Slurm cannot be started (not installed, not root) it prints why
and exits 0 (a skip, not a failure).

    python3 benchmarks/bench_slurm.py [--rounds N]
"""

from __future__ import annotations

import shutil
import sys

from _common import alternate, batch_submit, command, parse_rounds, private_cluster, report

RAW_SCRIPT = """#!/bin/bash
#SBATCH --job-name=raw
#SBATCH --output={out}/raw-%a.out
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
true
"""


def main(argv: list[str] | None = None) -> int:
    rounds = parse_rounds(__doc__, 31, argv)
    with private_cluster(
        "bench_slurm", "local Slurm cluster", "jobspec_slurm.testing.cluster", "LocalSlurmCluster"
    ) as (cluster, base):
        if cluster is None:
            return 0
        from jobspec_slurm import SlurmTransformer

        raw_dir = base / "raw"
        raw_dir.mkdir()
        raw_script = raw_dir / "raw.sh"
        raw_script.write_text(RAW_SCRIPT.format(out=raw_dir))
        sbatch = shutil.which("sbatch") or "sbatch"

        def cancel_all() -> None:
            r = cluster.run(["squeue", "-h", "-o", "%A"])
            ids = sorted(set(r.stdout.split()))
            if ids:
                cluster.run(["scancel", *ids])

        times = alternate(
            rounds,
            {
                "jobspec": batch_submit(SlurmTransformer(), base),
                "raw": command([sbatch, "--parsable", "--array=0-99", str(raw_script)]),
            },
            cancel_all,
        )
    labels = {"jobspec": "jobspec (render + write + one sbatch)", "raw": "raw sbatch --array=0-99"}
    report("slurm submit of replicas: 100", times, labels, baseline="raw")
    return 0


if __name__ == "__main__":
    sys.exit(main())
