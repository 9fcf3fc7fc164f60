"""The live progress display on a terminal, drawn with rich (the ``progress`` extra).

Imported only by :func:`jobspec_core.cli.progress.make_display` when stderr is a terminal,
so no other command pays for importing rich. It shows, redrawn ten times a second on
stderr and removed when the run ends (the command then prints the summary):

* a spinner, the run id, a bar of ended instances, ``ended/total``, the percentage and the
  time since the run was submitted;
* the instances per state, in the colours of their states;
* the last :data:`FAILURES_SHOWN` instances that did not complete, with exit code and
  reason (``and N more``);
* watched output, printed above the display as it arrives (when stdout is the same
  terminal; otherwise written to stdout untouched).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import BinaryIO

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table
from rich.text import Text

from ..runner import RunStatus
from ..transformer import TaskState
from .progress import Display, instance_text

__all__ = ["LiveDisplay", "FAILURES_SHOWN", "STATE_STYLES"]

FAILURES_SHOWN = 5
STATE_STYLES = {
    "completed": "green",
    "failed": "bold red",
    "timeout": "bold red",
    "lost": "bold red",
    "cancelled": "yellow",
    "never_run": "dim",
    "unknown": "magenta",
    "running": "cyan",
    "pending": "white",
}


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class LiveDisplay(Display):
    """See the module docstring. ``status`` is the run as first recorded."""

    def __init__(self, status: RunStatus, out: BinaryIO):
        super().__init__(out)
        self.console = Console(stderr=True)
        self.out_is_terminal = _same_terminal(out)
        self.created = status.run.created_at
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=None),
            MofNCompleteColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[elapsed]}"),
            console=self.console,
            auto_refresh=False,
            expand=True,
        )
        self.bar = self.progress.add_task(
            f"run {status.run.run_id}", total=max(1, len(status.tasks)), elapsed="0:00"
        )
        self.counts = Text()
        self.failed: list[str] = []
        self.seen: set[tuple[str, int]] = set()
        self.live = Live(
            console=self.console,
            get_renderable=self._render,
            refresh_per_second=10,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.update(status)
        self.live.start()

    def _render(self):
        self.progress.update(self.bar, elapsed=_clock(time.time() - self.created))
        parts = [self.progress, self.counts]
        if self.failed:
            table = Table.grid(padding=(0, 1))
            table.add_column(no_wrap=True, overflow="ellipsis")
            for line in self.failed[-FAILURES_SHOWN:]:
                table.add_row(Text("✗ " + line, style="red"))
            hidden = len(self.failed) - FAILURES_SHOWN
            if hidden > 0:
                table.add_row(Text(f"  and {hidden} more (see the summary at the end)", "dim"))
            parts.append(table)
        return Group(*parts)

    def update(self, status: RunStatus) -> None:
        counts = status.counts()
        ended = sum(n for s, n in counts.items() if TaskState(s).terminal)
        text = Text("  ")
        for state, n in counts.items():
            text.append(f"{n} {state}", style=STATE_STYLES.get(state, ""))
            text.append("  ")
        self.counts = text
        for t in status.tasks:
            if t.state.terminal and t.key not in self.seen:
                self.seen.add(t.key)
                if t.state is not TaskState.COMPLETED:
                    self.failed.append(instance_text(t))
        self.progress.update(self.bar, completed=ended)

    def output(self, lines: Sequence[bytes]) -> None:
        if not self.out_is_terminal:
            super().output(lines)
            return
        for line in lines:
            text = line.decode("utf-8", "replace").rstrip("\n")
            self.live.console.print(Text(text), highlight=False, markup=False, soft_wrap=True)

    def close(self) -> None:
        self.live.stop()


def _same_terminal(out: BinaryIO) -> bool:
    """Does ``out`` go to a terminal (then output is printed above the display)?"""
    try:
        return os.isatty(out.fileno())
    except (AttributeError, OSError, ValueError):
        return False
