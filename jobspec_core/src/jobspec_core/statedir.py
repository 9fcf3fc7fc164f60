"""Where the run store lives, and run ids.

The store is one SQLite file. Its path is, in order: the ``--store PATH`` flag, the
``JOBSPEC_STORE`` environment variable, ``$XDG_STATE_HOME/jobspec/runs.sqlite``
(``~/.local/state/jobspec/runs.sqlite`` when ``XDG_STATE_HOME`` is unset). Each run gets
a private directory ``<store dir>/runs/<run_id>/`` for rendered files, logs and the
backend's status files.

Run ids are ``YYYYmmdd-HHMMSS-xxxx`` (UTC time, then four random base-32 characters): short,
unique (the store retries on the rare collision), and sorted by creation time to the second.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = ["STORE_ENV", "default_store_path", "resolve_store_path", "new_run_id", "RUN_ID_ALPHABET"]

STORE_ENV = "JOBSPEC_STORE"
RUN_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford-style: no i, l, o, u


def default_store_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/jobspec/runs.sqlite`` or ``~/.local/state/jobspec/runs.sqlite``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "state"
    return root / "jobspec" / "runs.sqlite"


def resolve_store_path(
    flag: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """The store path: ``flag`` if given, else ``$JOBSPEC_STORE``, else the default."""
    env = os.environ if environ is None else environ
    if flag:
        return Path(flag).expanduser()
    if env.get(STORE_ENV):
        return Path(env[STORE_ENV]).expanduser()
    return default_store_path(env)


def new_run_id(now: float | None = None) -> str:
    """A fresh run id, ``YYYYmmdd-HHMMSS-xxxx`` (UTC)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() if now is None else now))
    suffix = "".join(secrets.choice(RUN_ID_ALPHABET) for _ in range(4))
    return f"{stamp}-{suffix}"
