"""Text a backend writes into a generated script outside of a quoted word.

Quoted words are :func:`shlex.quote`'s job. This module is the one home of the other
case, text on a comment line (a file name, a path, a plan id shown to the reader): it
must never end the comment, or whatever follows the line break becomes code.

* :func:`comment`: ``text`` for the rest of a ``#`` comment line: every character that is
  not printable (a newline, a carriage return, an escape, U+2028 ...) is written as its
  Python escape (``\\n``, ``\\x1b``, ``\\u2028``), so the comment stays one line and still
  says what the value was.
* :func:`unprintable`: the first such character of a value, for backends that must
  refuse a value rather than write it (a scheduler directive has no quoting at all).
"""

from __future__ import annotations

__all__ = ["comment", "unprintable"]


def _escape(ch: str) -> str:
    return ch.encode("unicode_escape").decode("ascii")


def comment(text: object) -> str:
    """``text`` made safe for the rest of a ``#`` comment line (see the module docstring)."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in s)


def unprintable(text: str) -> str | None:
    """The first non-printable character of ``text`` as an escape (``\\n``), or ``None``."""
    if text.isprintable():
        return None
    return next(_escape(ch) for ch in text if not ch.isprintable())
