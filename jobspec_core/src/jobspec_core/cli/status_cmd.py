"""``jobspec status [RUN] [--json] [--store PATH]``: the state of a run's task instances.

RUN is a run id or a unique prefix of one; without it, the most recent run. The states are
asked of the run's transformer (so they are current even when nobody followed the run)
and recorded. Prints the run's header and one line per task instance (state, exit code,
time, native id, reason), or the same as JSON with ``--json``.

Exit codes: 0 shown; 1 unknown run or the backend could not be asked.
"""

from __future__ import annotations

import argparse

from ..errors import EXIT_OK
from ._runs import add_remote_option, add_store_option, open_runner, show_status

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show the state of each task instance of a run",
        description="Show a run's task instances with state, exit code and reason "
        "(the latest run when RUN is omitted; a unique prefix of a run id is accepted).",
    )
    parser.add_argument("run_ref", metavar="RUN", nargs="?", help="run id or unique prefix")
    parser.add_argument("--json", action="store_true", help="print the status as JSON")
    add_store_option(parser)
    add_remote_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    runner = open_runner(args)
    status = runner.status(runner.resolve(args.run_ref))
    show_status(status, args.json)
    return EXIT_OK
