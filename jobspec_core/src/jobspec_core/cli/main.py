"""Entry point of the ``jobspec`` command.

Each subcommand lives in its own module of this package, listed in :data:`COMMANDS`; a
module provides ``add_parser(subparsers)`` which adds its parser and sets
``handler=function(args) -> int`` on it.

Exit codes: 0 ok, 1 runtime failure, 2 invalid input or usage. A
:class:`~jobspec_core.errors.JobspecError` is printed as a message (never a traceback);
anything else is a bug and is reported as one, with the traceback only under ``--debug``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

from .. import __version__
from ..errors import EXIT_FAILURE, EXIT_USAGE, InvalidJobspec, JobspecError

__all__ = ["main", "build_parser", "COMMANDS"]

#: subcommand modules, in the order ``jobspec --help`` lists them.
COMMANDS = [
    "validate_cmd",
    "transform_cmd",
    "graph_cmd",
    "transformers_cmd",
    "run_cmd",
    "status_cmd",
    "wait_cmd",
    "cancel_cmd",
    "list_cmd",
    "logs_cmd",
]


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors already; keep its message short and clear."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="jobspec",
        description="One YAML job specification for Flux, Slurm and this machine.",
    )
    parser.add_argument("--version", action="version", version=f"jobspec {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show Python tracebacks for unexpected errors"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.{name}":
                continue  # subcommand not built yet
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (``sys.exit(main())`` in the console script)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.handler(args) or 0)
    except InvalidJobspec as exc:
        print(exc.format(), file=sys.stderr)
        return exc.exit_code
    except JobspecError as exc:
        print(f"jobspec: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("jobspec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_FAILURE
    except Exception as exc:  # a bug: say so plainly
        if args.debug:
            traceback.print_exc()
        else:
            print(
                f"jobspec: internal error: {type(exc).__name__}: {exc} "
                "(run with --debug for details, and please report it)",
                file=sys.stderr,
            )
        return EXIT_FAILURE


if __name__ == "__main__":  # python -m jobspec_core.cli.main
    sys.exit(main())
