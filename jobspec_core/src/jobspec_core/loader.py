"""Loading JobSpec YAML into a :class:`Document` that remembers where every node was.

(Skeleton: to be completed with line tracking, duplicate-key and alias-bomb checks.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .docpath import DocPath, format_path
from .errors import InvalidJobspec, Problem
from .plan import SourceRef

__all__ = ["Document", "load", "load_text"]


@dataclass
class Document:
    """A loaded (not yet validated) document.

    :ivar data: the YAML content as plain Python data.
    :ivar filename: the name to report in problems (as the user gave it), or ``None``.
    :ivar positions: document path -> (line, column), both 1-based, for every node.
    """

    data: Any
    filename: str | None = None
    positions: dict[DocPath, tuple[int, int]] = field(default_factory=dict)

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


def load_text(text: str | bytes, filename: str | None = None) -> Document:
    """Load a document from text; raises :class:`InvalidJobspec` when it is not YAML."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InvalidJobspec(
            [
                Problem(
                    f"not valid YAML: {getattr(exc, 'problem', exc)}",
                    file=filename,
                    line=mark.line + 1 if mark else None,
                    column=mark.column + 1 if mark else None,
                    code="yaml",
                )
            ]
        ) from exc
    return Document(data, filename)


def load(path: str | Path) -> Document:
    """Load a document from a file; problems name the path as given."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidJobspec([Problem(f"cannot read file: {exc.strerror}", file=name, code="io")]) from exc
    return load_text(raw, name)
