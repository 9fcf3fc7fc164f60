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
import os
import sys
import traceback
from collections.abc import Sequence

from ..errors import EXIT_FAILURE, EXIT_USAGE, InvalidJobspec, JobspecError

__all__ = ["main", "build_parser", "COMMANDS"]

#: subcommand modules, in the order ``jobspec --help`` lists them.
COMMANDS = [
    "validate_cmd",
    "satisfy_cmd",
    "transform_cmd",
    "graph_cmd",
    "params_cmd",
    "schema_cmd",
    "transformers_cmd",
    "run_cmd",
    "status_cmd",
    "wait_cmd",
    "cancel_cmd",
    "list_cmd",
    "logs_cmd",
    "serve_cmd",
    "token_cmd",
    "completion_cmd",
]


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors already; keep its message short and clear."""


class _VersionAction(argparse.Action):
    """``--version``, looked up only when asked for (importlib.metadata is slow to import)."""

    def __init__(
        self,
        option_strings,
        dest=argparse.SUPPRESS,
        default=argparse.SUPPRESS,
        help="show the version and exit",
    ):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from .. import __version__

        parser.exit(message=f"jobspec {__version__}\n")


def _command_module(argv: Sequence[str]) -> str | None:
    """The module of the subcommand named in ``argv``, or ``None`` (help, a typo, none).

    The global options take no values, so the first word not starting with ``-`` is the
    subcommand's name; ``validate`` lives in ``validate_cmd``.
    """
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            module = f"{word.replace('-', '_')}_cmd"
            return module if module in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``jobspec`` parser.

    With ``argv`` naming a known subcommand, only that subcommand's module is imported
    (each module imports what its handler needs, so ``jobspec validate`` never loads the
    runner or the run store: start-up time is a product feature). Otherwise every
    subcommand is added, for ``--help`` and for argparse's list of valid choices.
    """
    parser = _Parser(
        prog="jobspec",
        description="One YAML job specification for Flux, Slurm and this machine.",
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument(
        "--debug", action="store_true", help="show Python tracebacks for unexpected errors"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    only = _command_module(argv) if argv is not None else None
    for name in COMMANDS:
        if only is not None and name != only:
            continue
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.{name}":
                continue  # subcommand not built yet
            raise
        module.add_parser(subparsers)
    return parser


def _early_login(argv: list[str]) -> None:
    """``jobspec run --remote HOST``: begin the SSH login before the commands' modules are
    even imported, so it overlaps with them (a login costs as much as the rest of a
    submission). Only a look at the words: anything wrong is reported later, by the parser
    and the command; a failure here is left for the command to meet again."""
    if not argv or argv[0] != "run":
        return
    target = os.environ.get("JOBSPEC_REMOTE") or None
    for n, word in enumerate(argv):
        if word == "--":
            break
        if word == "--remote" and n + 1 < len(argv):
            target = argv[n + 1]
        elif word.startswith("--remote="):
            target = word.partition("=")[2]
    if not target:
        return
    try:
        from ..remote import REMOTE, runner_for

        runner_for({REMOTE: target}).start_connecting(ask_home=True)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - the command reports it properly
        return


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (``sys.exit(main())`` in the console script)."""
    if os.environ.get("_ARGCOMPLETE"):  # a Tab press: see cli/completion.py
        from .completion import autocomplete

        autocomplete(build_parser)
    argv = list(sys.argv[1:] if argv is None else argv)
    _early_login(argv)
    parser = build_parser(argv)
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
