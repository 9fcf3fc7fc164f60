"""Paths inside a document: tuples of keys and list indices, and their text form."""

from __future__ import annotations

__all__ = ["DocPath", "format_path"]

DocPath = tuple[str | int, ...]


def format_path(path: DocPath) -> str:
    """``("tasks", 1, "command")`` -> ``tasks[1].command``; ``()`` -> ``""``. A key that is
    not printable text (``"PATH\\n"``) is shown quoted, ``environment['PATH\\n']``, so a
    problem stays on one line."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not part.isprintable():
            text += f"[{part!r}]"
        else:
            text += f".{part}" if text else str(part)
    return text
