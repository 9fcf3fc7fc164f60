"""``jobspec token create|list|revoke USER``: the service's bearer tokens (administrators).

``create`` prints the new token once (only its hash is stored); ``--admin`` makes the
user an administrator, who sees every run. ``list`` shows ids, users and states, never a
secret. ``revoke USER [--id ID]`` revokes the user's tokens (or one).
"""

from __future__ import annotations

import argparse
import sys

from ..errors import EXIT_FAILURE, EXIT_OK
from ._runs import add_store_option, format_time

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "token",
        help="create, list and revoke the service's bearer tokens",
        description="Manage the bearer tokens of jobspec serve (stored only as hashes).",
    )
    parser.add_argument("action", choices=["create", "list", "revoke"])
    parser.add_argument("user", metavar="USER", nargs="?", help="the user (all for list)")
    parser.add_argument("--admin", action="store_true", help="create: an administrator")
    parser.add_argument("--id", dest="token_id", help="revoke: only this token")
    add_store_option(parser, with_server=False)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from .. import tokens
    from ..errors import UsageError
    from ..store import RunStore

    store = RunStore(args.store)
    if args.action == "list":
        rows = store.tokens(args.user)
        for row in rows:
            state = "revoked " + format_time(row["revoked_at"]) if row["revoked_at"] else "active"
            role = "admin" if row["admin"] else "user"
            print(
                f"{row['token_id']}  {row['username']}  {role}  "
                f"created {format_time(row['created_at'])}  {state}"
            )
        return EXIT_OK
    if not args.user:
        raise UsageError(f"jobspec token {args.action} needs a USER")
    if args.action == "create":
        token_id, token = tokens.create_token(store, args.user, args.admin)
        print(token)
        print(f"token {token_id} for {args.user}: shown once, store it now", file=sys.stderr)
        return EXIT_OK
    count = tokens.revoke(store, args.user, args.token_id)
    print(f"revoked {count} token(s) of {args.user}", file=sys.stderr)
    return EXIT_OK if count else EXIT_FAILURE
