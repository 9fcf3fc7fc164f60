"""``jobspec params FILE [--json]``: the parameters a jobspec takes.

Prints one row per parameter in the order of its ``parameters:`` section: name, type,
default (``(required)`` when it has none), the allowed values (bounds or choices), and the
description; then where each is referenced. With ``--json``: a list of
:meth:`~jobspec_core.parameters.Parameter.to_dict` (plus ``line`` and ``references``: the
document paths that use it). A site can publish a folder of ready jobspecs and let users
discover what each one asks for, as a catalogue of applications.

Exit codes: 0; 2 when the file cannot be read or a definition is invalid (every problem).
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "params",
        help="list the parameters a jobspec takes (types, defaults, descriptions)",
        description="List the parameters FILE defines: name, type, default or (required), "
        "bounds or choices, description, and where each is used.",
    )
    parser.add_argument("file", metavar="FILE", help="the jobspec YAML file")
    parser.add_argument("--json", action="store_true", help="print the parameters as JSON")
    parser.set_defaults(handler=run)


def _allowed(entry: dict) -> str:
    if "choices" in entry:
        return "one of " + ", ".join(str(c) for c in entry["choices"])
    low, high = entry.get("minimum"), entry.get("maximum")
    if low is not None and high is not None:
        return f"{low} .. {high}"
    if low is not None:
        return f">= {low}"
    if high is not None:
        return f"<= {high}"
    return "-"


def run(args: argparse.Namespace) -> int:
    from ..api import load
    from ..docpath import format_path
    from ..errors import InvalidJobspec
    from ..parameters import read_definitions, text_of
    from ..schema import schema_problems
    from ..substitution import references

    document = load(args.file)
    problems = list(document.problems)
    if "parameters" in document.data:  # only the section's own structure matters here
        problems += [p for p in schema_problems(document) if p.path.startswith("parameters")]
    definitions, found = read_definitions(document)
    problems += found
    if problems:
        raise InvalidJobspec(problems)
    used = references(document)
    entries = []
    for name, parameter in definitions.items():
        entry = parameter.to_dict()
        entry["line"] = document.locate(parameter.path).line
        entry["references"] = [format_path(p) for p in used.get(name, [])]
        entries.append(entry)
    if args.json:
        json.dump(entries, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    if not entries:
        print(f"{args.file}: no parameters")
        return 0
    rows = [["NAME", "TYPE", "DEFAULT", "ALLOWED", "DESCRIPTION"]]
    for entry in entries:
        default = text_of(entry["default"]) if "default" in entry else "(required)"
        rows.append(
            [entry["name"], entry["type"], default, _allowed(entry), entry["description"] or "-"]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths[:-1], strict=True)] + [row[-1]]
        print("  ".join(cells).rstrip())
    unused = [e["name"] for e in entries if not e["references"]]
    if unused:
        print(f"not referenced anywhere: {', '.join(unused)}")
    return 0
