"""The capability check: the one rule used by the runner, ``jobspec transform`` and the
conformance suite.

A plan needs every feature :func:`~jobspec_core.features.features_used` finds in it (plus
any the caller names, such as a conformance case's tags). The core features
(:data:`~jobspec_core.features.CORE_FEATURES`) are part of the transformer contract itself:
every transformer has them whether it lists them or not. Anything else a transformer does
not declare in ``capabilities`` is missing, and a plan with a missing feature is refused
before anything is recorded or submitted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .errors import UnsupportedFeature
from .features import CORE_FEATURES, FEATURES, features_used
from .plan import Plan

if TYPE_CHECKING:
    from .transformer import Transformer

__all__ = ["missing_features", "check_capabilities"]


def missing_features(
    plan: Plan, capabilities: Iterable[str], *, needed: Iterable[str] = ()
) -> list[str]:
    """The features ``plan`` uses (and ``needed`` names) that ``capabilities`` lacks,
    sorted. Core features are never missing."""
    want = features_used(plan) | set(needed)
    return sorted(want - set(capabilities) - CORE_FEATURES)


def check_capabilities(
    plan: Plan,
    transformer: Transformer | type[Transformer],
    *,
    name: str | None = None,
    nothing_was: str = "submitted",
) -> None:
    """Raise :class:`~jobspec_core.errors.UnsupportedFeature` listing every feature of
    ``plan`` that ``transformer`` (a class or instance) does not declare; nothing was
    submitted. ``name`` is what the user called it (default ``transformer.name``);
    ``nothing_was`` ends the message (``rendered`` for ``jobspec transform``)."""
    missing = missing_features(plan, getattr(transformer, "capabilities", ()) or ())
    if not missing:
        return
    who = name or getattr(transformer, "name", "?")
    listing = "\n".join(f"  - {f}: {FEATURES.get(f, '(not a known feature)')}" for f in missing)
    raise UnsupportedFeature(
        f"transformer {who!r} does not support {len(missing)} feature(s) that "
        f"{plan.source or plan.name!r} uses ({', '.join(missing)}); nothing was {nothing_was}:\n"
        f"{listing}"
    )
