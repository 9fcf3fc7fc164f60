#!/usr/bin/env python3
"""Flux backend: submit time of ``replicas: 100`` against a raw ``flux submit --cc=0-99``.

Both are measured in the same Flux instance, alternating, several rounds each; the median
is reported and the ratio printed (goal: <= 1.3x), with the ratio of the best times, which
a loaded machine disturbs less. The jobspec side is the transformer's
``submit`` (CLI driver: exactly one ``flux submit --cc=0-99``; and the flux-python driver for
information) on a rendered plan, i.e. what ``jobspec run -t flux`` spends submitting.

Uses the instance at ``FLUX_URI`` when set, else starts ``flux start --test-size=4`` for the
run. Where Flux is absent it prints why and exits 0 (a skip, not a failure).

    python3 benchmarks/bench_flux.py [--rounds N]
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

from jobspec_core.transformer import RunContext
from jobspec_flux.testing import FluxInstance, flux_available
from jobspec_flux.transformer import FluxTransformer, python_api_available

from jobspec_core import api

SPEC = """
version: 1
name: bench
tasks:
  - name: many
    replicas: 100
    command: ["true"]
"""


def wait_idle() -> None:
    subprocess.run(["flux", "queue", "idle"], check=True, capture_output=True)


def raw_submit(workdir: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["flux", "submit", "--cc=0-99", f"--output={workdir}/raw.{{cc}}.log", "true"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def jobspec_submit(workdir: Path, round_no: int, driver: str) -> float:
    plan = api.load_text(SPEC, "bench.yaml")
    plan = api.plan(plan)
    context = RunContext(
        f"bench{round_no}{driver}", workdir / f"run-{driver}-{round_no}", workdir, {"api": driver}
    )
    transformer = FluxTransformer()
    submission = transformer.render(plan, context)
    submission.write(context.run_dir)
    start = time.perf_counter()
    handles = transformer.submit(plan, submission, context)
    elapsed = time.perf_counter() - start
    assert len(handles) == 100
    return elapsed


def measure(rounds: int) -> None:
    version = subprocess.run(["flux", "version"], capture_output=True, text=True).stdout
    version = next((x.split()[-1] for x in version.splitlines() if x.startswith("commands")), "?")
    drivers = ["cli"] + (["python"] if python_api_available() else [])
    times: dict[str, list[float]] = {"raw": [], **{d: [] for d in drivers}}
    with tempfile.TemporaryDirectory(prefix="bench-flux-") as tmp:
        workdir = Path(tmp)
        raw_submit(workdir)  # warm-up: first submission loads modules and caches
        wait_idle()
        for n in range(rounds):
            order = ["raw", *drivers]
            if n % 2:  # alternate who goes first, so drift on a loaded machine evens out
                order.reverse()
            for who in order:
                if who == "raw":
                    times["raw"].append(raw_submit(workdir))
                else:
                    times[who].append(jobspec_submit(workdir, n, who))
                wait_idle()
    raw = statistics.median(times["raw"])
    raw_min = min(times["raw"])
    for who, values in times.items():
        print(f"  {who:7s} " + " ".join(f"{v * 1000:.0f}" for v in values) + " ms")
    print(f"flux-core {version}, {rounds} rounds, median submit time of 100 replicas")
    print(f"  raw flux submit --cc=0-99          {raw * 1000:8.1f} ms")
    for driver in drivers:
        med = statistics.median(times[driver])
        label = "one flux submit --cc=0-99" if driver == "cli" else "flux-python submit_async"
        print(
            f"  jobspec-flux ({driver:6s}) {label:26s}{med * 1000:8.1f} ms"
            f"   ratio {med / raw:4.2f}x (goal <= 1.3x); best-of ratio "
            f"{min(times[driver]) / raw_min:4.2f}x"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args()
    ok, why = flux_available()
    if not ok:
        print(f"SKIPPED: {why}")
        return 0
    if os.environ.get("FLUX_URI"):
        measure(args.rounds)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-flux-instance-") as tmp:
        with FluxInstance(Path(tmp), size=4) as instance:
            os.environ["FLUX_URI"] = instance.uri
            try:
                measure(args.rounds)
            finally:
                os.environ.pop("FLUX_URI", None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
