"""Benchmark: what parameter substitution adds to load + validate + plan (issue 13).

Takes the 10,000-task document of ``bench_validate.py`` and makes two versions of it:

* **parameterized**: a ``parameters:`` section of 10 parameters (integers, numbers, strings,
  a boolean, a choice, a duration) and **all 10 referenced in every task**: six as argv words
  of its command (whole values and inside longer words), one in an environment value, one
  in a passthrough option, one in its duration, one in its ``watch``;
* **by hand**: the same document with the values written in place (what substitution
  produces), no ``parameters:``.

Each is loaded, validated and planned through ``jobspec_core.api`` (``load`` + ``plan``, the
path of every command) in alternating passes, best CPU time of several each, and the
ratio parameterized / by hand is printed, measured in the same run, beside the ratio
(by hand + the substitution alone, ``apply_parameters``) / by hand, which isolates what
substitution adds from the two files' different YAML. Goal: both <= 1.10. It checks that
the two plans are equal (but for source lines).

Usage: ``python3 benchmarks/bench_parameters.py [--tasks 10000] [--passes 7]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_validate import generate  # noqa: E402  (the same generated document)
from jobspec_core.substitution import apply_parameters  # noqa: E402

from jobspec_core import api  # noqa: E402

GOAL_RATIO = 1.10

PARAMETERS = """\
parameters:
  p0: {type: integer, default: 4, minimum: 1}
  p1: {type: string, default: input.dat}
  p2: {type: number, default: 0.25}
  p3: {type: integer, default: 16}
  p4: {type: choice, choices: [fast, exact], default: fast}
  p5: {type: string, default: mode-a}
  p6: {type: string, default: results}
  p7: {type: string, default: debug}
  p8: {type: duration, default: 30m}
  p9: {type: boolean, default: false}
"""
VALUES = {
    "p0": "4",
    "p1": "input.dat",
    "p2": "0.25",
    "p3": "16",
    "p4": "fast",
    "p5": "mode-a",
    "p6": "results",
    "p7": "debug",
    "p8": "30m",
    "p9": "false",
}
#: what is added to every task: the references, and their values written by hand
WORDS = ', "${{ p0 }}", "--in=${{ p1 }}", "${{ p2 }}", "-n${{ p3 }}", "${{ p4 }}", "${{ p5 }}"'
ATTRIBUTES = (
    "{indent}attributes:\n"
    "{indent}  duration: ${{{{ p8 }}}}\n"
    "{indent}  watch: ${{{{ p9 }}}}\n"
    "{indent}  environment: {{OUT: '${{{{ p6 }}}}/out'}}\n"
    "{indent}  slurm.qos: ${{{{ p7 }}}}\n"
)
_COMMAND = re.compile(r"^(?P<indent> *)command: \[(?P<words>.*)\]$", re.M)


def parameterized(n_tasks: int) -> str:
    """The generated document with the 10 parameters referenced in every task."""
    text = generate(n_tasks)

    def add(match: re.Match) -> str:
        indent = match.group("indent")
        return f"{indent}command: [{match.group('words')}{WORDS}]\n" + ATTRIBUTES.format(
            indent=indent
        ).rstrip("\n")

    body, count = _COMMAND.subn(add, text)
    if count != n_tasks:
        raise SystemExit(f"expected {n_tasks} commands, found {count}")
    return body.replace("version: 1\n", "version: 1\n" + PARAMETERS, 1)


def by_hand(text: str) -> str:
    """``text`` with every reference written as its value and no parameters section."""
    head, _, rest = text.partition(PARAMETERS)
    out = head + rest
    # a quoted whole-value reference is the typed value: 4 and 0.25 are numbers there
    out = out.replace('"${{ p0 }}"', "4").replace('"${{ p2 }}"', "0.25")
    for name, value in VALUES.items():
        out = out.replace("${{ " + name + " }}", value)
    return out


def one_pass(path: Path) -> tuple[float, float, object]:
    """CPU seconds of load + plan (validation included) of ``path``, of the load alone,
    and the plan."""
    gc.collect()
    start = time.process_time()
    document = api.load(path)
    loaded = time.process_time()
    plan = api.plan(document)
    return time.process_time() - start, loaded - start, plan


def substitution_only(path: Path) -> float:
    document = api.load(path)
    gc.collect()
    start = time.process_time()
    apply_parameters(document)
    return time.process_time() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--passes", type=int, default=7)
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}; {args.tasks:,} tasks, 10 parameters referenced in every "
        f"task, best of {args.passes} alternating passes (CPU time)"
    )
    with tempfile.TemporaryDirectory(prefix="bench-parameters-") as tmp:
        with_params = Path(tmp) / "job.yaml"
        hand = Path(tmp) / "hand" / "job.yaml"
        hand.parent.mkdir()
        text = parameterized(args.tasks)
        with_params.write_text(text)
        hand.write_text(by_hand(text))
        ours, theirs = [], []
        for _ in range(args.passes):
            seconds, load, plan = one_pass(with_params)
            ours.append((seconds, load))
            seconds, load, hand_plan = one_pass(hand)
            theirs.append((seconds, load))
        mine, other = plan.to_dict(), hand_plan.to_dict()
        if mine.pop("parameters") != {
            k: v for k, v in api.plan(api.load(with_params)).parameters.items()
        }:
            raise SystemExit("the plan does not carry its parameter values")
        if _strip_sources(mine) != _strip_sources(other):
            raise SystemExit("the parameterized plan differs from the hand-written one")
        alone = min(substitution_only(with_params) for _ in range(args.passes))
    (best, best_load), (base, base_load) = min(ours), min(theirs)
    ratio = best / base
    print(f"   by hand (values written in place)     {base:7.3f} s (load {base_load:.3f} s)")
    print(f"   parameterized (substituted)           {best:7.3f} s (load {best_load:.3f} s)")
    print(f"   of which the substitution alone       {alone:7.3f} s")
    added = (base + alone) / base
    print(f"   ratio parameterized / by hand, end to end: {ratio:.3f}x")
    print(f"   ratio (by hand + substitution) / by hand:  {added:.3f}x")
    worst = max(ratio, added)
    verdict = "MET" if worst <= GOAL_RATIO else "NOT MET"
    print(f"   {verdict}: the larger, {worst:.3f}x, against the goal <= {GOAL_RATIO:.2f}x")
    return 0


def _strip_sources(data):
    """The plan without ``source`` entries (the two files have different lines)."""
    if isinstance(data, dict):
        return {k: _strip_sources(v) for k, v in data.items() if k != "source"}
    if isinstance(data, list):
        return [_strip_sources(v) for v in data]
    return data


if __name__ == "__main__":
    sys.exit(main())
