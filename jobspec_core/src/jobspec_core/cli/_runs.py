"""Shared pieces of the run commands (``run``, ``status``, ``wait``, ``cancel``, ``list``,
``logs``): the ``--store`` option, opening the runner, and the status table."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TextIO

from ..runner import Runner, RunStatus
from ..statedir import STORE_ENV
from ..store import RunRecord, RunStore
from ._server import add_server_option, client_for

__all__ = [
    "add_store_option",
    "open_runner",
    "print_status",
    "print_runs",
    "print_json",
    "format_time",
]


def add_store_option(parser: argparse.ArgumentParser, with_server: bool = True) -> None:
    """``--store PATH``, and ``--server URL`` (:mod:`._server`) for the commands that can
    also ask a service."""
    parser.add_argument(
        "--store",
        metavar="PATH",
        help=f"the run store (SQLite file; default: ${STORE_ENV}, else "
        "$XDG_STATE_HOME/jobspec/runs.sqlite, i.e. ~/.local/state/jobspec/runs.sqlite)",
    )
    if with_server:
        add_server_option(parser)


def open_runner(args: argparse.Namespace) -> Runner:
    """A :class:`Runner` on the store named by ``--store`` (or the environment/default);
    with ``--server``/``$JOBSPEC_SERVER``, a client of that service with the same methods."""
    client = client_for(args)
    if client is not None:
        return client  # type: ignore[return-value]
    return Runner(RunStore(getattr(args, "store", None)))


def format_time(ts: float | None) -> str:
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _table(rows: list[list[str]], out: TextIO) -> None:
    if not rows:
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths[:-1], strict=True)] + [row[-1]]
        out.write("  ".join(cells).rstrip() + "\n")


def _duration(start: float | None, end: float | None) -> str:
    if start is None:
        return "-"
    seconds = (end if end is not None else time.time()) - start
    return f"{seconds:.1f}s"


def print_status(status: RunStatus, out: TextIO = sys.stdout) -> None:
    """The run's header and one line per task instance: state, exit code, time, reason."""
    run = status.run
    counts = ", ".join(f"{n} {state}" for state, n in status.counts().items())
    out.write(
        f"run {run.run_id}  {run.name}  [{run.transformer}]  {run.state}\n"
        f"  created {format_time(run.created_at)}  in {run.workdir}\n"
        f"  {counts or 'no task instances'}\n"
    )
    if run.error:
        out.write(f"  error: {run.error}\n")
    rows = [["TASK", "INDEX", "STATE", "EXIT", "TIME", "NATIVE ID", "REASON"]]
    for t in status.tasks:
        rows.append(
            [
                t.task_id,
                str(t.index),
                t.state.value,
                "-" if t.exit_code is None else str(t.exit_code),
                _duration(t.started_at, t.finished_at),
                t.native_id or "-",
                t.reason or "",
            ]
        )
    _table(rows, out)


def print_runs(runs: list[RunRecord], out: TextIO = sys.stdout) -> None:
    rows = [["RUN", "NAME", "TRANSFORMER", "STATE", "CREATED", "SOURCE"]]
    for r in runs:
        rows.append(
            [r.run_id, r.name, r.transformer, r.state, format_time(r.created_at), r.source or "-"]
        )
    _table(rows, out)


def print_json(data: object, out: TextIO = sys.stdout) -> None:
    out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def show_status(status: RunStatus, as_json: bool, out: TextIO = sys.stdout) -> None:
    """Print ``status`` as JSON (``--json``) or as the human table: the one way every run
    command reports a run."""
    if as_json:
        print_json(status.to_dict(), out)
    else:
        print_status(status, out)
