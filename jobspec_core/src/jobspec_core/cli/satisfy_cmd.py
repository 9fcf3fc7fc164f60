"""``jobspec satisfy FILE [-t NAME] [--subsystems DIR] [--require-all] [--json]``.

Evaluates every requirement of FILE's plan (the whole plan's, each group's and task's,
each resource alternative's) against the site: what the transformer reports of its target
(``jobspec_describe_site``) plus the JGF subsystem files of ``--subsystems DIR`` (else
``$JOBSPEC_SUBSYSTEMS``). ``--set``/``--params`` give the document's parameters their
values (:mod:`._params`; one plan: no sweep). Prints one line per requirement, ``file:line:column: path:
satisfied | not satisfied | cannot be evaluated: requirement (what the site has instead,
or why)``, then a summary.

Exit codes: 0 every node's requirements are met; 1 some are not (with ``--require-all``,
a requirement that cannot be evaluated counts as not met); 2 invalid input (the document,
a malformed subsystem file, an unknown transformer).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .. import api
from ._params import add_parameter_arguments, parameter_input

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "satisfy",
        help="check a jobspec's requirements against the site",
        description="Evaluate every requirement of FILE against what the transformer's "
        "target offers and the subsystem graphs (JGF files) of --subsystems DIR. Exit 0 "
        "when all are met, 1 when some are not, 2 for invalid input.",
    )
    parser.add_argument("file", metavar="FILE", help="the jobspec YAML file")
    parser.add_argument(
        "-t",
        "--transformer",
        metavar="NAME",
        help="the transformer whose target is described (default: $JOBSPEC_TRANSFORMER, "
        "else local)",
    )
    parser.add_argument(
        "--subsystems",
        metavar="DIR",
        help="a directory of JGF subsystem files (default: $JOBSPEC_SUBSYSTEMS)",
    )
    parser.add_argument(
        "--require-all",
        action="store_true",
        help="a requirement that cannot be evaluated counts as not met",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    add_parameter_arguments(parser, sweep=False)
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    plan = api.load_plan(args.file, parameters=parameter_input(args).values)
    from ..plugins import get_registry
    from ..satisfy import check_plan, metadata_keys
    from ..site import describe_site

    registry = get_registry()
    name = args.transformer or os.environ.get("JOBSPEC_TRANSFORMER") or "local"
    transformer = registry.transformer(name)
    site = describe_site(transformer, registry=registry, subsystems=args.subsystems)
    report = check_plan(plan, site, require_all=args.require_all)
    if args.json:
        out = report.to_dict()
        out.update(
            file=args.file,
            transformer=name,
            subsystems=site.names(),
            metadata_not_evaluated=metadata_keys(plan),
        )
        print(json.dumps(out, indent=1, sort_keys=True))
        return report.exit_code()
    for line in report.lines():
        print(line)
    described = ", ".join(site.names()) or "nothing"
    print(f"{args.file}: {report.summary()} (site: {name}; subsystems: {described})")
    keys = metadata_keys(plan)
    if keys:
        print(
            f"{args.file}: note: requires metadata ({', '.join(keys)}) is for schedulers and "
            "is not evaluated; write a constraint object such as {name: system, field: "
            "cpu.target, value: x86_64} to have it checked"
        )
    for node_id, why in list(report.refused.items())[:5]:
        print(f"  {node_id} cannot run: {why}", file=sys.stderr)
    if len(report.refused) > 5:
        print(f"  ... and {len(report.refused) - 5} more", file=sys.stderr)
    return report.exit_code()
