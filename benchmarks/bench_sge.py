#!/usr/bin/env python3
"""Grid Engine backend: submit time of ``replicas: 100`` against a raw ``qsub -t 1-100``.

Both are measured on the same local Grid Engine, alternating, several rounds each; the
medians are printed with their ratio (goal: <= 1.3x). The jobspec side is what
``jobspec run -t sge`` spends getting the task to Grid Engine: render the plan, write the
scripts into the run directory, ``submit`` (exactly one ``qsub -terse -w e -S /bin/sh``). The raw side
is one ``qsub -terse -t 1-100`` of an equivalent script written beforehand. Jobs are
deleted between rounds so the queue does not grow.

Starts its own cluster (``jobspec_sge.testing.cluster``) in a temporary directory and stops
it at the end. Where Grid Engine cannot be started (not installed, not root) it prints why
and exits 0 (a skip, not a failure).

    python3 benchmarks/bench_sge.py [--rounds N]
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = """
version: 1
name: bench
tasks:
  - name: many
    replicas: 100
    command: ["true"]
"""

RAW_SCRIPT = """#!/bin/bash
#$ -N raw
#$ -o {out}/raw.$TASK_ID.out
#$ -j y
#$ -wd {out}
true
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21, help="rounds of each (default 21)")
    args = parser.parse_args(argv)

    from jobspec_sge.testing.cluster import ClusterError, LocalSGECluster, is_available

    ok, reason = is_available()
    if not ok:
        print(f"bench_sge: skipped: no local Grid Engine can be started here: {reason}")
        return 0

    from jobspec_core.transformer import RunContext
    from jobspec_sge.transformer import SgeTransformer

    from jobspec_core import api

    base = Path(tempfile.mkdtemp(prefix="bench-sge-"))
    cluster = LocalSGECluster(base / "cluster")
    try:
        cluster.start()
    except ClusterError as exc:
        print(f"bench_sge: skipped: the local Grid Engine did not start: {exc}")
        cluster.stop()
        return 0
    os.environ.update(cluster.env)
    os.environ["JOBSPEC_SGE_CORES_PER_NODE"] = str(cluster.slots)
    # both sides run the qsub on PATH (Debian's /usr/bin/qsub wrapper), as a user would
    qsub = shutil.which("qsub") or "qsub"
    raw_dir = base / "raw"
    raw_dir.mkdir()
    raw_script = raw_dir / "raw.sh"
    raw_script.write_text(RAW_SCRIPT.format(out=raw_dir))
    plan = api.plan(api.load_text(SPEC, "bench.yaml"))
    transformer = SgeTransformer()
    work = base / "work"
    work.mkdir()

    def delete_all() -> None:
        cluster.run(["qdel", "-f", "-u", "*"], timeout=60)

    def jobspec_once(n: int) -> float:
        gc.collect()
        context = RunContext(f"bench-{n}", base / f"run-{n}", work)
        t0 = time.perf_counter()
        submission = transformer.render(plan, context)
        submission.write(context.run_dir)
        handles = transformer.submit(plan, submission, context)
        elapsed = time.perf_counter() - t0
        assert len(handles) == 100 and len({h.data["job"] for h in handles}) == 1
        return elapsed

    def raw_once() -> float:
        gc.collect()
        t0 = time.perf_counter()
        r = subprocess.run(
            [qsub, "-terse", "-t", "1-100", str(raw_script)],
            capture_output=True,
            text=True,
            check=False,
            cwd=raw_dir,
        )
        elapsed = time.perf_counter() - t0
        assert r.returncode == 0, r.stderr
        return elapsed

    try:
        jobspec_once(-1)  # warm caches (imports, templates, page cache) on both sides
        raw_once()
        delete_all()
        ours, raw = [], []
        for n in range(args.rounds):
            # alternate which goes first, so neither always meets a freshly idle qmaster
            if n % 2:
                raw.append(raw_once())
                delete_all()
                ours.append(jobspec_once(n))
            else:
                ours.append(jobspec_once(n))
                delete_all()
                raw.append(raw_once())
            delete_all()
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)

    ours_median = statistics.median(ours)
    raw_median = statistics.median(raw)
    ratio = ours_median / raw_median
    # each round pairs one jobspec and one raw submission made a moment apart: the median
    # of those ratios is less sensitive to other load on the machine drifting over the run
    paired = statistics.median(o / r for o, r in zip(ours, raw, strict=True))
    print(f"sge submit of replicas: 100 ({args.rounds} rounds, medians)")
    print(f"  jobspec (render + write + one qsub):   {ours_median * 1000:8.1f} ms")
    print(f"  raw qsub -t 1-100:                     {raw_median * 1000:8.1f} ms")
    print(f"  (fastest: jobspec {min(ours) * 1000:.1f} ms, raw {min(raw) * 1000:.1f} ms)")
    print(
        f"  ratio jobspec / raw (medians):         {ratio:8.2f}x  (goal <= 1.3x: "
        f"{'met' if ratio <= 1.3 else 'NOT met'})"
    )
    print(f"  ratio jobspec / raw (paired rounds):   {paired:8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
