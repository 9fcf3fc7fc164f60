#!/usr/bin/env python3
"""Flux backend: submit time of ``replicas: 100`` against a raw ``flux submit --cc=0-99``.

Both are measured in the same Flux instance, alternating, several rounds each; the medians
are reported and their ratio printed (goal: <= 1.3x), with the median of the rounds' own
ratios, which a loaded machine disturbs less. The jobspec side is the transformer's
``submit`` (CLI driver: exactly one ``flux submit --cc=0-99``; and the flux-python driver for
information) on a rendered plan, i.e. what ``jobspec run -t flux`` spends submitting.

Uses the instance at ``FLUX_URI`` when set, else starts ``flux start --test-size=4`` for the
run. Where Flux is absent it prints why and exits 0 (a skip, not a failure). ``_common.py``
holds what the submit benchmarks share.

    python3 benchmarks/bench_flux.py [--rounds N]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import alternate, command, parse_rounds, replicas_plan, report
from jobspec_core.transformer import RunContext
from jobspec_flux.testing import FluxInstance, flux_available
from jobspec_flux.transformer import FluxTransformer, python_api_available


def wait_idle() -> None:
    subprocess.run(["flux", "queue", "idle"], check=True, capture_output=True)


def jobspec_submit(workdir: Path, driver: str):
    """The transformer's ``submit`` alone on a rendered plan (what ``jobspec run -t flux``
    spends submitting), with the ``api`` driver ``driver``."""
    plan = replicas_plan()
    transformer = FluxTransformer()

    def once(n: int) -> float:
        context = RunContext(
            f"bench{n + 1}{driver}", workdir / f"run-{driver}-{n + 1}", workdir, {"api": driver}
        )
        submission = transformer.render(plan, context)
        submission.write(context.run_dir)
        start = time.perf_counter()
        handles = transformer.submit(plan, submission, context)
        elapsed = time.perf_counter() - start
        assert len(handles) == 100
        return elapsed

    return once


def measure(rounds: int) -> None:
    version = subprocess.run(["flux", "version"], capture_output=True, text=True).stdout
    version = next((x.split()[-1] for x in version.splitlines() if x.startswith("commands")), "?")
    drivers = ["cli"] + (["python"] if python_api_available() else [])
    labels = {"raw": "raw flux submit --cc=0-99"}
    labels |= {"cli": "jobspec-flux (cli): one flux submit --cc=0-99"}
    labels |= {"python": "jobspec-flux (python): flux-python submit_async"}
    with tempfile.TemporaryDirectory(prefix="bench-flux-") as tmp:
        workdir = Path(tmp)
        raw = ["flux", "submit", "--cc=0-99", f"--output={workdir}/raw.{{cc}}.log", "true"]
        sides = {"raw": command(raw), **{d: jobspec_submit(workdir, d) for d in drivers}}
        times = alternate(rounds, sides, wait_idle)
    report(f"flux-core {version}: submit of replicas: 100", times, labels, baseline="raw")


def main(argv: list[str] | None = None) -> int:
    rounds = parse_rounds(__doc__, 11, argv)
    ok, why = flux_available()
    if not ok:
        print(f"SKIPPED: {why}")
        return 0
    if os.environ.get("FLUX_URI"):
        measure(rounds)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-flux-instance-") as tmp:
        with FluxInstance(Path(tmp), size=4) as instance:
            os.environ["FLUX_URI"] = instance.uri
            try:
                measure(rounds)
            finally:
                os.environ.pop("FLUX_URI", None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
