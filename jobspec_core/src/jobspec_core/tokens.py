"""Bearer tokens of ``jobspec serve``: created by an administrator, stored only as hashes.

A token reads ``jst_<id>_<secret>``: ``id`` (12 hex digits) finds its row, ``secret`` (32
random bytes, URL-safe base64) proves it. The store keeps the id, the user, whether the
user is an administrator and ``sha256(secret)``; the secret itself is shown once, when the
token is created, and never stored or logged. SHA-256 without salt or stretching is right
here because the secret is 256 random bits, not a password: nothing can be guessed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from .errors import UsageError
from .store import RunStore

__all__ = ["Principal", "create_token", "verify_token", "revoke", "USER_PATTERN"]

PREFIX = "jst_"
_TOKEN = re.compile(r"jst_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
#: what a user name may be (the owner of runs; a JWT's subject is checked against it too)
USER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")


@dataclass(frozen=True)
class Principal:
    """Who a request is from: ``user`` (the owner of the runs it submits) and whether an
    administrator (who sees every run)."""

    user: str
    admin: bool = False


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def check_user(user: str) -> str:
    if not USER_PATTERN.fullmatch(user):
        raise UsageError(
            f"{user!r} is not a user name (letters, digits and . _ @ + -, at most 128, "
            "starting with a letter or digit)"
        )
    return user


def create_token(store: RunStore, user: str, admin: bool = False) -> tuple[str, str]:
    """A new token for ``user``: ``(token_id, token)``; ``token`` is the only copy."""
    check_user(user)
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    store.add_token(token_id, user, admin, _hash(secret))
    return token_id, f"{PREFIX}{token_id}_{secret}"


def verify_token(store: RunStore, token: str) -> Principal | None:
    """The principal of a valid, unrevoked ``token``; ``None`` otherwise (malformed, unknown,
    revoked, wrong secret: the caller answers 401 to all alike)."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    row = store.token(match.group(1))
    if row is None or row["revoked_at"] is not None:
        return None
    if not hmac.compare_digest(row["secret_hash"], _hash(match.group(2))):
        return None
    return Principal(row["username"], bool(row["admin"]))


def revoke(store: RunStore, user: str, token_id: str | None = None) -> int:
    """Revoke ``user``'s tokens (one when ``token_id`` is given); the number revoked."""
    return store.revoke_tokens(check_user(user), token_id)
