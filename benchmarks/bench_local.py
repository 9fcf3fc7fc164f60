#!/usr/bin/env python3
"""Throughput of the local backend against ``xargs -P$(nproc)``, measured in one run.

Runs N trivial tasks (``true``; default 1,000) three ways and prints tasks per second:

* baseline: ``xargs -P$(nproc) -n 1 true`` over N arguments (N processes of ``true``);
* ``jobspec run`` of a generated jobspec with N independent tasks ``command: ["true"]``;
* ``jobspec run`` of one task ``true`` with ``replicas: N``.

The ``jobspec run`` times are wall-clock for the whole command (start-up, validation,
planning, submission, the supervisor, following the run to the end and recording every
instance in a fresh run store). The goal is a ratio >= 0.9 of the xargs rate for both
shapes (issue 14; it was 0.5).

With ``--memory N`` (0 to skip; default 10,000) it also reports the supervisor's peak
resident memory (VmHWM, sampled from /proc while the run runs) for ``replicas: N`` of
``true`` against the same for ``replicas: 100`` in the same run: memory bounded by what
runs at once gives a ratio near 1, memory per queued instance gives about N/100.

Usage: python3 benchmarks/bench_local.py [--tasks N] [--repeat R] [--memory N]
"""

from __future__ import annotations

import argparse
import json
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


def _supervisor_peak_kib(spec: Path, env: dict[str, str]) -> int:
    """Run ``spec`` detached and follow its supervisor's VmHWM until the run ends (KiB)."""
    jobspec = [sys.executable, "-m", "jobspec_core"]
    done = subprocess.run(
        [*jobspec, "run", "--detach", "--json", str(spec)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"jobspec run --detach failed: {done.stderr[-2000:]}")
    run_id = json.loads(done.stdout)["run_id"]
    run_dir = Path(env["JOBSPEC_STORE"]).parent / "runs" / run_id
    pid, peak = None, 0
    waiter = subprocess.Popen(
        [*jobspec, "wait", "--quiet", run_id],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while waiter.poll() is None:
        if pid is None and (run_dir / "supervisor.json").exists():
            try:
                pid = json.loads((run_dir / "supervisor.json").read_text())["pid"]
            except (ValueError, KeyError, OSError):
                pid = None
        if pid is not None:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except OSError:
                pass
        time.sleep(0.05)
    if waiter.returncode != 0:
        sys.exit(f"run {run_id} did not complete")
    return peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each; the median counts")
    parser.add_argument(
        "--memory", type=int, default=10_000, metavar="N", help="queued instances (0: skip)"
    )
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
        print(f"  {label:32s}: {rate:8.0f} tasks/s   ratio {rate / base:.2f}x (goal >= 0.9x)")
    if args.memory:
        with tempfile.TemporaryDirectory(prefix="bench-local-mem-") as tmp:
            peaks = {}
            for count in (100, args.memory):
                spec = Path(tmp) / f"replicas-{count}.yaml"
                spec.write_text(
                    f"version: 1\nname: mem\ntasks:\n- name: t\n  replicas: {count}\n"
                    '  command: ["true"]\n'
                )
                env = dict(os.environ, JOBSPEC_STORE=str(Path(tmp) / f"s{count}" / "runs.sqlite"))
                peaks[count] = _supervisor_peak_kib(spec, env)
        small, large = peaks[100], peaks[args.memory]
        print(f"supervisor peak memory (VmHWM), replicas of true, {cpus} cores")
        print(f"  {'replicas: 100':32s}: {small / 1024:8.1f} MiB")
        print(
            f"  {f'replicas: {args.memory}':32s}: {large / 1024:8.1f} MiB   ratio "
            f"{large / small if small else float('nan'):.2f}x (bounded: near 1; "
            f"per instance: ~{args.memory / 100:.0f}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
