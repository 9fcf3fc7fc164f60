"""``jobspec schema``: print the JSON Schema of JobSpec v1 (draft 2020-12).

The schema printed is the very file ``jobspec validate`` checks against (the copy shipped in
the package, byte for byte), so an editor given it squiggles what ``validate`` refuses for
its structure. Save it and point the YAML language server at it with a modeline on the
first line of a jobspec::

    jobspec schema > jobspec.schema.json
    # yaml-language-server: $schema=./jobspec.schema.json

The semantic checks (references, cycles, durations against groups...) need ``jobspec
validate``: a schema cannot express them.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_parser", "run", "MODELINE"]

#: the comment that tells the YAML language server (VS Code, Neovim, Helix...) which schema
#: to use; ``{}`` is the schema's path or URL, relative paths from the YAML file.
MODELINE = "# yaml-language-server: $schema={}"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of JobSpec v1 (for editors)",
        description="Print the JSON Schema (draft 2020-12) that `jobspec validate` checks "
        "structure against. Save it and add a first line "
        "'# yaml-language-server: $schema=./jobspec.schema.json' to a jobspec for "
        "completion and squiggles in editors that use the YAML language server.",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from importlib import resources

    from ..schema import SCHEMA_RESOURCE

    text = resources.files("jobspec_core").joinpath(SCHEMA_RESOURCE).read_text("utf-8")
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0
