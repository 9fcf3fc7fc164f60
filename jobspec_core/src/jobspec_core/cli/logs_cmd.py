"""``jobspec logs RUN [TASK] [--store PATH]``: the output of a run's task instances.

TASK is a task id (every replica), or ``ID.INDEX`` for one instance. Each instance's log is
printed under a ``==> ID.INDEX <==`` header. Exit codes: 0 printed; 1 unknown run or no
such task (the message lists the run's tasks).
"""

from __future__ import annotations

import argparse
import shutil
import sys

from ..errors import EXIT_OK, StoreError
from ._runs import add_store_option, open_runner

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "logs",
        help="print the output of a run's task instances",
        description="Print the logs of RUN's task instances (all, one task, or ID.INDEX).",
    )
    parser.add_argument("run_ref", metavar="RUN", help="run id or unique prefix ('latest' works)")
    parser.add_argument("task", metavar="TASK", nargs="?", help="task id, or ID.INDEX")
    add_store_option(parser)
    parser.set_defaults(handler=run)


def _select(tasks, wanted: str | None):
    if wanted is None:
        return tasks
    exact = [t for t in tasks if t.task_id == wanted]
    if exact:
        return exact
    base, dot, index = wanted.rpartition(".")
    if dot and index.isdigit():
        return [t for t in tasks if t.task_id == base and t.index == int(index)]
    return []


def run(args: argparse.Namespace) -> int:
    runner = open_runner(args)
    run_id = runner.store.resolve(args.run_ref)
    tasks = runner.store.tasks(run_id)
    chosen = _select(tasks, args.task)
    if not chosen:
        names = sorted({t.task_id for t in tasks})
        raise StoreError(
            f"run {run_id} has no task {args.task!r}; its tasks: {', '.join(names) or '(none)'}"
        )
    out = sys.stdout.buffer
    for t in chosen:
        if len(chosen) > 1:
            out.write(f"==> {t.task_id}.{t.index} <==\n".encode())
        if not t.log:
            out.write(b"(no log recorded)\n")
            continue
        try:
            with open(t.log, "rb") as f:  # streamed: a log may be larger than memory
                shutil.copyfileobj(f, out, 1 << 20)
        except FileNotFoundError:
            out.write(f"(no output yet: {t.log} does not exist)\n".encode())
    out.flush()
    return EXIT_OK
