"""What the submit benchmarks share (``bench_slurm.py``, ``bench_sge.py``, ``bench_flux.py``).

Each compares jobspec's submission of ``replicas: 100`` (:data:`SPEC`) with the scheduler's
own raw command for the same array, in the same run: :func:`alternate` measures every side
once per round, alternating which goes first so that neither always meets a freshly idle
controller, and settles the scheduler after each measurement; :func:`report` prints the
medians, the fastest times and the ratios against the baseline (the medians' ratio and the
median of the per-round ratios, which drifting load on a shared machine disturbs less),
with the goal. :func:`private_cluster` starts a test cluster (``LocalCluster`` of
``jobspec_core.testing.daemons``) for the run, or says why it is skipped.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "GOAL",
    "SPEC",
    "alternate",
    "batch_submit",
    "command",
    "parse_rounds",
    "private_cluster",
    "replicas_plan",
    "report",
]

#: The ratio jobspec / raw the submit benchmarks aim at.
GOAL = 1.3

SPEC = """
version: 1
name: bench
tasks:
  - name: many
    replicas: 100
    command: ["true"]
"""

#: One measurement: the round number (-1: warm-up) -> seconds.
Side = Callable[[int], float]


def parse_rounds(doc: str, default: int, argv: list[str] | None = None) -> int:
    """``--rounds N`` from the command line (the benchmark's docstring is its help)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument(
        "--rounds", type=int, default=default, help=f"rounds of each (default {default})"
    )
    return parser.parse_args(argv).rounds


def replicas_plan() -> Any:
    """The plan of :data:`SPEC`."""
    from jobspec_core import api

    return api.plan(api.load_text(SPEC, "bench.yaml"))


@contextmanager
def private_cluster(bench: str, what: str, module: str, cls: str) -> Iterator[tuple[Any, Path]]:
    """Start ``module.cls`` (a test cluster) in a temporary directory for the benchmark and
    yield ``(cluster, directory)`` with the cluster's client variables in ``os.environ``;
    yield ``(None, directory)`` after printing why when it cannot be started here (a skip,
    not a failure). Stops the cluster and removes the directory at the end."""
    mod = importlib.import_module(module)
    base = Path(tempfile.mkdtemp(prefix=f"{bench}-"))
    try:
        ok, reason = mod.is_available()
        if not ok:
            print(f"{bench}: skipped: no {what} can be started here: {reason}")
            yield None, base
            return
        cluster = getattr(mod, cls)(base / "cluster")
        try:
            cluster.start()
        except mod.ClusterError as exc:
            print(f"{bench}: skipped: the {what} did not start: {exc}")
            cluster.stop()
            yield None, base
            return
        saved = {k: os.environ.get(k) for k in cluster.env}
        os.environ.update(cluster.env)
        try:
            yield cluster, base
        finally:
            cluster.stop()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    finally:
        shutil.rmtree(base, ignore_errors=True)


def batch_submit(transformer: Any, base: Path) -> Side:
    """jobspec's side: what ``jobspec run`` spends getting the task to the scheduler
    (render the plan, write the scripts into a fresh run directory, ``submit``); checks it
    made 100 handles of one job."""
    from jobspec_core.transformer import RunContext

    plan = replicas_plan()
    work = base / "work"
    work.mkdir(exist_ok=True)

    def once(n: int) -> float:
        gc.collect()
        context = RunContext(f"bench-{n}", base / f"run-{n}", work)
        t0 = time.perf_counter()
        submission = transformer.render(plan, context)
        submission.write(context.run_dir)
        handles = transformer.submit(plan, submission, context)
        elapsed = time.perf_counter() - t0
        assert len(handles) == 100 and len({h.data["job"] for h in handles}) == 1
        return elapsed

    return once


def command(argv: list[str], cwd: Path | None = None) -> Side:
    """The raw side: one run of ``argv`` (which must succeed)."""

    def once(n: int) -> float:
        gc.collect()
        t0 = time.perf_counter()
        r = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd)
        elapsed = time.perf_counter() - t0
        assert r.returncode == 0, r.stderr
        return elapsed

    return once


def alternate(
    rounds: int, sides: dict[str, Side], settle: Callable[[], None]
) -> dict[str, list[float]]:
    """Each side once per round (after one warm-up round that is not counted), the order
    reversed every other round; ``settle()`` after every measurement (delete the jobs, wait
    for the queue to drain)."""
    for side in sides.values():  # warm caches (imports, templates, page cache) on every side
        side(-1)
        settle()
    times: dict[str, list[float]] = {who: [] for who in sides}
    for n in range(rounds):
        order = list(sides)
        if n % 2:
            order.reverse()
        for who in order:
            times[who].append(sides[who](n))
            settle()
    return times


def report(
    title: str, times: dict[str, list[float]], labels: dict[str, str], baseline: str
) -> None:
    """Print each side's median and fastest time, then each other side's ratio to
    ``baseline``: of the medians (against :data:`GOAL`) and the median of the rounds' ratios."""
    rounds = len(times[baseline])
    print(f"{title} ({rounds} rounds, medians)")
    width = max(len(label) for label in labels.values()) + 1
    for who, values in times.items():
        print(
            f"  {labels[who] + ':':{width}s} {statistics.median(values) * 1000:8.1f} ms"
            f"   (fastest {min(values) * 1000:.1f} ms)"
        )
    base = times[baseline]
    for who, values in times.items():
        if who == baseline:
            continue
        ratio = statistics.median(values) / statistics.median(base)
        paired = statistics.median(o / r for o, r in zip(values, base, strict=True))
        verdict = "met" if ratio <= GOAL else "NOT met"
        print(f"  ratio {who} / {baseline} (medians):  {ratio:5.2f}x  (goal <= {GOAL}x: {verdict})")
        print(f"  ratio {who} / {baseline} (paired rounds): {paired:5.2f}x")
