#!/usr/bin/env python3
"""Throughput of the local backend against ``xargs -P$(nproc)``, measured in one run.

Runs N trivial tasks (``true``; default 1,000) three ways and prints tasks per second:

* baseline: ``xargs -P$(nproc) -n 1 true`` over N arguments (N processes of ``true``);
* ``jobspec run`` of a generated jobspec with N independent tasks ``command: ["true"]``;
* ``jobspec run`` of one task ``true`` with ``replicas: N``.

The ``jobspec run`` times are wall-clock for the whole command (start-up, validation,
planning, submission, the supervisor, following the run to the end and recording every
instance in a fresh run store). The goal is a ratio >= 0.5 of the xargs rate.

Usage: python3 benchmarks/bench_local.py [--tasks N] [--repeat R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(argv: list[str], env: dict[str, str] | None = None, stdin: bytes | None = None) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        argv, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{argv[0]} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each; the median counts")
    args = parser.parse_args()
    n, cpus = args.tasks, os.cpu_count() or 1

    with tempfile.TemporaryDirectory(prefix="bench-local-") as tmp:
        tmpdir = Path(tmp)
        many = tmpdir / "many.yaml"
        many.write_text(
            "version: 1\nname: many\ntasks:\n"
            + "".join(f'- name: t{i}\n  command: ["true"]\n' for i in range(n))
        )
        replicas = tmpdir / "replicas.yaml"
        replicas.write_text(
            f'version: 1\nname: replicas\ntasks:\n- name: t\n  replicas: {n}\n  command: ["true"]\n'
        )
        xargs_input = "".join(f"{i}\n" for i in range(n)).encode()
        jobspec = [sys.executable, "-m", "jobspec_core"]
        results: dict[str, list[float]] = {"xargs": [], "tasks": [], "replicas": []}
        for r in range(args.repeat):
            results["xargs"].append(
                timed(["xargs", f"-P{cpus}", "-n", "1", "true"], stdin=xargs_input)
            )
            env = dict(os.environ, JOBSPEC_STORE=str(tmpdir / f"store-{r}.sqlite"))
            results["tasks"].append(timed([*jobspec, "run", str(many)], env=env))
            results["replicas"].append(timed([*jobspec, "run", str(replicas)], env=env))

    base = n / statistics.median(results["xargs"])
    print(f"{n} trivial tasks (true), {cpus} cores, median of {args.repeat} runs")
    print(f"  {f'xargs -P{cpus} -n 1 true':32s}: {base:8.0f} tasks/s")
    for key, label in (
        ("tasks", f"jobspec run ({n} tasks)"),
        ("replicas", f"jobspec run (replicas: {n})"),
    ):
        rate = n / statistics.median(results[key])
        print(f"  {label:32s}: {rate:8.0f} tasks/s   ratio {rate / base:.2f}x (goal >= 0.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
