"""``--server URL``: the run commands as clients of a ``jobspec serve`` service.

Kept apart from :mod:`._runs` so that ``jobspec validate`` imports neither the runner nor
the store; the client module itself is imported only when a server is named.
"""

from __future__ import annotations

import argparse
import os

__all__ = ["add_server_option", "client_for"]


def add_server_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        metavar="URL",
        help="a jobspec service to ask instead of this machine (default: $JOBSPEC_SERVER; "
        "the token comes from $JOBSPEC_TOKEN)",
    )


def client_for(args: argparse.Namespace):
    """A :class:`~jobspec_core.service.client.ServiceClient` when ``--server`` or
    ``$JOBSPEC_SERVER`` names a service, else ``None``."""
    server = getattr(args, "server", None) or os.environ.get("JOBSPEC_SERVER")
    if not server:
        return None
    from ..service.client import client_from

    return client_from(server)
