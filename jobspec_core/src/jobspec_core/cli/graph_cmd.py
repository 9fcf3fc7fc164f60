"""``jobspec graph FILE|RUN [--format dot|mermaid|svg|png] [-o OUT] [--store PATH]``.

Draws a plan: groups as clusters, tasks as boxes (name, ``xN`` replicas, ``local``,
resources), ``depends_on`` as edges; see :mod:`jobspec_core.graph`.

* ``FILE`` is a jobspec (an invalid one exits 2 with every problem, like ``validate``);
  ``RUN`` is a recorded run (an id, a unique prefix or ``latest``), drawn from the plan it
  was submitted with, each task coloured and labelled with its instances' states as last
  recorded (run ``jobspec status RUN`` first to refresh them). An argument that names an
  existing file is a file.
* ``dot`` (the default) and ``mermaid`` print text; ``svg`` and ``png`` are drawn by
  Graphviz's ``dot`` program (:mod:`jobspec_core.graphviz`; a clear error where it is
  missing). ``-o OUT`` writes to a file, and its suffix (``.svg``, ``.png``, ``.dot``,
  ``.gv``, ``.mmd``) picks the format when ``--format`` is not given. A PNG is never
  written to a terminal.
* ``--set NAME=VALUE`` and ``--params FILE`` give a jobspec's parameters their values (a
  recorded run is drawn with the values it ran with). There is no ``--sweep``: a graph
  draws one plan.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import EXIT_USAGE, JobspecError
from ._params import add_parameter_arguments, parameter_input
from ._runs import add_store_option

__all__ = ["add_parser", "run", "FORMATS", "TEXT_FORMATS", "IMAGE_FORMATS"]


#: :data:`jobspec_core.graph.FORMATS` and :data:`jobspec_core.graphviz.IMAGE_FORMATS`
#: (a test checks), kept here so that building the parser imports nothing.
TEXT_FORMATS = ("dot", "mermaid")
IMAGE_FORMATS = ("svg", "png")
FORMATS = TEXT_FORMATS + IMAGE_FORMATS
_SUFFIXES = {".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".svg": "svg", ".png": "png"}


class _UsageError(JobspecError):
    exit_code = EXIT_USAGE


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "graph",
        help="draw the plan of a jobspec or a recorded run (DOT, Mermaid, SVG, PNG)",
        description="Draw the plan of FILE, or of the recorded run RUN with each task's "
        "states: groups as clusters, tasks as nodes (name, xN replicas, local, resources), "
        "depends_on as edges. svg and png need Graphviz's `dot` program.",
    )
    parser.add_argument(
        "source", metavar="FILE|RUN", help="a jobspec file, or a run id/prefix/'latest'"
    )
    parser.add_argument(
        "-f",
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: from the suffix of --output, else dot)",
    )
    parser.add_argument(
        "-o", "--output", metavar="OUT", help="write to OUT instead of standard output"
    )
    # a recorded run is drawn from this machine's store (the plan is in its run directory)
    add_store_option(parser, with_server=False)
    add_parameter_arguments(parser, sweep=False)
    parser.set_defaults(handler=run)


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return args.format
    if args.output:
        suffix = Path(args.output).suffix.lower()
        if suffix in _SUFFIXES:
            return _SUFFIXES[suffix]
    return FORMATS[0]


def _plan_and_states(args: argparse.Namespace):
    """(plan, states or None): a file's plan, or a recorded run's with its states."""
    from ..api import load_plan

    source = args.source
    request = parameter_input(args)
    if os.path.exists(source) or source.endswith((".yaml", ".yml")):
        return load_plan(source, parameters=request.values), None
    if request.values:
        raise _UsageError(
            f"{source!r} is not a file: --set and --params are for a jobspec file (a "
            "recorded run is drawn with the values it ran with)"
        )
    from ..runner import Runner
    from ..statedir import resolve_store_path
    from ..store import RunStore

    store = resolve_store_path(args.store)
    if not store.exists():
        raise _UsageError(f"no file {source!r}, and no run store at {store} to find a run in")
    runner = Runner(RunStore(store))  # this machine's store, even with $JOBSPEC_SERVER set
    try:
        run_id = runner.store.resolve(source)
    except JobspecError as exc:
        raise _UsageError(f"{source!r} is neither a file nor a recorded run: {exc}") from exc
    states: dict[str, dict[str, int]] = {}
    for t in runner.record(run_id).tasks:
        counts = states.setdefault(t.task_id, {})
        counts[t.state.value] = counts.get(t.state.value, 0) + 1
    return runner.plan_of(run_id), states


def run(args: argparse.Namespace) -> int:
    from ..graph import render_graph

    fmt = _format(args)
    plan, states = _plan_and_states(args)
    text = render_graph(plan, "dot" if fmt in IMAGE_FORMATS else fmt, states)
    if fmt in IMAGE_FORMATS:
        from ..graphviz import render_image

        data = render_image(text, fmt)
    else:
        data = text.encode("utf-8")
    if args.output:
        try:
            Path(args.output).write_bytes(data)
        except OSError as exc:
            raise JobspecError(f"cannot write {args.output}: {exc}") from exc
        print(f"jobspec: wrote {args.output} ({fmt}, {len(data):,} bytes)", file=sys.stderr)
        return 0
    if fmt == "png" and sys.stdout.isatty():
        raise _UsageError("not writing a PNG to the terminal: use -o FILE.png or redirect")
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return 0
