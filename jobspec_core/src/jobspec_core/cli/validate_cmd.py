"""``jobspec validate FILE... [--json]``: report every problem of every file.

Exit 0 when all files are valid, 2 otherwise. Each valid file prints
``FILE: valid (N tasks, M groups)``; each problem prints as ``file:line:col: path: message``,
followed by ``FILE: invalid (N problems)``. Everything goes to standard output (the problems
are this command's result, as with a linter).
With ``--json``, prints one list of ``{file, valid, problems: [Problem.to_dict()]}`` (plus
``tasks`` and ``groups`` counts for valid files). Files are loaded, validated and planned
through :mod:`jobspec_core.api`, the same path every other command uses.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .. import api
from ..errors import EXIT_OK, EXIT_USAGE, InvalidJobspec
from ..plan import PlanGroup
from ._server import add_server_option

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "validate",
        help="check jobspec files and report every problem",
        description="Check JobSpec files: every problem in every file, with file:line:column.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="jobspec YAML files")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    add_server_option(parser)
    parser.set_defaults(handler=run)
    return parser


def _check(path: str, client=None) -> dict[str, Any]:
    try:
        if client is not None:
            return _check_on_service(path, client)
        plan = api.plan(api.load(path))
    except InvalidJobspec as exc:
        return {"file": path, "valid": False, "problems": exc.problems}
    tasks = sum(1 for _ in plan.tasks())
    groups = sum(1 for node, _ in plan.walk() if isinstance(node, PlanGroup))
    return {"file": path, "valid": True, "problems": [], "tasks": tasks, "groups": groups}


def _check_on_service(path: str, client) -> dict[str, Any]:
    """The service's view of ``path`` (its plugins and step types), in the same shape.

    A file that cannot be read or is not UTF-8 is refused here, by the loader, as locally.
    """
    from ..loader import read_source

    try:
        text = read_source(path).decode("utf-8")  # a FIFO or a directory: refused, not read
    except UnicodeDecodeError:
        api.load(path)  # raises InvalidJobspec with the loader's own problem
        raise
    answer = client.validate_text(text, path)
    return {
        "file": path,
        "valid": True,
        "problems": [],
        "tasks": answer["tasks"],
        "groups": answer["groups"],
    }


def run(args: argparse.Namespace) -> int:
    from ._server import client_for

    client = client_for(args)
    results = [_check(path, client) for path in args.files]
    if args.json:
        out = []
        for result in results:
            entry = dict(result)
            entry["problems"] = [p.to_dict() for p in result["problems"]]
            out.append(entry)
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for result in results:
            if result["valid"]:
                print(
                    f"{result['file']}: valid ({result['tasks']} tasks, {result['groups']} groups)"
                )
            else:
                for problem in result["problems"]:
                    print(problem.format())
                count = len(result["problems"])
                print(f"{result['file']}: invalid ({count} problem{'s' if count != 1 else ''})")
    return EXIT_OK if all(r["valid"] for r in results) else EXIT_USAGE
