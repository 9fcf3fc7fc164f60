"""``jobspec validate FILE... [--json] [--set NAME=VALUE]... [--params FILE] [--sweep ...]``:
report every problem of every file.

Exit 0 when all files are valid, 2 otherwise. Each valid file prints
``FILE: valid (N tasks, M groups)``; each problem prints as ``file:line:col: path: message``,
followed by ``FILE: invalid (N problems)``. Everything goes to standard output (the problems
are this command's result, as with a linter).
With ``--json``, prints one list of ``{file, valid, problems: [Problem.to_dict()]}`` (plus
``tasks`` and ``groups`` counts for valid files). Files are loaded, validated and planned
through :mod:`jobspec_core.api`, the same path every other command uses.

With parameter values (:mod:`._params`), each file is checked with them substituted; with a
sweep, once per combination, each result labelled ``FILE [n=1 mode=a]`` (in JSON, each
entry carries ``parameters``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .. import api
from ..errors import EXIT_OK, EXIT_USAGE, InvalidJobspec
from ..plan import PlanGroup
from ._params import add_parameter_arguments, parameter_input
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
    add_parameter_arguments(parser)
    add_server_option(parser)
    parser.set_defaults(handler=run)
    return parser


def _check(path: str, client=None, combinations=None) -> list[dict[str, Any]]:
    """One result per combination of parameter values (one when there is no sweep)."""
    from dataclasses import replace

    from ..substitution import describe_values

    combinations = combinations or [{}]
    try:
        document = api.load(path) if client is None else None
    except InvalidJobspec as exc:
        return [{"file": path, "valid": False, "problems": exc.problems}]
    out = []
    for combination in combinations:
        given = {k: v.value for k, v in combination.items()}
        try:
            if client is not None:
                result = _check_on_service(path, client, given)
            else:
                assert document is not None  # loaded above: there is no client
                plan = api.plan(document, parameters=combination)
                tasks = sum(1 for _ in plan.tasks())
                groups = sum(1 for node, _ in plan.walk() if isinstance(node, PlanGroup))
                result = {"file": path, "valid": True, "problems": [], "tasks": tasks}
                result["groups"] = groups
        except InvalidJobspec as exc:
            problems = exc.problems
            if len(combinations) > 1:  # say which combination each problem is of
                label = describe_values(given)
                problems = [replace(p, message=f"[{label}] {p.message}") for p in problems]
            result = {"file": path, "valid": False, "problems": problems}
        if len(combinations) > 1:
            result["parameters"] = given
        out.append(result)
    return out


def _label(result: dict[str, Any]) -> str:
    if "parameters" not in result:
        return result["file"]
    from ..substitution import describe_values

    return f"{result['file']} [{describe_values(result['parameters'])}]"


def _check_on_service(path: str, client, parameters=None) -> dict[str, Any]:
    """The service's view of ``path`` (its plugins and step types), in the same shape.

    A file that cannot be read or is not UTF-8 is refused here, by the loader, as locally.
    """
    from ..loader import read_source

    try:
        text = read_source(path).decode("utf-8")  # a FIFO or a directory: refused, not read
    except UnicodeDecodeError:
        api.load(path)  # raises InvalidJobspec with the loader's own problem
        raise
    answer = client.validate_text(text, path, parameters or None)
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
    combinations = parameter_input(args).combinations()
    results = [r for path in args.files for r in _check(path, client, combinations)]
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
                    f"{_label(result)}: valid ({result['tasks']} tasks, {result['groups']} groups)"
                )
            else:
                for problem in result["problems"]:
                    print(problem.format())
                count = len(result["problems"])
                print(f"{_label(result)}: invalid ({count} problem{'s' if count != 1 else ''})")
    return EXIT_OK if all(r["valid"] for r in results) else EXIT_USAGE
