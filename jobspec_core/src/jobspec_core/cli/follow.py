"""Following a run until it ends: the loop shared by ``jobspec run`` and ``jobspec wait``.

It uses only what a local :class:`~jobspec_core.runner.Runner` and a ``--server`` client
(:class:`~jobspec_core.service.client.ServiceClient`) both offer: ``wait`` and ``cancel``.

:func:`follow` asks the runner to wait in steps of :data:`REFRESH` seconds, hands every
status to a :class:`~jobspec_core.cli.progress.Display` and streams the output of watched
task instances (:class:`WatchedOutput`) through it. Ctrl-C cancels the run when the caller
says so (``jobspec run`` owns its run; ``jobspec wait`` only watches one).

A scheduler that cannot be asked makes the open instances ``unknown`` (transient, see
:meth:`~jobspec_core.transformer.Transformer.wait`). Since each step is a short wait of its
own, the transformer's ``error_budget`` is applied across steps here: when every open
instance has been ``unknown`` that long, following stops with the last reason as a
:class:`~jobspec_core.errors.BackendError`, as one long wait would.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

from ..errors import BackendError
from ..runner import Runner, RunStatus
from ..transformer import TaskState
from .progress import Display

__all__ = ["REFRESH", "WATCH_LINE_LIMIT", "WatchedOutput", "follow"]

#: seconds between refreshes of the display and of watched output while following
REFRESH = 0.25
#: bytes of one line of ``watch`` output shown at once: a longer line comes in pieces, so
#: output without newlines never piles up in memory.
WATCH_LINE_LIMIT = 64 * 1024
#: bytes read from a watched log at a time
READ_CHUNK = 1 << 20


class WatchedOutput:
    """The new output of watched instances' logs, as lines prefixed ``[task-id.index] ``.

    :param logs: instance key -> log path, for the instances to watch.
    """

    def __init__(self, logs: dict[tuple[str, int], str]):
        # key -> [path, bytes read so far, partial last line]
        # per log: [path, offset read so far, the partial line waiting for its newline]
        self.files: dict[tuple[str, int], list[Any]] = {
            key: [path, 0, b""] for key, path in logs.items()
        }

    @classmethod
    def of(cls, plan, status: RunStatus) -> WatchedOutput:
        """The instances of ``status`` whose plan task has ``watch: true``."""
        watched = {t.id for t in plan.tasks() if t.attributes.watch}
        return cls({t.key: t.log for t in status.tasks if t.task_id in watched and t.log})

    def read(self, final: bool = False) -> list[bytes]:
        """Every complete line written since the last call (with ``final``, partial ones
        too). Holds all of it at once: :meth:`batches` is the bounded form."""
        return [line for batch in self.batches(final) for line in batch]

    def batches(self, final: bool = False) -> Iterator[list[bytes]]:
        """The lines written since the last call, in batches of at most :data:`READ_CHUNK`
        bytes of log each (with ``final``, partial lines too): each log is read a chunk at a
        time and each batch is handed on before the next is read, so a task that writes
        300 MiB between two refreshes costs one chunk of memory, not 300 MiB; a line longer
        than :data:`WATCH_LINE_LIMIT` bytes comes in pieces of that size, each on a prefixed
        line of its own (at most that much waits for a newline)."""
        for (task_id, index), entry in self.files.items():
            prefix = f"[{task_id}.{index}] ".encode()
            try:
                f = open(entry[0], "rb")  # noqa: SIM115 - closed below
            except OSError:
                continue
            with f:
                f.seek(entry[1])
                while data := f.read(READ_CHUNK):
                    entry[1] += len(data)
                    lines = self._lines(prefix, entry, data)
                    del data
                    if lines:
                        yield lines
            if final and entry[2]:
                yield [prefix + entry[2] + b"\n"]
                entry[2] = b""

    @staticmethod
    def _lines(prefix: bytes, entry: list, data: bytes) -> list[bytes]:
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
        return out


def follow(
    runner: Runner,
    run_id: str,
    display: Display,
    watch: WatchedOutput | None = None,
    *,
    timeout: float | None = None,
    cancel_on_interrupt: bool = True,
) -> RunStatus:
    """Follow ``run_id`` until every instance ended (or ``timeout`` seconds passed);
    the last status. The display is closed on the way out, whatever happens.

    :param cancel_on_interrupt: on Ctrl-C, cancel the run (then re-raise).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    unknown_since: float | None = None
    try:
        while True:
            # The transformer's own wait notices the end as soon as it can; the display and
            # watched output refresh at least every REFRESH seconds meanwhile.
            step = (
                REFRESH if deadline is None else max(0.0, min(REFRESH, deadline - time.monotonic()))
            )
            status = runner.wait(run_id, timeout=step)
            if watch is not None:
                for lines in watch.batches():
                    display.output(lines)
            display.update(status)
            if status.finished or (deadline is not None and time.monotonic() >= deadline):
                break
            open_ = [t for t in status.tasks if not t.state.terminal]
            if open_ and all(t.state is TaskState.UNKNOWN for t in open_):
                unknown_since = unknown_since or time.monotonic()
                budget = _error_budget(runner, status.run.transformer)
                if time.monotonic() - unknown_since >= budget:
                    raise BackendError(
                        f"run {run_id}: the scheduler could not be asked for {budget:g} s: "
                        f"{open_[0].reason or 'no answer'}"
                    )
            else:
                unknown_since = None
        if watch is not None:
            for lines in watch.batches(final=True):
                display.output(lines)
    except KeyboardInterrupt:
        display.close()
        if cancel_on_interrupt:
            print(f"jobspec: interrupted: cancelling run {run_id}", file=sys.stderr)
            runner.cancel(run_id)
        raise
    except BaseException:
        display.close()
        raise
    display.close()
    return status


def _error_budget(runner: Runner, transformer: str) -> float:
    """The transformer's ``error_budget`` (seconds of nothing but errors); the default of
    :class:`~jobspec_core.transformer.Transformer` when the runner is a service client
    (``--server``: its transformers are not loaded here)."""
    from ..transformer import Transformer

    registry = getattr(runner, "registry", None)
    cls = registry.transformers.get(transformer) if registry is not None else None
    return float(getattr(cls, "error_budget", Transformer.error_budget))
