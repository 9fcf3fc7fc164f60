"""``jobspec graph FILE [--format dot|mermaid]``: the plan drawn as a graph.

Prints Graphviz DOT (the default: ``jobspec graph job.yaml | dot -Tsvg > job.svg``) or a
Mermaid flowchart (pastes into Markdown on GitHub). Groups are clusters, tasks are boxes,
``depends_on`` are edges; see :mod:`jobspec_core.graph`. An invalid document exits 2 with
every problem, like ``jobspec validate``.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_parser", "run"]


#: the same as :data:`jobspec_core.graph.FORMATS` (a test checks), kept here so that
#: building the parser imports nothing.
FORMATS = ("dot", "mermaid")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "graph",
        help="draw the plan of a jobspec as a graph (DOT or Mermaid)",
        description="Print the plan of FILE as a graph: groups as clusters, tasks as "
        "nodes (name, xN replicas, local, resources), depends_on as edges.",
    )
    parser.add_argument("file", metavar="FILE", help="the jobspec YAML file")
    parser.add_argument(
        "-f",
        "--format",
        choices=FORMATS,
        default=FORMATS[0],
        help="output format (default: %(default)s; render with `dot -Tsvg`)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..api import load_plan
    from ..graph import render_graph

    plan = load_plan(args.file)
    sys.stdout.write(render_graph(plan, args.format))
    return 0
