#!/usr/bin/env python3
"""Grid Engine backend: submit time of ``replicas: 100`` against a raw ``qsub -t 1-100``.

Both are measured on the same local Grid Engine, alternating, several rounds each; the
medians are printed with their ratio (goal: <= 1.3x). The jobspec side is what
``jobspec run -t sge`` spends getting the task to Grid Engine: render the plan, write the
scripts into the run directory, ``submit`` (exactly one ``qsub -terse -w e -S /bin/sh``). The
raw side is one ``qsub -terse -t 1-100`` of an equivalent script written beforehand. Jobs are
deleted between rounds so the queue does not grow (``_common.py`` holds what the submit
benchmarks share).

Starts its own cluster (``jobspec_sge.testing.cluster``) in a temporary directory and stops
it at the end. Where Grid Engine cannot be started (not installed, not root) it prints why
and exits 0 (a skip, not a failure).

    python3 benchmarks/bench_sge.py [--rounds N]
"""

from __future__ import annotations

import os
import shutil
import sys

from _common import alternate, batch_submit, command, parse_rounds, private_cluster, report

RAW_SCRIPT = """#!/bin/bash
#$ -N raw
#$ -o {out}/raw.$TASK_ID.out
#$ -j y
#$ -wd {out}
true
"""


def main(argv: list[str] | None = None) -> int:
    rounds = parse_rounds(__doc__, 21, argv)
    with private_cluster(
        "bench_sge", "local Grid Engine", "jobspec_sge.testing.cluster", "LocalSGECluster"
    ) as (cluster, base):
        if cluster is None:
            return 0
        from jobspec_sge.transformer import SgeTransformer

        os.environ["JOBSPEC_SGE_CORES_PER_NODE"] = str(cluster.slots)
        raw_dir = base / "raw"
        raw_dir.mkdir()
        raw_script = raw_dir / "raw.sh"
        raw_script.write_text(RAW_SCRIPT.format(out=raw_dir))
        # both sides run the qsub on PATH (Debian's /usr/bin/qsub wrapper), as a user would
        qsub = shutil.which("qsub") or "qsub"
        times = alternate(
            rounds,
            {
                "jobspec": batch_submit(SgeTransformer(), base),
                "raw": command([qsub, "-terse", "-t", "1-100", str(raw_script)], cwd=raw_dir),
            },
            lambda: cluster.run(["qdel", "-f", "-u", "*"], timeout=60),
        )
    labels = {"jobspec": "jobspec (render + write + one qsub)", "raw": "raw qsub -t 1-100"}
    report("sge submit of replicas: 100", times, labels, baseline="raw")
    return 0


if __name__ == "__main__":
    sys.exit(main())
