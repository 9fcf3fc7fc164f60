"""Who is asking: bearer tokens of :mod:`jobspec_core.tokens`, or OIDC/JWT access tokens.

Contract: :meth:`Authenticator.principal` takes the ``Authorization`` header's value and
returns a :class:`~jobspec_core.tokens.Principal`, or ``None`` for every kind of failure
(no header, another scheme, malformed, unknown, revoked, expired, wrongly signed, wrong
issuer or audience): the application answers 401 to all alike and logs no token.

JWTs (three dot-separated parts) are verified with PyJWT against the keys of the
configured issuer's JWKS (:class:`OidcSettings`); the user is the ``user_claim`` (``sub``
by default) and an administrator when ``admin_claim`` (a list claim such as ``groups``)
holds ``admin_value``.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from typing import Any

from ..store import RunStore
from ..tokens import USER_PATTERN, Principal, verify_token

__all__ = ["OidcSettings", "Authenticator"]

#: asymmetric algorithms only: a shared-secret HS256 token cannot come from an issuer's JWKS
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"]


@dataclass(frozen=True)
class OidcSettings:
    """An identity provider whose access tokens are accepted.

    :ivar issuer: the ``iss`` every token must carry.
    :ivar audience: the ``aud`` every token must carry.
    :ivar jwks_url: where the issuer's keys are (default: discovered from
        ``ISSUER/.well-known/openid-configuration``).
    """

    issuer: str
    audience: str
    jwks_url: str | None = None
    user_claim: str = "sub"
    admin_claim: str = "groups"
    admin_value: str = "jobspec-admin"

    def keys_url(self) -> str:
        if self.jwks_url:
            return self.jwks_url
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (configured URL)
            return json.load(answer)["jwks_uri"]


class Authenticator:
    """Answers "who is this" for one service (see the module's contract)."""

    def __init__(self, store: RunStore, oidc: OidcSettings | None = None):
        self.store = store
        self.oidc = oidc
        self._jwks: Any = None

    def principal(self, authorization: str | None) -> Principal | None:
        if not authorization:
            return None
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            return None
        if credential.count(".") == 2:
            return self._from_jwt(credential)
        return verify_token(self.store, credential)

    def _from_jwt(self, token: str) -> Principal | None:
        if self.oidc is None:
            return None
        import jwt  # the serve extra; imported only when a JWT arrives

        try:
            if self._jwks is None:
                self._jwks = jwt.PyJWKClient(self.oidc.keys_url(), cache_keys=True)
            key = self._jwks.get_signing_key_from_jwt(token).key
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.oidc.audience,
                issuer=self.oidc.issuer,
                options={"require": ["exp", "iss", "aud"]},
            )
        except (jwt.PyJWTError, OSError, ValueError, KeyError):
            return None
        user = claims.get(self.oidc.user_claim)
        if not isinstance(user, str) or not USER_PATTERN.fullmatch(user):
            return None
        groups = claims.get(self.oidc.admin_claim) or []
        admin = isinstance(groups, list) and self.oidc.admin_value in groups
        return Principal(user, admin)
