"""``jobspec run [-t NAME] [--store PATH] [-O KEY=VALUE]... [--detach] [--json] FILE``.

Validates and plans FILE (every problem reported, nothing started), submits it through the
transformer (default: ``$JOBSPEC_TRANSFORMER``, else ``local``) and, unless ``--detach``,
follows the run until every task instance has ended:

* on a terminal (stderr is a TTY): a live one-line display of instance counts by state;
  otherwise one plain line per instance as it ends;
* tasks with ``watch: true``: their output lines, prefixed ``[task-id.index]``, on stdout
  (on stderr with ``--json``, so that stdout holds only the JSON);
* at the end, the status table (or the status as JSON with ``--json``).

Ctrl-C while following cancels the run. ``--detach`` prints the run id (JSON with
``--json``) and returns at once; follow it with ``jobspec status|wait|cancel|logs``.

Exit codes: 0 every instance completed (or detached after a successful submission);
1 an instance did not complete or the submission failed; 2 invalid input.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TextIO

from .. import api
from ..errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, JobspecError
from ..runner import TRANSFORMER_ENV, Runner, RunStatus
from ..transformer import TaskState
from ._runs import add_store_option, open_runner, print_json, show_status

__all__ = ["add_parser", "run", "follow", "parse_options"]


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
    parser.add_argument("--detach", action="store_true", help="print the run id and return at once")
    parser.add_argument("--json", action="store_true", help="print the final status as JSON")
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


#: seconds between refreshes of the progress display and watched output while following.
REFRESH = 0.25
#: bytes of one line of ``watch`` output shown at once: a longer line comes in pieces, so
#: output without newlines never piles up in memory.
WATCH_LINE_LIMIT = 64 * 1024
_READ_CHUNK = 1 << 20


class _UsageError(JobspecError):
    exit_code = EXIT_USAGE


class _Follower:
    """Progress display and ``watch`` output while a run is followed."""

    def __init__(self, plan, status: RunStatus, tty: bool, out: TextIO):
        self.tty = tty
        self.out = out
        self.start = time.monotonic()
        self.line_shown = False
        watched = {t.id for t in plan.tasks() if t.attributes.watch}
        self.watch = {
            t.key: [t.log, 0, b""] for t in status.tasks if t.task_id in watched and t.log
        }
        self.reported: set[tuple[str, int]] = set()

    def _clear(self) -> None:
        if self.line_shown:
            sys.stderr.write("\r\033[K")
            self.line_shown = False

    def stream(self, final: bool = False) -> None:
        """Print what watched logs gained since the last call, in bounded memory: each log
        is read in :data:`_READ_CHUNK` pieces, and a line longer than
        :data:`WATCH_LINE_LIMIT` bytes is shown in pieces of that size, each on its own
        prefixed line (at most that much waits for a newline). ``final``: also the last
        line without a newline."""
        for (task_id, index), entry in self.watch.items():
            prefix = f"[{task_id}.{index}] ".encode()
            try:
                f = open(entry[0], "rb")  # noqa: SIM115 - closed below
            except OSError:
                continue
            with f:
                f.seek(entry[1])
                while data := f.read(_READ_CHUNK):
                    entry[1] += len(data)
                    self._emit(prefix, entry, data)
            if final and entry[2]:
                self._write([prefix + entry[2] + b"\n"])
                entry[2] = b""

    def _emit(self, prefix: bytes, entry: list, data: bytes) -> None:
        lines = (entry[2] + data).split(b"\n")
        rest = lines.pop()
        out = []
        for line in lines:
            for at in range(0, max(len(line), 1), WATCH_LINE_LIMIT):
                out.append(prefix + line[at : at + WATCH_LINE_LIMIT] + b"\n")
        while len(rest) > WATCH_LINE_LIMIT:
            out.append(prefix + rest[:WATCH_LINE_LIMIT] + b"\n")
            rest = rest[WATCH_LINE_LIMIT:]
        entry[2] = rest
        self._write(out)

    def _write(self, pieces: list[bytes]) -> None:
        if pieces:
            self._clear()
            self.out.buffer.write(b"".join(pieces))
            self.out.flush()

    def show(self, status: RunStatus) -> None:
        if self.tty:
            counts = ", ".join(f"{n} {s}" for s, n in status.counts().items())
            elapsed = time.monotonic() - self.start
            sys.stderr.write(f"\r\033[K[{elapsed:6.1f}s] {status.run.run_id}: {counts}")
            sys.stderr.flush()
            self.line_shown = True
            return
        for t in status.tasks:
            if t.state.terminal and t.key not in self.reported:
                self.reported.add(t.key)
                detail = f" (exit {t.exit_code})" if t.exit_code is not None else ""
                if t.reason and t.state is not TaskState.COMPLETED:
                    detail += f": {t.reason}"
                sys.stderr.write(f"{t.task_id}.{t.index}: {t.state.value}{detail}\n")

    def done(self) -> None:
        self._clear()
        sys.stderr.flush()


def follow(runner: Runner, run_id: str, plan, tty: bool, out: TextIO | None = None) -> RunStatus:
    """Follow a run until it finishes, ``watch`` output to ``out`` (stdout); Ctrl-C cancels."""
    status = runner.record(run_id)
    follower = _Follower(plan, status, tty, out or sys.stdout)
    try:
        while True:
            # The transformer's own wait notices the end as soon as it can (the local one
            # within tens of milliseconds); the display and watched output refresh at
            # least every REFRESH seconds meanwhile.
            status = runner.wait(run_id, timeout=REFRESH)
            follower.stream()
            follower.show(status)
            if status.finished:
                break
    except KeyboardInterrupt:
        follower.done()
        print(f"jobspec: interrupted: cancelling run {run_id}", file=sys.stderr)
        runner.cancel(run_id)
        raise
    follower.stream(final=True)
    follower.done()
    return status


def run(args: argparse.Namespace) -> int:
    plan = api.load_plan(args.file)
    options = parse_options(args.option)
    runner = open_runner(args)
    run_id = runner.submit(plan, args.transformer, workdir=Path(os.getcwd()), options=options)
    if args.detach:
        if args.json:
            print_json({"run_id": run_id})
        else:
            print(run_id)
        return EXIT_OK
    record = runner.record(run_id)
    print(
        f"jobspec: run {run_id} submitted to {record.run.transformer} "
        f"({len(record.tasks)} task instances)",
        file=sys.stderr,
    )
    # with --json, stdout carries only the JSON: watched output goes to stderr
    status = follow(runner, run_id, plan, sys.stderr.isatty(), sys.stderr if args.json else None)
    show_status(status, args.json)
    return EXIT_OK if status.succeeded else EXIT_FAILURE
