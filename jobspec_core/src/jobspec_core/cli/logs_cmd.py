"""``jobspec logs RUN [TASK] [--store PATH]``: the output of a run's task instances.

TASK is a task id (every replica), or ``ID.INDEX`` for one instance. Each instance's log is
printed under a ``==> ID.INDEX <==`` header. Exit codes: 0 printed; 1 unknown run or no
such task (the message lists the run's tasks).
"""

from __future__ import annotations

import argparse
import sys

from ..errors import EXIT_OK
from ._runs import add_remote_option, add_store_option, open_runner

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
    add_remote_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    runner = open_runner(args)
    out = sys.stdout.buffer
    for chunk in runner.logs(runner.resolve(args.run_ref), args.task):
        out.write(chunk)
    out.flush()
    return EXIT_OK
