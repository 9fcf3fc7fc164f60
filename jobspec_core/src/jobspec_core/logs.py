"""The output of a run's task instances: which instances a request names, and their logs
as a stream of bounded chunks (a log of any size is never read whole into memory).

Used by ``jobspec logs`` and by the service's logs endpoint, so both print the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from .runrecords import TaskRecord

__all__ = ["select_instances", "log_chunks", "CHUNK"]

#: bytes read from a log at a time
CHUNK = 64 * 1024


def select_instances(tasks: Sequence[TaskRecord], wanted: str | None) -> list[TaskRecord]:
    """The instances ``wanted`` names: all (``None``), every replica of a task id, or one
    ``ID.INDEX``; ``[]`` when it names none."""
    if wanted is None:
        return list(tasks)
    exact = [t for t in tasks if t.task_id == wanted]
    if exact:
        return exact
    base, dot, index = wanted.rpartition(".")
    if dot and index.isdigit():
        return [t for t in tasks if t.task_id == base and t.index == int(index)]
    return []


def log_chunks(
    chosen: Sequence[TaskRecord], read: Callable[..., bytes] | None = None
) -> Iterator[bytes]:
    """Each chosen instance's log, under a ``==> ID.INDEX <==`` header when there are
    several; a note for an instance without a log (yet).

    :param read: ``read(path, offset, limit) -> bytes`` for logs on another host (a remote
        run's :meth:`~jobspec_core.ssh.SshRunner.read_file`), read :data:`CHUNK` bytes at a
        time; empty bytes at offset 0 mean no output yet.
    """
    for t in chosen:
        if len(chosen) > 1:
            yield f"==> {t.task_id}.{t.index} <==\n".encode()
        if not t.log:
            yield b"(no log recorded)\n"
            continue
        if read is not None:
            offset = 0
            while chunk := read(t.log, offset, CHUNK):
                offset += len(chunk)
                yield chunk
            if offset == 0:
                yield f"(no output yet: {t.log} is empty or does not exist)\n".encode()
            continue
        try:
            with open(t.log, "rb") as f:
                while chunk := f.read(CHUNK):
                    yield chunk
        except FileNotFoundError:
            yield f"(no output yet: {t.log} does not exist)\n".encode()
