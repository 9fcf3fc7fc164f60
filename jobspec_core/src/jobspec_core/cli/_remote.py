"""The ``--remote`` option of the run commands (light: ``jobspec transform`` imports it
without the runner or the store)."""

from __future__ import annotations

import argparse
import os

__all__ = ["add_remote_option", "remote_target"]

#: the same name as :data:`jobspec_core.remote.REMOTE_ENV` (not imported: kept light)
REMOTE_ENV = "JOBSPEC_REMOTE"


def add_remote_option(parser: argparse.ArgumentParser, with_dir: bool = False) -> None:
    """``--remote [USER@]HOST[:PORT]`` (and ``--remote-dir DIR`` where a run is made):
    submit or follow over SSH (:mod:`jobspec_core.remote`, docs/remote.md)."""
    parser.add_argument(
        "--remote",
        metavar="[USER@]HOST[:PORT]",
        help="run the scheduler's commands on HOST over SSH (your ~/.ssh/config applies; "
        "default: $JOBSPEC_REMOTE)",
    )
    if with_dir:
        parser.add_argument(
            "--remote-dir",
            metavar="DIR",
            help="the remote folder of runs (default: $JOBSPEC_REMOTE_DIR, else "
            "~/.jobspec/runs under the remote home)",
        )


def remote_target(args: argparse.Namespace) -> str | None:
    """``--remote``, else ``$JOBSPEC_REMOTE``, else ``None`` (an empty value: local)."""

    from ..remote import REMOTE_ENV

    return getattr(args, "remote", None) or os.environ.get(REMOTE_ENV) or None
