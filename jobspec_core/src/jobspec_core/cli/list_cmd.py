"""``jobspec list [--limit N] [--json] [--store PATH]``: the recorded runs, newest first.

Runs not yet finished are refreshed through their transformer first (a backend that cannot
be asked leaves the recorded state). Exit code 0.
"""

from __future__ import annotations

import argparse

from ..errors import EXIT_OK, JobspecError
from ._runs import add_store_option, open_runner, print_json, print_runs

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "list",
        help="list recorded runs, newest first",
        description="List the runs recorded in the run store, newest first.",
    )
    parser.add_argument("--limit", type=int, default=50, metavar="N", help="at most N runs")
    parser.add_argument("--json", action="store_true", help="print the runs as JSON")
    add_store_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    runner = open_runner(args)
    runs = runner.list_runs(args.limit)
    refreshed = []
    for record in runs:
        if not record.finished and record.state != "submitting":
            try:
                record = runner.status(record.run_id).run
            except JobspecError:
                pass
        refreshed.append(record)
    if args.json:
        print_json([r.to_dict() for r in refreshed])
    else:
        print_runs(refreshed)
    return EXIT_OK
