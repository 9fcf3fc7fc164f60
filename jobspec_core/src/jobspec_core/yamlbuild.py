"""Assembling PyYAML parser events into plain data and positions (used by :mod:`.loader`).

:class:`EventBuilder` consumes the events of one YAML document, iteratively (no recursion,
whatever the nesting), and produces plain data (dicts, lists, str, int, float, bool, None),
the position of every node keyed by its document path, and the problems that do not stop
loading (duplicate keys, non-string keys, unsupported tags). It stops with
:class:`LoadStop` at the first problem that makes going on pointless or unsafe: nesting,
alias and size limits (given by the caller), recursive or undefined aliases, a second
document.
"""

from __future__ import annotations

from typing import Any

import yaml

from .docpath import DocPath, format_path
from .errors import Problem
from .limits import MAX_PROBLEMS
from .scalars import ScalarError, UnsupportedTag, construct

__all__ = ["EventBuilder", "LoadStop", "kind_of"]

_TAG = "tag:yaml.org,2002:"
#: Tags of plain scalars whose resolution is cached (immutable values, never a problem).
_CACHEABLE_TAGS = {f"{_TAG}{n}" for n in ("str", "int", "float", "bool", "null", "timestamp")}


class LoadStop(Exception):
    """Stops loading; carries the problem to raise."""

    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


def kind_of(value: Any) -> str:
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

    __slots__ = (
        "value",
        "path",
        "is_map",
        "key",
        "key_mark",
        "seen",
        "anchor",
        "start",
        "merges",
        "as_key",
        "mark",
        "key_is_merge",
    )

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


