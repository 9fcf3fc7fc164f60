#!/usr/bin/env python3
"""Remote submission: ``jobspec run -t slurm --remote HOST --detach`` of ``replicas: 100``
against the same ``jobspec run -t slurm --detach`` on the cluster itself, in the same run.

Both sides are whole ``jobspec`` processes (start-up, planning, recording, rendering,
writing, submitting), alternating, several rounds each. The remote side goes through a real
sshd on 127.0.0.1 (``jobspec_core.testing.remote``), two ways:

* **fresh**: every round WITHOUT a shared connection (its own control directory, closed
  afterwards): the login, the question for the remote home, the copy of the run directory
  and the sbatch over SSH are all counted, every time;
* **series**: the rounds of one user's session: ONE control directory for all of them, the
  first round paying the login (connection set-up included), the others sharing it, as
  ``jobspec run`` does for ten minutes after a login.

Printed: the medians, the logins, and the ratios to the local side: medians (fresh),
the series' total against the local total (the goal: <= 1.5x, set-up included), and the
medians of the series' rounds after the first. Jobs are cancelled between rounds.

Starts its own Slurm cluster and sshd in a temporary directory; where either cannot run (not
root, Slurm or openssh-server missing) it prints why and exits 0 (a skip).

    python3 benchmarks/bench_remote.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = """\
version: 1
name: bench-remote
tasks:
  - name: many
    replicas: 100
    command: ["true"]
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11, help="rounds of each (default 11)")
    args = parser.parse_args(argv)

    from jobspec_core.testing.sshd import unavailable
    from jobspec_slurm.testing.cluster import ClusterError, LocalSlurmCluster, is_available

    ok, reason = is_available()
    if not ok or unavailable():
        print(f"bench_remote: skipped: {reason if not ok else unavailable()}")
        return 0
    from jobspec_core.testing.remote import RemoteBench

    base = Path(tempfile.mkdtemp(prefix="bench-remote-"))
    cluster = LocalSlurmCluster(base / "cluster")
    try:
        cluster.start()
    except ClusterError as exc:
        print(f"bench_remote: skipped: the local Slurm cluster did not start: {exc}")
        cluster.stop()
        return 0
    bench = RemoteBench(base / "remote", dict(cluster.env)).start()
    spec = bench.workdir / "bench.yaml"
    spec.write_text(SPEC)
    local_env = {**os.environ, **cluster.env, "JOBSPEC_STORE": str(base / "local.sqlite")}

    def cancel_all() -> None:
        ids = sorted(set(cluster.run(["squeue", "-h", "-o", "%A"]).stdout.split()))
        if ids:
            cluster.run(["scancel", *ids])

    def local_once() -> float:
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "jobspec_core", "run", "-t", "slurm", "--detach", str(spec)],
            cwd=bench.workdir,
            env=local_env,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - t0
        assert done.returncode == 0, done.stderr
        return elapsed

    logins: list[int] = []
    shared = Path(tempfile.mkdtemp(prefix="jbs-", dir="/tmp"))

    def series_once() -> float:
        t0 = time.perf_counter()
        done = bench.jobspec(
            "run", "-t", "slurm", "--remote", bench.target, "--detach", str(spec),
            JOBSPEC_SSH_CONTROL_DIR=str(shared),
        )  # fmt: skip
        elapsed = time.perf_counter() - t0
        assert done.returncode == 0, done.stderr
        return elapsed

    def remote_once(n: int) -> float:
        control = Path(tempfile.mkdtemp(prefix="jbr-", dir="/tmp"))
        before = bench.sshd.logins()
        try:
            t0 = time.perf_counter()
            done = bench.jobspec(
                "run", "-t", "slurm", "--remote", bench.target, "--detach", str(spec),
                JOBSPEC_SSH_CONTROL_DIR=str(control),
            )  # fmt: skip
            elapsed = time.perf_counter() - t0
            assert done.returncode == 0, done.stderr
            logins.append(bench.sshd.logins() - before)
        finally:
            for sock in control.iterdir():
                subprocess.run(
                    ["ssh", "-S", str(sock), "-O", "exit", "x"], capture_output=True, check=False
                )
            shutil.rmtree(control, ignore_errors=True)
        return elapsed

    try:
        local_once()  # warm caches (imports, page cache) on both sides
        remote_once(-1)
        cancel_all()
        ours, local, series = [], [], []
        series_logins = bench.sshd.logins()
        for n in range(args.rounds):
            if n % 2:
                local.append(local_once())
                cancel_all()
                ours.append(remote_once(n))
                cancel_all()
                series.append(series_once())
            else:
                series.append(series_once())
                cancel_all()
                ours.append(remote_once(n))
                cancel_all()
                local.append(local_once())
            cancel_all()
        series_logins = bench.sshd.logins() - series_logins - sum(logins[1:])
    finally:
        for sock in shared.iterdir():
            subprocess.run(["ssh", "-S", str(sock), "-O", "exit", "x"], capture_output=True)
        shutil.rmtree(shared, ignore_errors=True)
        bench.stop()
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)

    ratio = statistics.median(ours) / statistics.median(local)
    paired = statistics.median(o / r for o, r in zip(ours, local, strict=True))
    total = sum(series) / sum(local)
    shared_ratio = statistics.median(series[1:]) / statistics.median(local)
    print(f"slurm submit of replicas: 100, whole `jobspec run --detach` ({args.rounds} rounds)")
    print(f"  local (on the cluster itself):          {statistics.median(local) * 1000:8.1f} ms")
    print(f"  remote, fresh login every round:        {statistics.median(ours) * 1000:8.1f} ms")
    print(f"  remote series, first (with the login):  {series[0] * 1000:8.1f} ms")
    print(
        f"  remote series, the others (shared):     {statistics.median(series[1:]) * 1000:8.1f} ms"
    )
    print(f"  logins: {max(logins)} per fresh round, {series_logins} for the whole series")
    print(f"  ratio fresh / local (medians):          {ratio:8.2f}x  (paired rounds {paired:.2f}x)")
    print(f"  ratio shared / local (medians):         {shared_ratio:8.2f}x")
    print(
        f"  ratio series total / local total:       {total:8.2f}x  (goal <= 1.5x, set-up "
        f"included: {'met' if total <= 1.5 else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
