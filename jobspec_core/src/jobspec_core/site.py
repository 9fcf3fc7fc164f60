"""A site's description: subsystems of nodes that requirements are evaluated against.

A **subsystem** is a named set of nodes; a node is a mapping of fields (``type``,
``cpu.target``, ``cores``...) with an ``attributes`` mapping. Two sources, combined by
:func:`describe_site`:

* transformers, through the hook ``jobspec_describe_site`` (the local backend describes
  this machine as the subsystem ``system``);
* subsystem graphs in JSON Graph Format (JGF) files, as the compspec extractors write
  them, read from a directory (``--subsystems DIR``, else ``$JOBSPEC_SUBSYSTEMS``) by
  :func:`load_subsystems`. A file's subsystem is named by the ``type`` of its first node
  (``spack``, ``environment-modules``); each node's ``metadata`` is the node.

A malformed file is a :class:`SiteError` naming its path (exit code 2). Nothing here
runs a command or builds a query: the files are read as data.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import EXIT_USAGE, JobspecError

__all__ = [
    "SUBSYSTEMS_ENV",
    "MAX_FILE_BYTES",
    "Subsystem",
    "Site",
    "SiteError",
    "load_subsystems",
    "read_jgf",
    "describe_site",
]

SUBSYSTEMS_ENV = "JOBSPEC_SUBSYSTEMS"
#: a subsystem file larger than this is refused (a site's graph is kilobytes to megabytes)
MAX_FILE_BYTES = 64 * 1024 * 1024


class SiteError(JobspecError):
    """A subsystem directory or file that cannot be read as a site description."""

    exit_code = EXIT_USAGE


@dataclass
class Subsystem:
    """One subsystem: ``name``, its ``nodes`` (mappings of fields, each possibly with an
    ``attributes`` mapping), where it was described (``origin``: a file path or
    ``transformer NAME``), and ``unknown``: fields the describer cannot know, with why
    (a requirement failing on one of them cannot be evaluated rather than not met)."""

    name: str
    nodes: list[dict[str, Any]]
    origin: str
    unknown: dict[str, str] = field(default_factory=dict)


@dataclass
class Site:
    """Every subsystem of a site, by name (several sources of one name add up)."""

    subsystems: dict[str, list[Subsystem]] = field(default_factory=dict)

    def add(self, subsystem: Subsystem) -> None:
        self.subsystems.setdefault(subsystem.name, []).append(subsystem)

    def names(self) -> list[str]:
        return sorted(self.subsystems)


def _fail(path: Path, what: str) -> SiteError:
    return SiteError(f"{path}: not a JGF subsystem graph: {what}")


def read_jgf(path: Path) -> Subsystem:
    """The subsystem in one JGF file (``{"graph": {"nodes": {...} | [...]}}``)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _fail(path, f"{size} bytes, more than the {MAX_FILE_BYTES} allowed")
        text = path.read_text("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise SiteError(f"{path}: cannot read it: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(
            path, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    except RecursionError as exc:
        raise _fail(path, "nested too deeply") from exc
    graph = data.get("graph") if isinstance(data, dict) else None
    if not isinstance(graph, dict):
        raise _fail(path, "expected an object with a 'graph' object at the top")
    raw = graph.get("nodes")
    if isinstance(raw, dict):
        entries = list(raw.items())
    elif isinstance(raw, list):
        entries = [(n.get("id") if isinstance(n, dict) else None, n) for n in raw]
    else:
        raise _fail(path, "expected 'graph.nodes' as an object (id -> node) or a list")
    if not entries:
        raise _fail(path, "'graph.nodes' is empty")
    nodes = []
    for key, node in entries:
        if not isinstance(node, dict):
            raise _fail(path, f"node {key!r} is not an object")
        metadata = node.get("metadata", {})
        if not isinstance(metadata, dict):
            raise _fail(path, f"node {key!r}: 'metadata' is not an object")
        attributes = metadata.get("attributes", {})
        if not isinstance(attributes, dict):
            raise _fail(path, f"node {key!r}: 'metadata.attributes' is not an object")
        nodes.append(metadata)
    first = nodes[0].get("type")
    if not isinstance(first, str) or not first:
        raise _fail(path, "its first node has no 'metadata.type' (which names the subsystem)")
    return Subsystem(name=first, nodes=nodes, origin=str(path))


def load_subsystems(directory: str | os.PathLike) -> list[Subsystem]:
    """Every ``*.json`` file under ``directory`` (recursively, in name order) as a
    subsystem. A directory that does not exist, or holds no such file, is an error."""
    root = Path(directory)
    if not root.is_dir():
        raise SiteError(f"{root}: the subsystems directory does not exist")
    files = sorted(p for p in root.rglob("*.json") if p.is_file())
    if not files:
        raise SiteError(f"{root}: no subsystem files (*.json) in the subsystems directory")
    return [read_jgf(p) for p in files]


def describe_site(
    transformer=None,
    *,
    registry=None,
    context=None,
    subsystems: str | os.PathLike | None = None,
    environ: dict[str, str] | None = None,
) -> Site:
    """The site a plan would run on: what ``transformer`` reports through the
    ``jobspec_describe_site`` hook (with ``context``, the run context it would get), plus
    the JGF files of ``subsystems`` (default ``$JOBSPEC_SUBSYSTEMS``; none when unset)."""
    site = Site()
    if transformer is not None:
        manager = getattr(registry, "manager", None)
        if manager is None:
            from .plugins import get_registry

            manager = get_registry().manager
        if manager is not None:
            results = manager.hook.jobspec_describe_site(transformer=transformer, context=context)
            for found in results:
                for subsystem in _as_subsystems(found):
                    site.add(subsystem)
    env = os.environ if environ is None else environ
    directory = subsystems if subsystems is not None else env.get(SUBSYSTEMS_ENV) or None
    if directory:
        for subsystem in load_subsystems(directory):
            site.add(subsystem)
    return site


def _as_subsystems(found: Any) -> Iterable[Subsystem]:
    if found is None:
        return ()
    if isinstance(found, Subsystem):
        return (found,)
    return [s for s in found if isinstance(s, Subsystem)]
