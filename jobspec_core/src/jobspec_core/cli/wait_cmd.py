"""``jobspec wait RUN [--timeout S] [--json] [-q] [--store PATH]``: follow a run until it ends.

Shows the same progress as ``jobspec run`` (:mod:`jobspec_core.cli.progress`: a live
display on a terminal, plain lines or periodic summaries otherwise), then the status table
grouped by task, failures first (the JSON status with ``--json``). ``--quiet`` shows no
progress and prints only the final summary (at most three lines). Ctrl-C stops waiting;
the run goes on (``jobspec cancel`` stops it).

Exit codes: 0 every task instance completed; 1 one did not, or the timeout passed first
(the message says which); 2 usage.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import EXIT_FAILURE, EXIT_OK
from ._runs import add_remote_option, add_store_option, open_runner, show_status, summary_lines
from .follow import follow
from .progress import make_display

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "wait",
        help="wait for a run to end, showing progress; the exit code says whether it succeeded",
        description="Follow RUN until every task instance has ended, showing progress. Exit "
        "code 0 when all completed, 1 otherwise (or when --timeout passes first).",
    )
    parser.add_argument("run_ref", metavar="RUN", help="run id or unique prefix ('latest' works)")
    parser.add_argument(
        "--timeout", metavar="S", type=float, default=None, help="give up after S seconds"
    )
    parser.add_argument("--json", action="store_true", help="print the final status as JSON")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress: print only the final summary"
    )
    add_store_option(parser)
    add_remote_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    runner = open_runner(args)
    run_id = runner.resolve(args.run_ref)
    record = runner.record(run_id)
    display = make_display(record, quiet=args.quiet or record.finished)
    status = follow(runner, run_id, display, timeout=args.timeout, cancel_on_interrupt=False)
    if args.quiet and not args.json:
        print("\n".join(summary_lines(status)))
    else:
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
