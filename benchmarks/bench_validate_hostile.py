#!/usr/bin/env python3
"""``jobspec validate`` of hostile inputs up to 32 MiB: time and peak memory (issue 11).

Each hostile document is about 32 MiB (just under the loader's ``MAX_BYTES``; one case is
over it) and aims at one bound of ``jobspec_core.limits``: a flat list of millions of
scalars, many lists each just under the per-list bound (the node bound), 32 MiB nested
``[[[...``, an alias bomb, one 32 MiB string, one 32 MiB number, thousands of unreadable
``!!int ''`` scalars, misspelt keys, duplicate keys, unknown dependencies (suggestions),
1,000 tasks of ``replicas: 100000``, comments only. Each is validated by a fresh
``jobspec validate FILE`` process (the product's path: load, validate, plan) whose wall
time and peak resident set (``ru_maxrss`` of that child, read with ``os.wait4``) are
printed beside a baseline measured in the same run: validating a **benign** document of
the same size (a valid jobspec of 1,000 tasks whose ``write`` step carries the rest of the
bytes as content). Every hostile case must exit 2 (refused with a located problem) or 0,
never 1; the goal is under 5 s and 500 MB each. Time is judged on CPU time (what the
process spent, without the time it waited for a core on a shared machine, as
``bench_validate.py`` does); the wall time is printed beside it. For reference, the most a
valid document may hold (100,000 tasks, ``bench_validate.py``'s shape) is measured too.

Usage: python3 benchmarks/bench_validate_hostile.py [--mib N] [--only NAME]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

GOAL_SECONDS = 5.0
GOAL_MB = 500.0
HEAD = "version: 1\n"


def _fill(prefix: str, unit: str, suffix: str, size: int) -> str:
    count = max(1, (size - len(prefix) - len(suffix)) // len(unit))
    return prefix + unit * count + suffix


def flat_list(size: int) -> str:
    return _fill(HEAD + "tasks: [{command: x}]\nx: [", "1,", "1]\n", size)


def many_lists(size: int) -> str:
    row = "- [" + "1," * 99_998 + "1]\n"
    return _fill(HEAD + "tasks: [{command: x}]\nx:\n", row, "", size)


def deep_nesting(size: int) -> str:
    half = (size - 20) // 2
    return HEAD + "x: " + "[" * half + "]" * half + "\n"


def alias_bomb(size: int) -> str:
    lines = [HEAD + "tasks: [{command: x}]\n", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n")
    text = "".join(lines)
    return text + "#" * (size - len(text) - 1) + "\n"


def long_string(size: int) -> str:
    return _fill(HEAD + "tasks:\n- command: [echo, '", "x", "']\n", size)


def long_number(size: int) -> str:
    return _fill(HEAD + "tasks:\n- command: [echo, 1", "0", "]\n", size)


def bad_scalars(size: int) -> str:
    row = "- [" + "!!int '', " * 9_999 + "!!int '']\n"
    return _fill(HEAD + "tasks: [{command: x}]\nx:\n", row, "", size)


def distinct_bad_scalars(size: int) -> str:
    """Unreadable scalars that all differ (no cache helps): ``!!int 'a0'``, ``!!int 'a1'``..."""
    rows, n, total = [], 0, 0
    while total < size - 100:
        row = "- [" + ", ".join(f"!!int 'a{n + i}'" for i in range(5_000)) + "]\n"
        n += 5_000
        rows.append(row)
        total += len(row)
    return (
        HEAD + "tasks: [{command: x}]\nx:\n" + "".join(rows)[: size - 40].rsplit("\n", 1)[0] + "\n"
    )


def misspelt_keys(size: int) -> str:
    # 99,999 tasks with a misspelt key each, then padding in comments to the size.
    text = HEAD + "tasks:\n" + "- comand: x\n" * 99_999
    return text + "#" * max(0, size - len(text) - 1) + "\n"


def misspelt_keys_one_mapping(size: int) -> str:
    text = HEAD + "tasks:\n- command: x\n" + "".join(f"  comand{i}: x\n" for i in range(99_990))
    return text + "#" * max(0, size - len(text) - 1) + "\n"


def duplicate_keys(size: int) -> str:
    text = HEAD + "tasks:\n- command: x\n" + "  name: a\n" * 99_990
    return text + "#" * max(0, size - len(text) - 1) + "\n"


def unknown_dependencies(size: int) -> str:
    text = (
        HEAD
        + "tasks:\n"
        + "".join(f"- {{name: t{i}, command: x, depends_on: [task{i}]}}\n" for i in range(99_999))
    )
    return text + "#" * max(0, size - len(text) - 1) + "\n"


def huge_replicas(size: int) -> str:
    text = (
        HEAD
        + "tasks:\n"
        + "".join(f"- {{name: t{i}, command: [x], replicas: 100000}}\n" for i in range(1000))
    )
    return text + "#" * max(0, size - len(text) - 1) + "\n"


def valid_100k_tasks(size: int) -> str:
    """For reference, not hostile: the 100,000 valid tasks of bench_validate.py (the most a
    plan may have), padded with comments to the size."""
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_validate import generate

    text = generate(100_000)
    return text + "#" * max(0, size - len(text) - 1) + "\n"


def comments_only(size: int) -> str:
    return _fill("", "# " + "c" * 77 + "\n", "", size)


def over_the_size(size: int) -> str:
    return comments_only(size + 1024 * 1024)


def benign(size: int) -> str:
    """A valid jobspec of the same size: 1,000 tasks, one carrying the bytes in a write."""
    tasks = "".join(f"- {{name: t{i}, command: [echo, {i}]}}\n" for i in range(999))
    head = (
        HEAD + "tasks:\n" + tasks + "- name: big\n  command: [cat, data.txt]\n  steps:\n"
        "  - name: write\n    path: data.txt\n    content: |\n"
    )
    line = "      " + "d" * 73 + "\n"
    return _fill(head, line, "", size)


CASES: dict[str, Callable[[int], str]] = {
    "flat list of scalars": flat_list,
    "lists at the per-list bound": many_lists,
    "nesting [[[...": deep_nesting,
    "alias bomb": alias_bomb,
    "one long string": long_string,
    "one long number": long_number,
    "unreadable !!int '' scalars": bad_scalars,
    "unreadable scalars, all different": distinct_bad_scalars,
    "99,999 misspelt keys (tasks)": misspelt_keys,
    "99,990 misspelt keys (one mapping)": misspelt_keys_one_mapping,
    "99,990 duplicate keys": duplicate_keys,
    "99,999 unknown dependencies": unknown_dependencies,
    "1,000 tasks x replicas 100000": huge_replicas,
    "comments only": comments_only,
    "(reference) valid, 100,000 tasks": valid_100k_tasks,
    "over 32 MiB": over_the_size,
}


def measure(path: Path) -> tuple[float, float, float, int, str]:
    """Wall seconds, CPU seconds, peak RSS (MB) and exit code of ``jobspec validate path``,
    and the first line it printed."""
    argv = [sys.executable, "-m", "jobspec_core", "validate", str(path)]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    first = out.decode("utf-8", "replace").splitlines()[:1]
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, cpu, usage.ru_maxrss / 1024, proc.returncode, (first[0] if first else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=32, help="size of each document, MiB")
    parser.add_argument("--only", help="run only the cases whose name contains this")
    args = parser.parse_args()
    size = int(args.mib * 1024 * 1024) - 4096  # just under MAX_BYTES at 32
    failures = 0
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        base = Path(tmp) / "benign.yaml"
        base.write_text(benign(size))
        b_wall, b_time, b_mb, b_rc, b_line = measure(base)
        if b_rc != 0:
            sys.exit(f"the benign baseline did not validate ({b_rc}): {b_line}")
        print(
            f"baseline: benign valid document, {base.stat().st_size / 2**20:.1f} MiB: "
            f"{b_time:.2f} s CPU ({b_wall:.2f} s wall), {b_mb:.0f} MB peak RSS ({b_line})"
        )
        print(
            f"{'case':36} {'MiB':>5} {'exit':>4} {'cpu':>7} {'x base':>7} {'wall':>7} "
            f"{'peak MB':>7} {'x base':>6}  goal  first line"
        )
        for name, make in CASES.items():
            if args.only and args.only not in name:
                continue
            path = Path(tmp) / "hostile.yaml"
            path.write_text(make(size))
            wall, t, mb, rc, line = measure(path)
            ok = rc in (0, 2) and t < GOAL_SECONDS and mb < GOAL_MB
            failures += not ok
            print(
                f"{name:36} {path.stat().st_size / 2**20:5.1f} {rc:4d} {t:6.2f}s "
                f"{t / b_time:6.2f}x {wall:6.2f}s {mb:7.0f} {mb / b_mb:5.2f}x  "
                f"{'MET ' if ok else 'MISS'}  {line[:80]}"
            )
            path.unlink()
    print(
        f"summary: {'every case MET' if not failures else f'{failures} case(s) NOT MET'} "
        f"(goal: exit 0 or 2, under {GOAL_SECONDS:.0f} s of CPU and {GOAL_MB:.0f} MB each)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
