"""Loading JobSpec YAML into a :class:`Document` that remembers where every node was.

The YAML itself is read by PyYAML's event parser (libyaml's C parser when PyYAML was built
with it, the pure-Python one otherwise); PyYAML supplies every line and column. This module
only assembles the events into plain data (dicts, lists, str, int, float, bool, None) and
records, for every node, its document path and position in :attr:`Document.positions`.

Why events and not ``yaml.compose``: the composer recurses once per nesting level (libyaml's
C composer crashes the interpreter on ``[[[[...`` a hundred thousand deep) and builds a node
graph we would walk again; assembling from events is iterative, about four times faster, and
lets us refuse bad input the moment it is seen.

Contract: :func:`load` and :func:`load_text` either return a :class:`Document` whose top
level is a mapping, or raise :class:`~jobspec_core.errors.InvalidJobspec` with clear
problems; they never raise anything else for any input, and bound their work:

* at most :data:`MAX_BYTES` of input, :data:`MAX_DEPTH` nesting levels,
  :data:`MAX_ALIASES` alias references and :data:`MAX_NODES` nodes counted with aliases
  expanded (a "billion laughs" bomb is refused after a few hundred events);
* NUL bytes, text that is not UTF-8, tabs in indentation, several documents in one file, an
  empty document and a top level that is not a mapping are each reported in plain words.

Findings that do not stop loading (a duplicate key, a key that is not a string, an
unsupported tag) go to :attr:`Document.problems`; :func:`jobspec_core.validate.validate_document`
reports them together with every other problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .docpath import DocPath, format_path
from .errors import InvalidJobspec, Problem
from .plan import SourceRef
from .planner import gc_paused

__all__ = [
    "Document",
    "load",
    "load_text",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_ALIASES",
    "MAX_NODES",
]

#: Largest input accepted, in bytes (100,000 tasks take about 7 MiB).
MAX_BYTES = 32 * 1024 * 1024
#: Deepest nesting of mappings and sequences accepted.
MAX_DEPTH = 64
#: Most alias references (``*name``) accepted in one document.
MAX_ALIASES = 10_000
#: Most nodes accepted, counting every alias as a full copy of what it refers to.
MAX_NODES = 4_000_000

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAG = "tag:yaml.org,2002:"
#: Tags of plain scalars whose resolution is cached (immutable values, never a problem).
_CACHEABLE_TAGS = {f"{_TAG}{n}" for n in ("str", "int", "float", "bool", "null", "timestamp")}
_SCALAR_TAGS = {f"{_TAG}{n}" for n in ("str", "int", "float", "bool", "null", "timestamp")}


@dataclass
class Document:
    """A loaded (not yet validated) document.

    :ivar data: the YAML content as plain Python data (a dict at the top).
    :ivar filename: the name to report in problems (as the user gave it), or ``None``.
    :ivar positions: document path -> (line, column), both 1-based: for a mapping entry,
        where its key starts; for a list item, where the item starts.
    :ivar problems: findings made while loading that did not stop it (duplicate keys,
        non-string keys, unsupported tags); reported by validation with the rest.
    """

    data: Any
    filename: str | None = None
    positions: dict[DocPath, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

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


class _Fatal(Exception):
    """Stops loading; carries the problem to raise."""

    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    return f"a string ({value!r})"


class _Frame:
    """A mapping or sequence being assembled."""

    __slots__ = ("value", "path", "is_map", "key", "key_mark", "seen", "anchor", "start",
                 "merges", "as_key", "mark", "key_is_merge")

    def __init__(self, value, path, is_map, anchor, start, mark, as_key):
        self.value = value
        self.path = path
        self.is_map = is_map
        self.key = _NO_KEY  # mapping: the pending key, or _NO_KEY when a key comes next
        self.key_mark = None
        self.seen: dict[Any, int] = {}  # key -> line, for duplicate detection
        self.anchor = anchor
        self.start = start  # node counter when the frame opened (alias sizes)
        self.merges: list[tuple[Any, tuple[int, int]]] = []
        self.as_key = as_key  # this collection is used as a mapping key (an error)
        self.mark = mark
        self.key_is_merge = False


_NO_KEY = object()


class _Builder:
    """Assembles parser events into data, positions and non-fatal problems."""

    def __init__(self, filename: str | None):
        self.filename = filename
        self.positions: dict[DocPath, tuple[int, int]] = {}
        self.problems: list[Problem] = []
        self.anchors: dict[str, tuple[Any, int]] = {}  # name -> (value, expanded size)
        self.open_anchors: set[str] = set()
        self.nodes = 0
        self.aliases = 0
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.constructor = yaml.SafeLoader("")
        self.plain: dict[str, Any] = {}  # plain scalar text -> its value (resolution cache)

    # -- helpers -----------------------------------------------------------------------
    def _problem(self, mark, message: str, path: DocPath = (), code: str = "yaml") -> Problem:
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        return Problem(message, format_path(path), self.filename, line, column, code=code)

    def _fatal(self, mark, message: str, code: str = "yaml") -> _Fatal:
        path = self.stack[-1].path if self.stack else ()
        return _Fatal(self._problem(mark, message, path, code))

    def _count(self, amount: int, mark) -> None:
        self.nodes += amount
        if self.nodes > MAX_NODES:
            if self.aliases:
                message = (f"the document expands to more than {MAX_NODES:,} nodes (counting "
                           "each alias as a copy of what it refers to); refused as a possible "
                           "YAML bomb")
            else:
                message = f"the document has more than {MAX_NODES:,} nodes; too large"
            raise self._fatal(mark, message, code="too-large")

    def _scalar(self, event) -> Any:
        value = event.value
        tag = event.tag
        if tag is None or tag == "!":
            if not event.implicit[0] or tag == "!":
                return value
            cached = self.plain.get(value, _NO_KEY)
            if cached is not _NO_KEY:
                return cached
            tag = self.constructor.resolve(yaml.ScalarNode, value, (True, False))
            if tag in _CACHEABLE_TAGS:
                resolved = self._construct(event, tag)
                if len(self.plain) < 100_000:
                    self.plain[value] = resolved
                return resolved
        return self._construct(event, tag)

    def _construct(self, event, tag: str) -> Any:
        value = event.value
        if tag == f"{_TAG}str" or tag == f"{_TAG}value":
            return value
        if tag not in _SCALAR_TAGS:
            self.problems.append(
                self._problem(
                    event.start_mark,
                    f"unsupported YAML tag {tag!r}: only plain strings, numbers, booleans, "
                    "null, mappings and lists are allowed",
                    self._child_path(),
                    code="yaml-tag",
                )
            )
            return value
        if tag == f"{_TAG}timestamp":
            return value  # dates stay text: the plan is JSON
        if tag == f"{_TAG}int" and value.isdigit() and (value[0] != "0" or value == "0"):
            return int(value)
        node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark)
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as exc:
            self.problems.append(
                self._problem(event.start_mark, f"cannot read {value!r} as {tag[len(_TAG):]}: "
                              f"{exc}", self._child_path(), code="yaml-tag")
            )
            return value

    def _child_path(self) -> DocPath:
        if not self.stack:
            return ()
        top = self.stack[-1]
        if top.is_map:
            return top.path if top.key is _NO_KEY else top.path + (top.key,)
        return top.path + (len(top.value),)

    def _key_from(self, value: Any, mark) -> Any:
        """A mapping key: scalars become text where they are not (``1:`` -> ``"1"``)."""
        if isinstance(value, str):
            return value
        top = self.stack[-1]
        if isinstance(value, dict | list):
            text = "a mapping" if isinstance(value, dict) else "a list"
            self.problems.append(
                self._problem(mark, f"a mapping key must be a plain word, found {text}",
                              top.path, code="key-type")
            )
            return f"<{text} at line {mark.line + 1}>"
        shown = "null" if value is None else str(value).lower() if isinstance(value, bool) else value
        self.problems.append(
            self._problem(
                mark,
                f"a mapping key must be a string, found {_kind(value)}; "
                f"quote it (\"{shown}\") if it is meant as text",
                top.path + (str(shown),),
                code="key-type",
            )
        )
        return str(shown)

    # -- assembling --------------------------------------------------------------------
    def add(self, value: Any, mark, key_mark=None, is_collection: bool = False) -> None:
        """Place a finished value into the enclosing collection (or make it the root)."""
        if not self.stack:
            self.root = value
            self.positions[()] = (mark.line + 1, mark.column + 1)
            return
        top = self.stack[-1]
        if not top.is_map:
            path = top.path + (len(top.value),)
            top.value.append(value)
            self.positions.setdefault(path, (mark.line + 1, mark.column + 1))
            return
        if top.key is _NO_KEY:
            top.key = value
            top.key_mark = mark
            return
        key, kmark = top.key, top.key_mark
        top.key = _NO_KEY
        if key == "<<" and top.key_is_merge:
            top.merges.append((value, (kmark.line + 1, kmark.column + 1)))
            return
        if key in top.seen:
            self.problems.append(
                self._problem(
                    kmark,
                    f"duplicate key {key!r}: first at line {top.seen[key]}, again at line "
                    f"{kmark.line + 1}; each key may appear once in a mapping",
                    top.path + (key,),
                    code="duplicate-key",
                )
            )
        else:
            top.seen[key] = kmark.line + 1
        top.value[key] = value
        self.positions[top.path + (key,)] = (kmark.line + 1, kmark.column + 1)

    def run(self, loader) -> Any:
        """Consume the events of one document; returns its data (``None`` when empty)."""
        get = loader.get_event
        event = get()  # StreamStart
        event = get()
        if isinstance(event, yaml.StreamEndEvent):
            return None
        # DocumentStart
        while True:
            event = get()
            cls = type(event)
            if cls is yaml.ScalarEvent:
                self._count(1, event.start_mark)
                top = self.stack[-1] if self.stack else None
                as_key = top is not None and top.is_map and top.key is _NO_KEY
                if as_key:
                    top.key_is_merge = (
                        event.value == "<<" and event.implicit[0] and event.tag is None
                    )
                    if top.key_is_merge:
                        resolved = "<<"
                    else:
                        resolved = self._key_from(self._scalar(event), event.start_mark)
                    self.add(resolved, event.start_mark)
                    continue
                value = self._scalar(event)
                if event.anchor is not None:
                    self.anchors[event.anchor] = (value, 1)
                self.add(value, event.start_mark)
            elif cls is yaml.MappingStartEvent or cls is yaml.SequenceStartEvent:
                self._count(1, event.start_mark)
                if len(self.stack) >= MAX_DEPTH:
                    raise self._fatal(
                        event.start_mark,
                        f"nesting deeper than {MAX_DEPTH} levels; a JobSpec never needs that",
                        code="too-deep",
                    )
                top = self.stack[-1] if self.stack else None
                as_key = top is not None and top.is_map and top.key is _NO_KEY
                is_map = cls is yaml.MappingStartEvent
                path = self._child_path() if not as_key else top.path
                frame = _Frame({} if is_map else [], path, is_map, event.anchor, self.nodes,
                               event.start_mark, as_key)
                if event.anchor is not None:
                    self.open_anchors.add(event.anchor)
                if event.tag not in (None, "!", f"{_TAG}map", f"{_TAG}seq"):
                    self.problems.append(
                        self._problem(event.start_mark, f"unsupported YAML tag {event.tag!r}",
                                      path, code="yaml-tag")
                    )
                self.stack.append(frame)
            elif cls is yaml.MappingEndEvent or cls is yaml.SequenceEndEvent:
                frame = self.stack.pop()
                if frame.is_map and frame.merges:
                    self._merge(frame)
                if frame.anchor is not None:
                    self.open_anchors.discard(frame.anchor)
                    self.anchors[frame.anchor] = (frame.value, self.nodes - frame.start + 1)
                value = frame.value
                if frame.as_key:
                    value = self._key_from(value, frame.mark)
                self.add(value, frame.mark, is_collection=True)
            elif cls is yaml.AliasEvent:
                name = event.anchor
                if name in self.open_anchors:
                    raise self._fatal(
                        event.start_mark,
                        f"alias *{name} refers to a mapping or list that contains it "
                        "(a recursive structure); JobSpec documents are trees",
                        code="yaml-alias",
                    )
                if name not in self.anchors:
                    raise self._fatal(
                        event.start_mark,
                        f"alias *{name} refers to no anchor: define '&{name}' before using it",
                        code="yaml-alias",
                    )
                self.aliases += 1
                if self.aliases > MAX_ALIASES:
                    raise self._fatal(
                        event.start_mark,
                        f"more than {MAX_ALIASES:,} alias references (*name); refused as a "
                        "possible YAML bomb",
                        code="too-large",
                    )
                value, size = self.anchors[name]
                self._count(size, event.start_mark)
                top = self.stack[-1] if self.stack else None
                if top is not None and top.is_map and top.key is _NO_KEY:
                    top.key_is_merge = False
                    value = self._key_from(value, event.start_mark)
                self.add(value, event.start_mark, is_collection=isinstance(value, dict | list))
            elif cls is yaml.DocumentEndEvent:
                break
        nxt = get()
        if not isinstance(nxt, yaml.StreamEndEvent):
            raise _Fatal(
                self._problem(
                    nxt.start_mark,
                    "a second YAML document ('---') in the same file; one file holds one "
                    "jobspec: split it into separate files",
                    code="multiple-documents",
                )
            )
        return self.root

    def _merge(self, frame: _Frame) -> None:
        """Apply ``<<: *defaults`` merge keys: explicit keys win, then earlier merges."""
        for value, position in frame.merges:
            sources = value if isinstance(value, list) else [value]
            for source in sources:
                if not isinstance(source, dict):
                    self.problems.append(
                        Problem(
                            f"a merge key '<<' takes a mapping or a list of mappings, found "
                            f"{_kind(source)}",
                            format_path(frame.path + ("<<",)), self.filename, *position,
                            code="yaml-merge",
                        )
                    )
                    continue
                for key, item in source.items():
                    if key not in frame.value:
                        frame.value[key] = item
                        frame.seen[key] = position[0]
                        self.positions.setdefault(frame.path + (key,), position)


def _decode(raw: bytes, filename: str | None) -> str:
    if len(raw) > MAX_BYTES:
        raise _Fatal(
            Problem(
                f"the file is {len(raw):,} bytes, more than the {MAX_BYTES // 1024 // 1024} MiB "
                "a jobspec may have",
                file=filename, code="too-large",
            )
        )
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        column = nul - (raw.rfind(b"\n", 0, nul) + 1) + 1
        raise _Fatal(
            Problem(
                "the file contains a NUL byte: this looks like binary data, not a YAML "
                "jobspec (expected UTF-8 text)",
                file=filename, line=line, column=column, code="encoding",
            )
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _Fatal(
            Problem(
                f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} cannot be decoded); "
                "save it as UTF-8",
                file=filename, line=line, column=column, code="encoding",
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
            file=filename, line=where, column=tab_column or column, code="yaml-tab",
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
            raise _Fatal(Problem(f"the text is longer than {MAX_BYTES:,} characters",
                                 file=filename, code="too-large"))
        elif "\x00" in text:
            line = text.count("\n", 0, text.index("\x00")) + 1
            raise _Fatal(Problem("the text contains a NUL character: expected YAML text",
                                 file=filename, line=line, code="encoding"))
        builder = _Builder(filename)
        loader = _Loader(text)
        try:
            with gc_paused():
                data = builder.run(loader)
        except yaml.YAMLError as exc:
            raise _Fatal(_yaml_problem(exc, text, filename)) from None
        finally:
            loader.dispose()
    except _Fatal as fatal:
        raise InvalidJobspec([fatal.problem]) from None
    if data is None:
        raise InvalidJobspec(
            [Problem("the document is empty: expected a mapping that starts with 'version: 1'",
                     file=filename, line=1, column=1, code="empty")]
        )
    if not isinstance(data, dict):
        line, column = builder.positions.get((), (None, None))
        raise InvalidJobspec(
            [Problem(f"expected a mapping (lines of 'key: value') at the top of the document, "
                     f"found {_kind(data)}", file=filename, line=line, column=column,
                     code="top-level")]
        )
    return Document(data, filename, builder.positions, builder.problems)


def load(path: str | Path) -> Document:
    """Load a document from a file; problems name the path as given."""
    name = str(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InvalidJobspec(
            [Problem(f"cannot read the file: {reason}", file=name, code="io")]
        ) from exc
    return load_text(raw, name)
