"""Loading JobSpec YAML into a :class:`Document` that remembers where every node was.

The YAML itself is read by PyYAML's event parser (libyaml's C parser when PyYAML was built
with it, the pure-Python one otherwise); PyYAML supplies every line and column.
:mod:`.yamlbuild` only assembles the events into plain data (dicts, lists, str, int, float, bool, None) and
records, for every node, its document path and position in :attr:`Document.positions`.

Why events and not ``yaml.compose``: the composer recurses once per nesting level (libyaml's
C composer crashes the interpreter on ``[[[[...`` a hundred thousand deep) and builds a node
graph we would walk again; assembling from events is iterative, about four times faster, and
lets us refuse bad input the moment it is seen.

Contract: :func:`load` and :func:`load_text` either return a :class:`Document` whose top
level is a mapping, or raise :class:`~jobspec_core.errors.InvalidJobspec` with clear
problems; they never raise anything else for any input, and bound their work:

* at most :data:`MAX_BYTES` of input, :data:`MAX_DEPTH` nesting levels,
  :data:`MAX_ALIASES` alias references, :data:`MAX_NODES` nodes counted with aliases
  expanded (a "billion laughs" bomb is refused after a few hundred events) and
  :data:`MAX_ITEMS` entries in one mapping or list (all in :mod:`.limits`);
* every scalar is built by :func:`.scalars.construct`, which is total: a text that does
  not fit its tag (``!!int ''``, a 5,000-digit integer) is a problem, never an exception;
* NUL bytes, text that is not UTF-8, tabs in indentation, several documents in one file, an
  empty document and a top level that is not a mapping are each reported in plain words.

Findings that do not stop loading (a duplicate key, a key that is not a string, an
unsupported tag) go to :attr:`Document.problems`; :func:`jobspec_core.validate.validate_document`
reports them together with every other problem.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .docpath import DocPath, format_path
from .errors import InvalidJobspec, Problem
from .limits import MAX_ALIASES, MAX_BYTES, MAX_DEPTH, MAX_ITEMS, MAX_NODES
from .plan import SourceRef
from .planner import gc_paused
from .yamlbuild import EventBuilder, LoadStop, kind_of

__all__ = [
    "Document",
    "load",
    "load_text",
    "read_source",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_ALIASES",
    "MAX_NODES",
    "MAX_ITEMS",
]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Document:
    """A loaded (not yet validated) document.

    :ivar data: the YAML content as plain Python data (a dict at the top).
    :ivar filename: the name to report in problems (as the user gave it), or ``None``.
    :ivar positions: document path -> (line, column), both 1-based: for a mapping entry,
        where its key starts; for a list item, where the item starts.
    :ivar problems: findings made while loading that did not stop it (duplicate keys,
        non-string keys, unsupported tags, scalars that do not fit their tag); reported by
        validation with the rest.
    :ivar unlisted: how many more such findings were only counted (past
        :data:`.limits.MAX_PROBLEMS`).
    """

    data: Any
    filename: str | None = None
    positions: dict[DocPath, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    unlisted: int = 0

    def locate(self, path: DocPath) -> SourceRef:
        """A :class:`SourceRef` for ``path``, using the nearest known ancestor's position."""
        probe = tuple(path)
        while probe and probe not in self.positions:
            probe = probe[:-1]
        line, column = self.positions.get(probe, (None, None))
        return SourceRef(self.filename, line, column, format_path(tuple(path)))

    def problem(self, path: DocPath, message: str, **kwargs: Any) -> Problem:
        """A :class:`Problem` located at ``path``."""
        ref = self.locate(path)
        return Problem(message, ref.path, ref.file, ref.line, ref.column, **kwargs)


def _decode(raw: bytes, filename: str | None) -> str:
    if len(raw) > MAX_BYTES:
        raise LoadStop(
            Problem(
                f"the file is {len(raw):,} bytes, more than the {MAX_BYTES // 1024 // 1024} MiB "
                "a jobspec may have",
                file=filename,
                code="too-large",
            )
        )
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        column = nul - (raw.rfind(b"\n", 0, nul) + 1) + 1
        raise LoadStop(
            Problem(
                "the file contains a NUL byte: this looks like binary data, not a YAML "
                "jobspec (expected UTF-8 text)",
                file=filename,
                line=line,
                column=column,
                code="encoding",
            )
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise LoadStop(
            Problem(
                f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} cannot be decoded); "
                "save it as UTF-8",
                file=filename,
                line=line,
                column=column,
                code="encoding",
            )
        ) from None
    return text


