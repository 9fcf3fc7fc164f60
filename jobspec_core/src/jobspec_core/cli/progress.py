"""How a followed run is shown while it runs (``jobspec run`` and ``jobspec wait``).

A :class:`Display` gets the run's status every refresh (:meth:`Display.update`) and the
watched output lines (:meth:`Display.output`); :func:`make_display` picks one:

* ``--quiet``: :class:`QuietDisplay`, nothing while it runs (the command prints only the
  final summary, :func:`~jobspec_core.cli._runs.summary_lines`).
* on a terminal (stderr is a TTY): the live display of :mod:`jobspec_core.cli._live`
  (rich: a bar, elapsed time, counts by state, the instances that failed and why, watched
  output scrolling above it). rich is the ``progress`` extra, imported only here; without
  it, :class:`LineDisplay`, one line rewritten in place.
* off a terminal (pipes, CI logs): :class:`PlainDisplay`. A run of at most
  :data:`SMALL_RUN` instances gets a line per state change of an instance; a larger run
  gets a one-line summary when something changed and :data:`SUMMARY_EVERY` seconds have
  passed (and every :data:`HEARTBEAT` seconds even if nothing did, so a CI log shows the
  job is alive), plus a line for each of its first :data:`FAILURES_SHOWN` failures. Never
  a line per instance of a large run.

Progress goes to stderr; watched output to ``out`` (stdout, or stderr under ``--json``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import BinaryIO, TextIO

from ..runner import RunStatus
from ..transformer import TaskState

__all__ = [
    "Display",
    "QuietDisplay",
    "PlainDisplay",
    "LineDisplay",
    "make_display",
    "progress_text",
    "instance_text",
    "SMALL_RUN",
    "SUMMARY_EVERY",
    "HEARTBEAT",
    "FAILURES_SHOWN",
]

#: a run of at most this many instances gets a line per state change off a terminal
SMALL_RUN = 20
#: seconds between summary lines of a large run off a terminal (when something changed)
SUMMARY_EVERY = 10.0
#: seconds after which a summary line is printed even if nothing changed
HEARTBEAT = 60.0
#: failures of a large run shown one per line off a terminal; the rest are counted
FAILURES_SHOWN = 5


def progress_text(status: RunStatus) -> str:
    """``150/200 ended: 148 completed, 2 failed; 2 running, 48 pending``."""
    counts = status.counts()
    ended = [(s, n) for s, n in counts.items() if TaskState(s).terminal]
    open_ = [(s, n) for s, n in counts.items() if not TaskState(s).terminal]
    done = sum(n for _, n in ended)
    text = f"{done}/{len(status.tasks)} ended"
    if ended:
        text += ": " + ", ".join(f"{n} {s}" for s, n in ended)
    if open_:
        text += "; " + ", ".join(f"{n} {s}" for s, n in open_)
    return text


def instance_text(t) -> str:
    """``build.0: failed (exit 1): reason``, for one instance record."""
    text = f"{t.task_id}.{t.index}: {t.state.value}"
    if t.exit_code is not None and t.state.terminal:
        text += f" (exit {t.exit_code})"
    if t.reason and t.state is not TaskState.COMPLETED:
        text += f": {t.reason}"
    return text


def _elapsed(status: RunStatus) -> float:
    return max(0.0, time.time() - status.run.created_at)


class Display:
    """The base: watched output written through, nothing else shown.

    :param out: where watched output goes (a binary stream: output is bytes as written).
    """

    def __init__(self, out: BinaryIO):
        self.out = out

    def update(self, status: RunStatus) -> None:
        """The run as it is now; called at least every refresh while it is followed."""

    def output(self, lines: Sequence[bytes]) -> None:
        """Watched output lines, each already prefixed ``[task.index] `` and ending in
        ``\\n``."""
        self.out.write(b"".join(lines))
        self.out.flush()

    def close(self) -> None:
        """The run ended or following stopped; leave the terminal clean."""


class QuietDisplay(Display):
    """``--quiet``: nothing while the run runs (watched output too is not shown)."""

    def output(self, lines: Sequence[bytes]) -> None:
        return None


class PlainDisplay(Display):
    """Off a terminal: a line per instance state change (small runs) or periodic one-line
    summaries (large runs); see the module's docstring."""

    def __init__(
        self,
        out: BinaryIO,
        err: TextIO,
        total: int,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__(out)
        self.err = err
        self.small = total <= SMALL_RUN
        self.clock = clock
        self.seen: dict[tuple[str, int], TaskState] = {}
        self.failures_shown = 0
        self.last_line = clock()
        self.last_counts: dict[str, int] | None = None

    def _line(self, text: str) -> None:
        self.err.write(text + "\n")
        self.err.flush()
        self.last_line = self.clock()

    def update(self, status: RunStatus) -> None:
        if self.small:
            for t in status.tasks:
                if self.seen.get(t.key, TaskState.PENDING) is not t.state:
                    self.seen[t.key] = t.state
                    self._line(instance_text(t))
            return
        for t in status.tasks:
            if t.key in self.seen or not t.state.terminal:
                continue
            self.seen[t.key] = t.state
            if t.state is not TaskState.COMPLETED:
                self.failures_shown += 1
                if self.failures_shown <= FAILURES_SHOWN:
                    self._line(instance_text(t))
                if self.failures_shown == FAILURES_SHOWN:
                    self._line("(further failures are counted in the summaries)")
        if status.finished:
            return  # the command prints the final summary
        counts = status.counts()
        quiet_for = self.clock() - self.last_line
        if (counts != self.last_counts and quiet_for >= SUMMARY_EVERY) or quiet_for >= HEARTBEAT:
            self._line(f"[{_elapsed(status):7.1f}s] {progress_text(status)}")
            self.last_counts = counts


class LineDisplay(Display):
    """A terminal without rich: one line of counts, rewritten in place on stderr."""

    def __init__(self, out: BinaryIO, err: TextIO):
        super().__init__(out)
        self.err = err
        self.shown = False

    def _clear(self) -> None:
        if self.shown:
            self.err.write("\r\033[K")
            self.shown = False

    def update(self, status: RunStatus) -> None:
        self.err.write(f"\r\033[K[{_elapsed(status):6.1f}s] {progress_text(status)}")
        self.err.flush()
        self.shown = True

    def output(self, lines: Sequence[bytes]) -> None:
        self._clear()
        self.err.flush()
        super().output(lines)

    def close(self) -> None:
        self._clear()
        self.err.flush()


def make_display(
    status: RunStatus,
    *,
    quiet: bool = False,
    tty: bool | None = None,
    out: BinaryIO | None = None,
    err: TextIO | None = None,
) -> Display:
    """The display for following ``status``'s run (see the module docstring).

    :param tty: whether progress goes to a terminal (default: is stderr a TTY).
    :param out: where watched output goes (default: stdout).
    """
    err = err or sys.stderr
    out = out or sys.stdout.buffer
    if quiet:
        return QuietDisplay(out)
    if tty is None:
        tty = err.isatty()
    if not tty:
        return PlainDisplay(out, err, len(status.tasks))
    try:
        from ._live import LiveDisplay
    except ImportError:  # rich is the [progress] extra
        return LineDisplay(out, err)
    return LiveDisplay(status, out)
