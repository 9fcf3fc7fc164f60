"""``jobspec serve [--host 127.0.0.1] [--port 8080] [--store PATH]``: the REST API and the
status page (:mod:`jobspec_core.service`) on uvicorn.

Needs the ``serve`` extra; without it, a clear message and exit 2. Identity providers are
configured with ``JOBSPEC_OIDC_*`` (see :func:`jobspec_core.service.app.settings_from_environment`).
"""

from __future__ import annotations

import argparse

from ..errors import UsageError
from ._runs import add_store_option

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the REST API and the status page",
        description="Serve jobspec's REST API (/api/v1, OpenAPI at /docs) and status page.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (8080)")
    parser.add_argument(
        "--max-body",
        type=int,
        default=4 * 1024 * 1024,
        metavar="BYTES",
        help="largest request body accepted (4 MiB)",
    )
    add_store_option(parser, with_server=False)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..service.app import create_app, settings_from_environment
    except ModuleNotFoundError as exc:
        raise UsageError(
            f"jobspec serve needs the serve extra ({exc.name} is missing): "
            "pip install 'jobspec-core[serve]'"
        ) from exc
    settings = settings_from_environment()
    if args.store:
        settings.store = args.store
    settings.max_body = args.max_body
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level="info",
        # Access lines name method, path and status only: never a header, so never a token.
        access_log=True,
    )
    return 0
