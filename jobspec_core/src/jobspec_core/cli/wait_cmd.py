"""``jobspec wait RUN [--timeout S] [--json] [--store PATH]``: block until a run has ended.

Exit codes: 0 every task instance completed; 1 one did not, or the timeout passed first
(the message says which); 2 usage.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import EXIT_FAILURE, EXIT_OK
from ._runs import add_store_option, open_runner, show_status

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "wait",
        help="wait for a run to end; the exit code says whether it succeeded",
        description="Block until every task instance of RUN has ended. Exit code 0 when all "
        "completed, 1 otherwise (or when --timeout passes first).",
    )
    parser.add_argument("run_ref", metavar="RUN", help="run id or unique prefix ('latest' works)")
    parser.add_argument(
        "--timeout", metavar="S", type=float, default=None, help="give up after S seconds"
    )
    parser.add_argument("--json", action="store_true", help="print the final status as JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    add_store_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    runner = open_runner(args)
    status = runner.wait(runner.resolve(args.run_ref), timeout=args.timeout)
    if args.json or not args.quiet:
        show_status(status, args.json)
    if not status.finished:
        after = f" after {args.timeout:g} s" if args.timeout is not None else ""
        print(
            f"jobspec: run {status.run.run_id} has not finished{after} "
            f"({', '.join(f'{n} {s}' for s, n in status.counts().items())})",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return EXIT_OK if status.succeeded else EXIT_FAILURE
