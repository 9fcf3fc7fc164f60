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
from ._remote import add_remote_option, remote_target
from ._server import add_server_option, client_for

__all__ = [
    "add_store_option",
    "add_remote_option",
    "remote_target",
    "open_runner",
    "print_status",
    "status_rows",
    "summary_lines",
    "MAX_ROWS",
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
    with ``--server``/``$JOBSPEC_SERVER``, a client of that service with the same methods.
    ``--remote`` (or ``$JOBSPEC_REMOTE``) names the host of the remote runs it follows,
    instead of the one recorded (the same cluster under another name)."""
    client = client_for(args)
    if client is not None:
        return client
    runner = Runner(RunStore(getattr(args, "store", None)))
    if hasattr(args, "remote"):
        runner.remote_target = remote_target(args)
        runner.remote_explicit = getattr(args, "remote", None) is not None
    return runner


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


#: at most this many rows in the status table before the rows of completed instances are
#: folded into one line (failures and unfinished instances come first)
MAX_ROWS = 15


def _index_ranges(indexes: list[int], width: int = 32) -> str:
    """``0-16,18,20-199 (198)``: sorted indexes as ranges, cut at ``width`` characters."""
    parts: list[str] = []
    start = prev = indexes[0]
    for i in indexes[1:] + [None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    text = ",".join(parts)
    if len(text) > width:
        text = text[: width - 1].rsplit(",", 1)[0] + ",…"
    return text if len(indexes) == 1 else f"{text} ({len(indexes)})"


def _span(seconds: list[float]) -> str:
    if not seconds:
        return "-"
    low, high = min(seconds), max(seconds)
    return f"{low:.1f}s" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}-{high:.1f}s"


def status_rows(status: RunStatus) -> list[list[str]]:
    """The status table's rows: the instances of each task grouped by (state, exit code,
    reason), failures first (the order of :data:`jobspec_core.graph.STATE_ORDER`), then
    plan order. One row per instance for tasks without replicas; one row for the 1,000
    instances of a task that all completed."""
    from ..graph import STATE_ORDER

    groups: dict[tuple, list] = {}
    for t in status.tasks:
        groups.setdefault((t.task_id, t.state.value, t.exit_code, t.reason or ""), []).append(t)
    now = time.time()
    rows = []
    for n, ((task_id, state, exit_code, reason), members) in enumerate(groups.items()):
        rank = STATE_ORDER.index(state) if state in STATE_ORDER else len(STATE_ORDER)
        durations = [
            (t.finished_at if t.finished_at is not None else now) - t.started_at
            for t in members
            if t.started_at is not None
        ]
        native = members[0].native_id or "-" if len(members) == 1 else "-"
        cells = [
            task_id,
            _index_ranges(sorted(t.index for t in members)),
            state,
            "-" if exit_code is None else str(exit_code),
            _span(durations),
            native,
            reason,
        ]
        rows.append((rank, n, len(members), cells))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [r[3] + [str(r[2])] for r in rows]


def _took(status: RunStatus) -> float:
    run = status.run
    end = run.finished_at if run.finished_at is not None else time.time()
    return max(0.0, end - run.created_at)


def summary_lines(status: RunStatus, named: int = 3) -> list[str]:
    """The run in at most three lines: state, time and counts; the first ``named``
    instances that did not complete; the run's error. What ``--quiet`` prints."""
    run = status.run
    counts = ", ".join(f"{n} {state}" for state, n in status.counts().items())
    verb = "in" if status.finished else "after"
    state = run.state if status.finished else "not finished"
    lines = [
        f"run {run.run_id} ({run.name}, {run.transformer}) {state} {verb} "
        f"{_took(status):.1f} s: {counts or 'no task instances'}"
    ]
    bad = [t for t in status.tasks if t.state.terminal and t.state.value != "completed"]
    if bad:
        shown = ", ".join(
            f"{t.task_id}.{t.index} ({t.state.value}"
            + (f", exit {t.exit_code}" if t.exit_code is not None else "")
            + ")"
            for t in bad[:named]
        )
        more = f" and {len(bad) - named} more" if len(bad) > named else ""
        lines.append(f"  not completed: {shown}{more} (jobspec status {run.run_id})")
    if run.error:
        lines.append(f"  error: {run.error}")
    return lines


def print_status(status: RunStatus, out: TextIO = sys.stdout) -> None:
    """The run's header, then its instances grouped by task and state, failures first.

    At most :data:`MAX_ROWS` rows: beyond that the rows of completed instances are folded
    into one line (``--json`` lists every instance), so a run of thousands of instances
    stays readable.
    """
    run = status.run
    counts = ", ".join(f"{n} {state}" for state, n in status.counts().items())
    took = f"  took {_took(status):.1f} s" if run.finished_at is not None else ""
    out.write(
        f"run {run.run_id}  {run.name}  [{run.transformer}]  {run.state}\n"
        f"  created {format_time(run.created_at)}  in {run.workdir}{took}\n"
        f"  {counts or 'no task instances'}\n"
    )
    if run.error:
        out.write(f"  error: {run.error}\n")
    rows = status_rows(status)
    shown, folded = rows, []
    if len(rows) > MAX_ROWS:
        shown = [r for r in rows if r[2] != "completed"][:MAX_ROWS]
        folded = [r for r in rows if r not in shown]
    if shown:
        header = ["TASK", "INSTANCES", "STATE", "EXIT", "TIME", "NATIVE ID", "REASON"]
        _table([header] + [r[:-1] for r in shown], out)
    if folded:
        by_state: dict[str, int] = {}
        for r in folded:
            by_state[r[2]] = by_state.get(r[2], 0) + int(r[-1])
        what = ", ".join(f"{n} {s}" for s, n in by_state.items())
        tasks = len({r[0] for r in folded})
        out.write(
            f"{'… and' if shown else '  '} {tasks} tasks in {len(folded)} rows not shown "
            f"({what} instances): jobspec status {run.run_id} --json lists every instance\n"
        )


def print_runs(runs: list[RunRecord], out: TextIO = sys.stdout) -> None:
    """The runs as a table; a PARAMETERS column (``nodes=4 mode=fast``) when any of them
    was planned with parameter values."""
    with_values = any(r.parameters for r in runs)
    header = ["RUN", "NAME", "TRANSFORMER", "STATE", "CREATED", "SOURCE"]
    rows = [header + ["PARAMETERS"] if with_values else header]
    for r in runs:
        row = [r.run_id, r.name, r.transformer, r.state, format_time(r.created_at), r.source or "-"]
        if with_values:
            from ..substitution import describe_values

            row.append(describe_values(r.parameters) or "-")
        rows.append(row)
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