class EventBuilder:
    """Assembles parser events into data, positions and non-fatal problems."""

    def __init__(
        self,
        filename: str | None,
        max_depth: int,
        max_aliases: int,
        max_nodes: int,
        max_items: int = 100_000,
    ):
        self.filename = filename
        self.max_items = max_items
        self.max_depth = max_depth
        self.max_aliases = max_aliases
        self.max_nodes = max_nodes
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
        self.failed = False  # the last scalar constructed was a problem
        self.unlisted = 0  # problems past the listing limit, counted only
        self.refused: dict[tuple[str, str], tuple[str, str]] = {}  # (tag, text) -> why, code

    # -- helpers -----------------------------------------------------------------------
    def _problem(self, mark, message: str, path: DocPath = (), code: str = "yaml") -> Problem:
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        return Problem(message, format_path(path), self.filename, line, column, code=code)

    def _fatal(self, mark, message: str, code: str = "yaml") -> LoadStop:
        path = self.stack[-1].path if self.stack else ()
        return LoadStop(self._problem(mark, message, path, code))

    def _note(self, problem: Problem) -> None:
        """Record a problem that does not stop loading; past :data:`.limits.MAX_PROBLEMS`
        (and one more, to show where the unlisted ones start) they are only counted."""
        if len(self.problems) <= MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.unlisted += 1

    def too_deep(self, mark) -> LoadStop:
        """The stop for nesting deeper than the limit, at ``mark`` (or where we are)."""
        return self._fatal(
            mark,
            f"nesting deeper than {self.max_depth} levels; a JobSpec never needs that",
            code="too-deep",
        )

    def _too_many(self, top: _Frame, mark) -> None:
        """Stop at an oversized collection (checked as it grows, so refused early)."""
        if top.is_map and (top.key is _NO_KEY or top.key in top.value):
            return  # a key waiting for its value, or a duplicate: no new entry
        what = "entries in one mapping" if top.is_map else "items in one list"
        raise LoadStop(
            self._problem(
                mark,
                f"more than {self.max_items:,} {what}; a JobSpec never needs that many",
                top.path,
                code="too-large",
            )
        )

    def _count(self, amount: int, mark) -> None:
        self.nodes += amount
        if self.nodes > self.max_nodes:
            if self.aliases:
                message = (
                    f"the document expands to more than {self.max_nodes:,} nodes (counting "
                    "each alias as a copy of what it refers to); refused as a possible "
                    "YAML bomb"
                )
            else:
                message = f"the document has more than {self.max_nodes:,} nodes; too large"
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
                self.failed = False
                resolved = self._construct(event, tag)
                if not self.failed and len(self.plain) < 100_000:
                    self.plain[value] = resolved  # (a text that failed is reported each time)
                return resolved
        return self._construct(event, tag)

    def _construct(self, event, tag: str) -> Any:
        """The scalar's value by :func:`.scalars.construct`; a text that does not fit its tag
        is a problem (and stays text), so no scalar stops loading or raises. Refusals are
        remembered by (tag, text): a document repeating one bad scalar a million times
        pays for one construction."""
        value = event.value
        key = (tag, value)
        error = self.refused.get(key)
        if error is None:
            try:
                return construct(tag, value)
            except ScalarError as exc:
                self.failed = True
                if len(self.problems) > MAX_PROBLEMS:
                    self.unlisted += 1  # counted only: no message, no Problem built
                    return value
                # (the message and kind only: an exception would keep its frames alive)
                error = (str(exc), "yaml-tag" if isinstance(exc, UnsupportedTag) else "bad-scalar")
            if len(self.refused) < 10_000:
                self.refused[key] = error
        self.failed = True
        if len(self.problems) > MAX_PROBLEMS:
            self.unlisted += 1  # counted only: no Problem built
            return value
        self._note(
            self._problem(
                event.start_mark,
                error[0],
                self._child_path(),
                code=error[1],
            )
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
            self._note(
                self._problem(
                    mark,
                    f"a mapping key must be a plain word, found {text}",
                    top.path,
                    code="key-type",
                )
            )
            return f"<{text} at line {mark.line + 1}>"
        shown = (
            "null" if value is None else str(value).lower() if isinstance(value, bool) else value
        )
        self._note(
            self._problem(
                mark,
                f"a mapping key must be a string, found {kind_of(value)}; "
                f'quote it ("{shown}") if it is meant as text',
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
        if len(top.value) >= self.max_items:
            self._too_many(top, mark)
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
            self._note(
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
                self.nodes += 1
                if self.nodes > self.max_nodes:
                    self._count(0, event.start_mark)
                top = self.stack[-1] if self.stack else None
                if top is not None and top.is_map and top.key is _NO_KEY:
                    # A key: the commonest event, so the usual case is handled inline.
                    text = event.value
                    plain = event.tag is None and event.implicit[0]
                    if plain and text == "<<":
                        top.key_is_merge = True
                        resolved = "<<"
                    else:
                        top.key_is_merge = False
                        resolved = self.plain.get(text, _NO_KEY) if plain else _NO_KEY
                        if resolved is _NO_KEY:
                            resolved = self._scalar(event)
                        if type(resolved) is not str:
                            resolved = self._key_from(resolved, event.start_mark)
                    top.key = resolved
                    top.key_mark = event.start_mark
                    continue
                if event.tag is None and event.implicit[0]:
                    value = self.plain.get(event.value, _NO_KEY)
                    if value is _NO_KEY:
                        value = self._scalar(event)
                else:
                    value = self._scalar(event)
                if event.anchor is not None:
                    self.anchors[event.anchor] = (value, 1)
                self.add(value, event.start_mark)
            elif cls is yaml.MappingStartEvent or cls is yaml.SequenceStartEvent:
                self._count(1, event.start_mark)
                if len(self.stack) >= self.max_depth:
                    raise self.too_deep(event.start_mark)
                top = self.stack[-1] if self.stack else None
                as_key = top is not None and top.is_map and top.key is _NO_KEY
                is_map = cls is yaml.MappingStartEvent
                path = top.path if as_key and top is not None else self._child_path()
                frame = _Frame(
                    {} if is_map else [],
                    path,
                    is_map,
                    event.anchor,
                    self.nodes,
                    event.start_mark,
                    as_key,
                )
                if event.anchor is not None:
                    self.open_anchors.add(event.anchor)
                if event.tag not in (None, "!", f"{_TAG}map", f"{_TAG}seq"):
                    self._note(
                        self._problem(
                            event.start_mark,
                            f"unsupported YAML tag {event.tag!r}",
                            path,
                            code="yaml-tag",
                        )
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
                if self.aliases > self.max_aliases:
                    raise self._fatal(
                        event.start_mark,
                        f"more than {self.max_aliases:,} alias references (*name); refused as a "
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
            raise LoadStop(
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
                    self._note(
                        Problem(
                            f"a merge key '<<' takes a mapping or a list of mappings, found "
                            f"{kind_of(source)}",
                            format_path(frame.path + ("<<",)),
                            self.filename,
                            *position,
                            code="yaml-merge",
                        )
                    )
                    continue
                for key, item in source.items():
                    if key not in frame.value:
                        frame.value[key] = item
                        frame.seen[key] = position[0]
                        self.positions.setdefault(frame.path + (key,), position)
