"""``jobspec run [-t NAME] [--store PATH] [-O KEY=VALUE]... [--detach] [--json] [-q] FILE``.

Validates and plans FILE (every problem reported, nothing started), submits it through the
transformer (default: ``$JOBSPEC_TRANSFORMER``, else ``local``) and, unless ``--detach``,
follows the run until every task instance has ended (:mod:`jobspec_core.cli.follow`):

* progress on stderr (:mod:`jobspec_core.cli.progress`): on a terminal a live display
  (bar, counts by state, elapsed time, failures with their reasons); off a terminal a line
  per state change for small runs and periodic one-line summaries for large ones;
* tasks with ``watch: true``: their output lines, prefixed ``[task-id.index]``, on stdout
  (on stderr with ``--json``, so that stdout holds only the JSON);
* at the end, the status table grouped by task, failures first (or the status as JSON
  with ``--json``). ``--quiet`` shows no progress and no watched output, and prints only
  the final summary (at most three lines; the JSON with ``--json``).

A plan with requirements is checked against the site first (as ``jobspec satisfy`` does,
with ``--subsystems DIR``): unmet requirements refuse it with the report and nothing is
submitted (exit 1); ``--skip-requirements`` submits without the check. Resource
alternatives whose requirements are not met are not used.

Ctrl-C while following cancels the run. ``--detach`` prints the run id (JSON with
``--json``) and returns at once; follow it with ``jobspec status|wait|cancel|logs``.

Exit codes: 0 every instance completed (or detached after a successful submission);
1 an instance did not complete or the submission failed; 2 invalid input.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import api
from ..errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, JobspecError
from ..runner import TRANSFORMER_ENV, Runner
from ._runs import add_store_option, open_runner, print_json, show_status, summary_lines
from .follow import WatchedOutput, follow
from .progress import make_display

__all__ = ["add_parser", "run", "parse_options"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a jobspec (on this machine by default) and follow it",
        description="Validate FILE, submit it and wait for it, showing progress. "
        "Exit code 0 when every task completed, 1 otherwise, 2 for invalid input.",
    )
    parser.add_argument("file", metavar="FILE", help="the jobspec YAML file")
    parser.add_argument(
        "-t",
        "--transformer",
        metavar="NAME",
        help=f"the transformer (default: ${TRANSFORMER_ENV}, else local)",
    )
    parser.add_argument(
        "-O",
        "--option",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="a transformer option (repeatable), e.g. -O cores=4 for local",
    )
    parser.add_argument(
        "--skip-requirements",
        action="store_true",
        help="submit without checking the plan's requirements against the site",
    )
    parser.add_argument(
        "--subsystems",
        metavar="DIR",
        help="a directory of JGF subsystem files for the requirement check "
        "(default: $JOBSPEC_SUBSYSTEMS)",
    )
    parser.add_argument("--detach", action="store_true", help="print the run id and return at once")
    parser.add_argument("--json", action="store_true", help="print the final status as JSON")
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress and no watched output: print only the final summary",
    )
    add_store_option(parser)
    parser.set_defaults(handler=run)


def parse_options(items: list[str]) -> dict[str, str]:
    """``["cores=4"]`` -> ``{"cores": "4"}``; a malformed item is a usage error."""
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise _UsageError(f"option {item!r}: expected KEY=VALUE, e.g. cores=4")
        out[key.strip()] = value
    return out


class _UsageError(JobspecError):
    exit_code = EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    plan = api.load_plan(args.file)
    options = parse_options(args.option)
    runner = open_runner(args)
    checks: dict = {}  # only what differs from the default: a service client takes none
    if args.skip_requirements:
        checks["check_requirements"] = False
    if args.subsystems:
        checks["subsystems"] = args.subsystems
    if checks and not isinstance(runner, Runner):
        raise _UsageError(
            "--skip-requirements and --subsystems apply to local submissions: the service "
            "checks requirements against its own site"
        )
    run_id = runner.submit(
        plan, args.transformer, workdir=Path(os.getcwd()), options=options, **checks
    )
    if args.detach:
        if args.json:
            print_json({"run_id": run_id})
        else:
            print(run_id)
        return EXIT_OK
    record = runner.record(run_id)
    if not args.quiet:
        print(
            f"jobspec: run {run_id} submitted to {record.run.transformer} "
            f"({len(record.tasks)} task instances)",
            file=sys.stderr,
        )
    # with --json, stdout carries only the JSON: watched output goes to stderr
    out = sys.stderr.buffer if args.json else sys.stdout.buffer
    display = make_display(record, quiet=args.quiet, out=out)
    status = follow(runner, run_id, display, WatchedOutput.of(plan, record))
    if args.quiet and not args.json:
        print("\n".join(summary_lines(status)))
    else:
        show_status(status, args.json)
    return EXIT_OK if status.succeeded else EXIT_FAILURE
