"""``jobspec cancel RUN [--json] [--store PATH]``: stop whatever has not finished in a run.

Works from any process (the handles come from the run store). Prints the run's status once
the transformer has acted. Exit codes: 0 cancelled (or already finished); 1 unknown run or
the backend could not be asked.
"""

from __future__ import annotations

import argparse

from ..errors import EXIT_OK
from ._runs import add_remote_option, add_store_option, open_runner, show_status

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cancel",
        help="cancel a run's unfinished task instances",
        description="Cancel every task instance of RUN that has not finished.",
    )
    parser.add_argument("run_ref", metavar="RUN", help="run id or unique prefix ('latest' works)")
    parser.add_argument("--json", action="store_true", help="print the status as JSON")
    add_store_option(parser)
    add_remote_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    runner = open_runner(args)
    status = runner.cancel(runner.resolve(args.run_ref))
    show_status(status, args.json)
    return EXIT_OK
