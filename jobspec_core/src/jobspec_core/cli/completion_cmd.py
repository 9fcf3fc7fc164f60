"""``jobspec completion bash|zsh|fish``: print the shell completion script.

Install it once (see :mod:`jobspec_core.cli.completion` for how it works)::

    # bash (~/.bashrc)
    eval "$(jobspec completion bash)"
    # zsh (~/.zshrc, after compinit)
    eval "$(jobspec completion zsh)"
    # fish
    jobspec completion fish > ~/.config/fish/completions/jobspec.fish

Subcommands, options, files, run ids (from the run store) and transformer names (from the
installed plugins) are completed. Needs the ``completion`` extra (argcomplete).
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_parser", "run"]

SHELLS = ("bash", "zsh", "fish")  # the same as completion.SHELLS (a test checks)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "completion",
        help="print the shell completion script (bash, zsh, fish)",
        description="Print the completion script for SHELL. bash/zsh: "
        'eval "$(jobspec completion bash)" in ~/.bashrc (~/.zshrc for zsh, after compinit); '
        "fish: jobspec completion fish > ~/.config/fish/completions/jobspec.fish. "
        "Needs argcomplete (pip install 'jobspec-core[completion]').",
    )
    parser.add_argument("shell", choices=SHELLS, metavar="SHELL", help=", ".join(SHELLS))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from .completion import shellcode

    sys.stdout.write(shellcode(args.shell))
    return 0
