#!/usr/bin/env python3
"""Peak memory of ``jobspec run`` (``watch: true``) and ``jobspec logs`` for large output.

One task writes N MiB (default 300) with no newline at all, with ``watch: true``, so
``jobspec run`` streams it to its stdout; then ``jobspec logs`` prints the same log. Each
command's peak resident set (``ru_maxrss`` of the waited-for process tree, measured by a
small parent process) is printed beside two baselines measured in the same run: ``cat``
of the same log (what copying the bytes costs) and ``python -c pass`` (what the
interpreter costs). The goal is under 200 MiB for any output size.

Usage: python3 benchmarks/bench_memory.py [--mib N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

GOAL_MIB = 200

_PROBE = textwrap.dedent(
    """
    import resource, subprocess, sys
    p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if p.returncode:
        sys.stderr.buffer.write(p.stderr[-2000:])
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    sys.exit(p.returncode)
    """
)


def peak_mib(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], env=env, cwd=cwd, capture_output=True, text=True
    )
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return float(proc.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=300, help="output size in MiB")
    args = parser.parse_args()
    size = args.mib * 1024 * 1024
    jobspec = [sys.executable, "-m", "jobspec_core"]
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        tmpdir = Path(tmp)
        env = {**os.environ, "JOBSPEC_STORE": str(tmpdir / "runs.sqlite")}
        env.pop("JOBSPEC_TRANSFORMER", None)
        job = tmpdir / "job.yaml"
        job.write_text(
            "version: 1\ntasks:\n- name: big\n  attributes: {watch: true}\n"
            f'  command: "head -c {size} /dev/zero | tr \\"\\\\000\\" x"\n'
        )
        run = peak_mib([*jobspec, "run", str(job)], env, tmpdir)
        log = next((tmpdir / "runs").glob("*/logs/*"))
        if log.stat().st_size != size:
            sys.exit(f"the log has {log.stat().st_size} bytes, expected {size}")
        logs = peak_mib([*jobspec, "logs", "latest"], env, tmpdir)
        cat = peak_mib(["cat", str(log)], env, tmpdir)
        interpreter = peak_mib([sys.executable, "-c", "pass"], env, tmpdir)
    print(f"{args.mib} MiB of output without a newline; peak RSS (MiB)")
    print(f"  baseline cat of the log             : {cat:7.1f}")
    print(f"  baseline python -c pass             : {interpreter:7.1f}")
    ok = True
    for label, value in (("jobspec run (watch: true)", run), ("jobspec logs", logs)):
        met = value < GOAL_MIB
        ok = ok and met
        print(
            f"  {label:<36}: {value:7.1f}   {value / interpreter:5.1f}x python, "
            f"{value - cat:+7.1f} MiB over cat   goal < {GOAL_MIB} MiB: "
            f"{'MET' if met else 'NOT MET'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
