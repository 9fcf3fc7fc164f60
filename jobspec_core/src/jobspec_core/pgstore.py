"""PostgreSQL under the run store: a connection that speaks what :class:`RunStore` speaks.

:class:`~jobspec_core.store.RunStore` is written once, against the small part of the
DB-API it uses: ``execute``/``executemany`` with ``?`` placeholders, cursors with
``rowcount``/``fetchall``/``fetchone``, rows read by column name, ``BEGIN IMMEDIATE`` /
``COMMIT`` / ``ROLLBACK``, and :mod:`sqlite3`'s exception classes. :class:`PgConnection`
gives exactly that over psycopg 3 (a well-kept driver; the ``postgresql`` extra), so
several ``jobspec serve`` processes on several hosts can share one store:

* ``?`` becomes ``%s`` (outside quoted literals); ``REAL`` columns become ``DOUBLE
  PRECISION`` (PostgreSQL's ``REAL`` is 4 bytes: a Unix time would lose its seconds);
  SQLite's ``PRAGMA`` statements are skipped.
* ``BEGIN IMMEDIATE`` becomes ``BEGIN`` plus a transaction-scoped advisory lock, so writers
  take turns exactly as SQLite's single writer does: every read-modify-write of the store
  (and the creation of its tables by two processes at once) stays atomic.
* psycopg's errors are raised as :class:`sqlite3.IntegrityError` (a unique key taken) and
  :class:`sqlite3.OperationalError` (everything else), each from the original.
"""

from __future__ import annotations

import re
import sqlite3
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["is_postgres_url", "redact", "PgConnection"]

#: the advisory lock every write transaction takes (any constant shared by all writers)
WRITE_LOCK = 0x6A6F6273  # "jobs"


def is_postgres_url(text: object) -> bool:
    return isinstance(text, str) and text.startswith(("postgresql://", "postgres://"))


def redact(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _translate(sql: str) -> str:
    """``?`` -> ``%s`` and ``%`` -> ``%%`` outside single-quoted literals; REAL types."""
    out = []
    quoted = False
    for char in sql:
        if char == "'":
            quoted = not quoted
            out.append(char)
        elif char == "?" and not quoted:
            out.append("%s")
        elif char == "%":
            out.append("%%")
        else:
            out.append(char)
    return re.sub(r"\bREAL\b", "DOUBLE PRECISION", "".join(out))


class Row:
    """A row read by position or by column name, like :class:`sqlite3.Row`."""

    __slots__ = ("_values", "_index")

    def __init__(self, values: Sequence[Any], index: dict[str, int]):
        self._values = values
        self._index = index

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, int):
            return self._values[key]
        return self._values[self._index[key]]

    def keys(self) -> list[str]:
        return list(self._index)

    def __len__(self) -> int:
        return len(self._values)


def _rows(cursor: Any):
    names = [column.name for column in cursor.description or ()]
    index = {name: n for n, name in enumerate(names)}
    return lambda values: Row(values, index)


class PgConnection:
    """A connection to ``url`` with the methods :class:`RunStore` calls (see the module)."""

    def __init__(self, url: str, connect_timeout: int = 10):
        try:
            import psycopg
        except ModuleNotFoundError as exc:
            raise sqlite3.OperationalError(
                "a postgresql:// store needs psycopg: pip install 'jobspec-core[postgresql]'"
            ) from exc
        self._psycopg = psycopg
        try:
            self._conn = psycopg.connect(
                url, autocommit=True, row_factory=_rows, connect_timeout=connect_timeout
            )
        except psycopg.Error as exc:
            raise sqlite3.OperationalError(str(exc).strip()) from exc

    def _run(self, method: str, sql: str, params: Any):
        if sql.lstrip().upper().startswith("PRAGMA"):
            return self._conn.cursor()
        cursor = self._conn.cursor()
        try:
            if sql.strip().upper() == "BEGIN IMMEDIATE":
                cursor.execute("BEGIN")
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                return cursor
            getattr(cursor, method)(_translate(sql), params)
        except self._psycopg.IntegrityError as exc:
            raise sqlite3.IntegrityError(str(exc).strip()) from exc
        except self._psycopg.Error as exc:
            raise sqlite3.OperationalError(str(exc).strip()) from exc
        return cursor

    def execute(self, sql: str, params: Sequence[Any] = ()):
        return self._run("execute", sql, tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]):
        return self._run("executemany", sql, [tuple(r) for r in rows])

    def close(self) -> None:
        self._conn.close()