def _yaml_problem(exc: yaml.YAMLError, text: str, filename: str | None) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    lines = text.splitlines()
    tab_line = None
    if line is not None:
        # libyaml reports a tab in indentation at the tab, or at the token after it.
        for candidate in (line, line - 1):
            if 1 <= candidate <= len(lines):
                current = lines[candidate - 1]
                indent = current[: len(current) - len(current.lstrip(" \t"))]
                if "\t" in indent:
                    tab_line = candidate
                    break
    if "\\t" in problem or "'\\t'" in problem or tab_line is not None:
        where = tab_line or line
        tab_column = None
        if where is not None and 1 <= where <= len(lines):
            tab_column = lines[where - 1].find("\t") + 1 or None
        return Problem(
            "a tab character in the indentation: YAML indents with spaces only (replace the "
            "tabs with spaces)",
            file=filename,
            line=where,
            column=tab_column or column,
            code="yaml-tab",
        )
    message = f"not valid YAML: {problem}"
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    if context and context_mark is not None and context_mark.line + 1 != line:
        message += f" ({context} that started at line {context_mark.line + 1})"
    return Problem(message, file=filename, line=line, column=column, code="yaml")


def load_text(text: str | bytes, filename: str | None = None) -> Document:
    """Load a document from text (``str``, or ``bytes`` that must be UTF-8).

    Raises :class:`InvalidJobspec` when it is not a YAML mapping (see the module docstring
    for everything refused); problems that do not stop loading are in
    :attr:`Document.problems`.
    """
    try:
        if isinstance(text, bytes | bytearray):
            text = _decode(bytes(text), filename)
        elif len(text) > MAX_BYTES:
            raise LoadStop(
                Problem(
                    f"the text is longer than {MAX_BYTES:,} characters",
                    file=filename,
                    code="too-large",
                )
            )
        elif "\x00" in text:
            line = text.count("\n", 0, text.index("\x00")) + 1
            raise LoadStop(
                Problem(
                    "the text contains a NUL character: expected YAML text",
                    file=filename,
                    line=line,
                    code="encoding",
                )
            )
        builder = EventBuilder(filename, MAX_DEPTH, MAX_ALIASES, MAX_NODES, MAX_ITEMS)
        loader = _Loader(text)
        try:
            with gc_paused():
                data = builder.run(loader)
        except yaml.YAMLError as exc:
            if "maximum nesting depth" in str(getattr(exc, "problem", "") or exc):
                # libyaml (0.2.5 and later) has a nesting limit of its own, which its scanner
                # can reach before the builder has seen MAX_DEPTH levels (flow collections
                # are read ahead): the same problem as ours, said in the same words.
                raise builder.too_deep(getattr(exc, "problem_mark", None)) from None
            raise LoadStop(_yaml_problem(exc, text, filename)) from None
        finally:
            loader.dispose()
    except LoadStop as fatal:
        raise InvalidJobspec([fatal.problem]) from None
    if data is None:
        raise InvalidJobspec(
            [
                Problem(
                    "the document is empty: expected a mapping that starts with 'version: 1'",
                    file=filename,
                    line=1,
                    column=1,
                    code="empty",
                )
            ]
        )
    if not isinstance(data, dict):
        top_line, top_column = builder.positions.get((), (None, None))
        raise InvalidJobspec(
            [
                Problem(
                    f"expected a mapping (lines of 'key: value') at the top of the document, "
                    f"found {kind_of(data)}",
                    file=filename,
                    line=top_line,
                    column=top_column,
                    code="top-level",
                )
            ]
        )
    return Document(data, filename, builder.positions, builder.problems, builder.unlisted)


def read_source(path: str | Path) -> bytes:
    """The bytes of the jobspec file ``path`` (at most :data:`MAX_BYTES` + 1 of them).

    Only a regular file is read: a FIFO, a device or a directory is refused at once (opened
    without blocking, then checked), never waited on. Raises :class:`InvalidJobspec`.
    """
    name = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InvalidJobspec(
            [Problem(f"cannot read the file: {reason}", file=name, code="io")]
        ) from exc
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = (
                "a directory"
                if stat.S_ISDIR(mode)
                else "a named pipe (FIFO)"
                if stat.S_ISFIFO(mode)
                else "a device"
                if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "a socket"
                if stat.S_ISSOCK(mode)
                else "not a regular file"
            )
            raise InvalidJobspec(
                [
                    Problem(
                        f"cannot read the file: it is {kind}; expected a regular file "
                        "holding a YAML jobspec",
                        file=name,
                        code="io",
                    )
                ]
            )
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(MAX_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InvalidJobspec(
            [Problem(f"cannot read the file: {reason}", file=name, code="io")]
        ) from exc
    finally:
        os.close(fd)


def load(path: str | Path) -> Document:
    """Load a document from a file (see :func:`read_source`); problems name the path as
    given."""
    return load_text(read_source(path), str(path))
