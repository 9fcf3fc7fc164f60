"""The run store: every run, its task instances, handles, states and logs, in one SQLite file
(or, for a service on several hosts, one PostgreSQL database: a ``postgresql://`` URL as the
store, see :mod:`jobspec_core.pgstore`).

Why SQLite (stdlib ``sqlite3``): several processes read and write the same runs (``jobspec
run`` in one terminal, ``status``/``cancel`` in another, eight runs started at once), and a
crash must never leave a half-written record. The store uses WAL mode (readers never block
the writer), a ``busy_timeout`` so concurrent writers queue instead of failing, and
``BEGIN IMMEDIATE`` for every write so a transaction takes the write lock before reading.

Tables (``schema_version`` holds :data:`SCHEMA_VERSION`):

* ``runs``: run_id, name, transformer, source, workdir, run_dir, options (JSON),
  submitter (JSON ``{pid, start}`` of the submitting process), owner (the user a service
  submitted it for; ``None`` for runs submitted on this machine), parameters (JSON of the
  values of the jobspec's parameters the run was planned with; ``NULL`` when it has none),
  created_at, updated_at, finished_at (Unix times), state, error.
* ``tasks``: one row per task instance: run_id, task_id, idx, native_id, handle (JSON of
  the :class:`~jobspec_core.transformer.TaskHandle`), state, exit_code, reason,
  started_at, finished_at, updated_at, log.
* ``tokens``: the service's bearer tokens (:mod:`jobspec_core.tokens`): token_id, username,
  admin, secret_hash (SHA-256 of the secret: the secret itself is never stored),
  created_at, revoked_at.

Run states: ``submitting`` (recorded, not yet submitted), ``running``, then one of
``completed`` (every instance succeeded), ``failed``, ``cancelled``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import StoreError
from .pgstore import is_postgres_url
from .runrecords import FINAL_RUN_STATES, RunRecord, TaskRecord, run_from_row, task_from_row
from .statedir import STORE_ENV, default_store_path, new_run_id, resolve_store_path
from .transformer import TaskHandle, TaskState, TaskStatus

__all__ = [
    "SCHEMA_VERSION",
    "RUN_STATES",
    "RunRecord",
    "TaskRecord",
    "RunStore",
    "open_store",
    "recent_runs_readonly",
]

SCHEMA_VERSION = 4
#: version -> statements that bring a store of that version to the next one
_MIGRATIONS = {
    1: ["ALTER TABLE runs ADD COLUMN submitter TEXT"],
    2: [
        "ALTER TABLE runs ADD COLUMN owner TEXT",
        "CREATE INDEX IF NOT EXISTS runs_owner ON runs (owner, created_at)",
    ],
    3: ["ALTER TABLE runs ADD COLUMN parameters TEXT"],
}
RUN_STATES = ("submitting", "running", "completed", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    transformer TEXT NOT NULL,
    source TEXT,
    workdir TEXT NOT NULL,
    run_dir TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}',
    submitter TEXT,
    owner TEXT,
    parameters TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    finished_at REAL,
    state TEXT NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS runs_created ON runs (created_at);
CREATE TABLE IF NOT EXISTS tokens (
    token_id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0,
    secret_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL
);
CREATE TABLE IF NOT EXISTS tasks (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    task_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    native_id TEXT,
    handle TEXT,
    state TEXT NOT NULL,
    exit_code INTEGER,
    reason TEXT,
    started_at REAL,
    finished_at REAL,
    updated_at REAL NOT NULL,
    log TEXT,
    seq INTEGER NOT NULL,
    PRIMARY KEY (run_id, task_id, idx)
);
"""


class RunStore:
    """The run store at ``path`` (created with its directory on first use).

    Every method opens its own short transaction; a :class:`RunStore` may be shared by
    threads of one process only through separate instances. Errors opening or reading the
    database raise :class:`~jobspec_core.errors.StoreError` naming the file.
    """

    busy_timeout_ms = 30_000

    def __init__(self, path: str | Path | None = None):
        url = str(path) if path is not None else os.environ.get(STORE_ENV, "")
        self.url = url if is_postgres_url(url) else None
        if self.url is not None:
            self._open_postgres(self.url)
            return
        self.path = resolve_store_path(path)
        self.read_only: str | None = None  # why, when the store could only be opened to read
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(self.path), timeout=self.busy_timeout_ms / 1000, isolation_level=None
            )
            self._db.row_factory = sqlite3.Row
            self._db.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._init_schema()
        except (OSError, sqlite3.Error, StoreError) as exc:
            if self.path.is_file() and self._open_read_only(exc):
                return
            raise StoreError(f"cannot open the run store {self.path}: {exc}") from exc

    def _open_read_only(self, why: BaseException) -> bool:
        """Open an existing store that cannot be written (a read-only directory or file
        system) for reading only: ``mode=ro`` first, then ``immutable=1`` (a WAL database
        whose directory is read-only cannot create the shared-memory file ``mode=ro``
        needs; nothing can write it then, so reading it as immutable is exact). Reads
        work (``jobspec list``, ``status``); a write raises :class:`StoreError` saying so.
        Returns whether the store could be read."""
        try:
            if getattr(self, "_db", None) is not None:
                self._db.close()
        except sqlite3.Error:
            pass
        uri = self.path.resolve().as_uri()
        for query in ("mode=ro", "immutable=1"):
            try:
                db = sqlite3.connect(f"{uri}?{query}", uri=True, timeout=1, isolation_level=None)
                rows = db.execute("SELECT version FROM schema_version").fetchall()
            except sqlite3.Error:
                continue
            if not rows or rows[0][0] != SCHEMA_VERSION:
                db.close()
                return False  # an old store would need migrating: a write
            db.row_factory = sqlite3.Row
            self._db = db
            if not os.access(self.path.parent, os.W_OK):
                self.read_only = f"its directory {self.path.parent} cannot be written"
            elif not os.access(self.path, os.W_OK):
                self.read_only = "the file cannot be written"
            else:
                self.read_only = str(getattr(why, "__cause__", None) or why)
            return True
        return False

    def _open_postgres(self, url: str) -> None:
        """A ``postgresql://`` store (:mod:`jobspec_core.pgstore`); :attr:`path` is the URL
        without its password (it names the store in messages), and run directories are
        under ``$JOBSPEC_RUNS_DIR`` (default ``<default store dir>/runs``): with several
        hosts on one store, that must be a file system they share."""
        from .pgstore import PgConnection, redact

        self.path = Path(redact(url))
        self._runs_dir = Path(
            os.environ.get("JOBSPEC_RUNS_DIR") or default_store_path().parent / "runs"
        )
        try:
            self._db = PgConnection(url)  # type: ignore[assignment]
            self._init_schema()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the run store {redact(url)}: {exc}") from exc

    @property
    def runs_dir(self) -> Path:
        """``<store dir>/runs``: where run directories are created (see
        :meth:`_open_postgres` for a PostgreSQL store)."""
        if self.url is not None:
            return self._runs_dir
        return self.path.parent / "runs"

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ---------------------------------------------------------------
    @contextmanager
    def _write(self):
        """One write transaction (``BEGIN IMMEDIATE``: take the write lock up front)."""
        if getattr(self, "read_only", None):
            raise StoreError(
                f"the run store {self.path} is read-only here ({self.read_only}): it can be "
                "read (jobspec list, status, logs) but this needs to write to it; name a "
                f"writable store with --store or ${STORE_ENV}"
            )
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to the run store {self.path}: {exc}") from exc
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._db.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the run store {self.path}: {exc}") from exc

    def _init_schema(self) -> None:
        with self._write() as db:
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    db.execute(statement)
            rows = db.execute("SELECT version FROM schema_version").fetchall()
            if not rows:
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
                return
            version = rows[0][0]
            while version in _MIGRATIONS and version < SCHEMA_VERSION:
                for statement in _MIGRATIONS[version]:
                    db.execute(statement)
                version += 1
                db.execute("UPDATE schema_version SET version = ?", (version,))
            if version != SCHEMA_VERSION:
                raise StoreError(
                    f"the run store {self.path} has schema version {version}, "
                    f"this jobspec expects {SCHEMA_VERSION}"
                )

    # -- runs -----------------------------------------------------------------------
    def create_run(
        self,
        *,
        name: str,
        transformer: str,
        source: str | None,
        workdir: str | Path,
        options: Mapping[str, str] | None = None,
        instances: Iterable[tuple[str, int]] = (),
        submitter: Mapping[str, int | None] | None = None,
        owner: str | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> RunRecord:
        """Record a new run in state ``submitting`` with a fresh id, its run directory
        (created, mode 0700) and one ``pending`` row per task instance.

        :param submitter: ``{"pid", "start"}`` of the submitting process, so that a run
            whose submitter died during submission can be recognised later.
        :param owner: the user the run belongs to (runs submitted through the service).
        :param parameters: the values of the jobspec's parameters (name -> JSON value).
        """
        now = time.time()
        for _attempt in range(20):
            run_id = new_run_id(now)
            run_dir = self.runs_dir / run_id
            try:
                with self._write() as db:
                    db.execute(
                        "INSERT INTO runs (run_id, name, transformer, source, workdir, run_dir,"
                        " options, submitter, owner, parameters, created_at, updated_at, state)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'submitting')",
                        (
                            run_id,
                            name,
                            transformer,
                            source,
                            str(workdir),
                            str(run_dir),
                            json.dumps(dict(options or {})),
                            json.dumps(dict(submitter)) if submitter else None,
                            owner,
                            json.dumps(dict(parameters)) if parameters else None,
                            now,
                            now,
                        ),
                    )
                    db.executemany(
                        "INSERT INTO tasks (run_id, task_id, idx, state, updated_at, seq)"
                        " VALUES (?, ?, ?, 'pending', ?, ?)",
                        [(run_id, t, i, now, n) for n, (t, i) in enumerate(instances)],
                    )
            except sqlite3.IntegrityError:
                continue  # the same id was drawn in the same second: draw again
            except sqlite3.Error as exc:
                raise StoreError(f"cannot record the run in {self.path}: {exc}") from exc
            run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            return self.get_run(run_id)
        raise StoreError(f"could not draw a unique run id in {self.path}")

    def delete_run(self, run_id: str) -> None:
        """Forget a run (used when it fails before anything was submitted)."""
        with self._write() as db:
            db.execute("DELETE FROM tasks WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))

    def get_run(self, run_id: str) -> RunRecord:
        """The run with exactly this id (:class:`StoreError` if unknown)."""
        rows = self._read("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise StoreError(f"no run {run_id!r} in the run store {self.path}")
        return run_from_row(rows[0])

    def resolve(self, ref: str | None) -> str:
        """The full run id for ``ref``: an id, a unique prefix, or ``None``/``latest`` for
        the most recent run. Unknown or ambiguous references raise :class:`StoreError`."""
        if ref in (None, "", "latest"):
            rows = self._read(
                "SELECT run_id FROM runs ORDER BY created_at DESC, run_id DESC LIMIT 1"
            )
            if not rows:
                raise StoreError(f"no runs recorded yet in the run store {self.path}")
            return rows[0][0]
        escaped = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._read(
            "SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '\\' ORDER BY run_id LIMIT 6",
            (escaped + "%",),
        )
        ids = [r[0] for r in rows]
        if ref in ids:
            return ref
        if not ids:
            raise StoreError(f"no run matches {ref!r} in the run store {self.path}")
        if len(ids) > 1:
            shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
            raise StoreError(f"run {ref!r} is ambiguous: it matches {shown}")
        return ids[0]

    def list_runs(self, limit: int = 50, owner: str | None = None) -> list[RunRecord]:
        """The most recent runs first; only ``owner``'s when given."""
        if owner is None:
            rows = self._read(
                "SELECT * FROM runs ORDER BY created_at DESC, run_id DESC LIMIT ?", (int(limit),)
            )
        else:
            rows = self._read(
                "SELECT * FROM runs WHERE owner = ? ORDER BY created_at DESC, run_id DESC LIMIT ?",
                (owner, int(limit)),
            )
        return [run_from_row(r) for r in rows]

    # -- tokens (the service's; see jobspec_core.tokens) --------------------------------
    def add_token(self, token_id: str, user: str, admin: bool, secret_hash: str) -> None:
        """Record a token by its id and the hash of its secret."""
        with self._write() as db:
            db.execute(
                "INSERT INTO tokens (token_id, username, admin, secret_hash, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (token_id, user, int(admin), secret_hash, time.time()),
            )

    def token(self, token_id: str) -> dict[str, Any] | None:
        """The token row with this id (revoked ones included), or ``None``."""
        rows = self._read("SELECT * FROM tokens WHERE token_id = ?", (token_id,))
        return dict(rows[0]) if rows else None

    def tokens(self, user: str | None = None) -> list[dict[str, Any]]:
        """Every token row (of ``user`` when given), oldest first; hashes included."""
        if user is None:
            rows = self._read("SELECT * FROM tokens ORDER BY created_at, token_id")
        else:
            rows = self._read(
                "SELECT * FROM tokens WHERE username = ? ORDER BY created_at, token_id", (user,)
            )
        return [dict(r) for r in rows]

    def revoke_tokens(self, user: str, token_id: str | None = None) -> int:
        """Revoke ``user``'s tokens (only ``token_id`` when given); how many were revoked."""
        sql = "UPDATE tokens SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL"
        params: list[Any] = [time.time(), user]
        if token_id is not None:
            sql += " AND token_id = ?"
            params.append(token_id)
        with self._write() as db:
            return db.execute(sql, params).rowcount

    def set_run_state(self, run_id: str, state: str, error: str | None = None) -> None:
        """Set a run's state (one of :data:`RUN_STATES`); final states stamp ``finished_at``."""
        if state not in RUN_STATES:
            raise ValueError(f"unknown run state {state!r}")
        now = time.time()
        with self._write() as db:
            db.execute(
                "UPDATE runs SET state = ?, updated_at = ?, error = COALESCE(?, error),"
                " finished_at = CASE WHEN ? THEN COALESCE(finished_at, ?) ELSE NULL END"
                " WHERE run_id = ?",
                (state, now, error, state in FINAL_RUN_STATES, now, run_id),
            )

    # -- task instances -------------------------------------------------------------
    def set_handles(
        self, run_id: str, handles: Iterable[TaskHandle], state: TaskState | None = None
    ) -> None:
        """Store each handle on its instance row (created if the plan had no such row);
        optionally set the rows' state too."""
        now = time.time()
        rows = [
            (h.native_id, _handle_json(h), h.log, now, run_id, h.task_id, h.index) for h in handles
        ]
        with self._write() as db:
            for native_id, handle, log, ts, rid, task_id, idx in rows:
                cur = db.execute(
                    "UPDATE tasks SET native_id = ?, handle = ?, log = ?, updated_at = ?"
                    " WHERE run_id = ? AND task_id = ? AND idx = ?",
                    (native_id, handle, log, ts, rid, task_id, idx),
                )
                if cur.rowcount == 0:
                    db.execute(
                        "INSERT INTO tasks (run_id, task_id, idx, native_id, handle, log, state,"
                        " updated_at, seq) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?,"
                        " (SELECT COUNT(*) FROM tasks WHERE run_id = ?))",
                        (rid, task_id, idx, native_id, handle, log, ts, rid),
                    )
            if state is not None:
                db.executemany(
                    "UPDATE tasks SET state = ? WHERE run_id = ? AND task_id = ? AND idx = ?",
                    [(state.value, run_id, h.task_id, h.index) for h in handles],
                )
        self.touch(run_id)

    def update_tasks(
        self,
        run_id: str,
        statuses: Mapping[tuple[str, int], TaskStatus],
        current: Iterable[TaskRecord] | None = None,
    ) -> int:
        """Record statuses; only rows that changed are written. Returns how many changed.

        :param current: the run's records as last read (saves reading them again); the
            records are updated in place to match what was written.
        """
        records = {t.key: t for t in (self.tasks(run_id) if current is None else current)}
        changes = []
        now = time.time()
        for key, st in statuses.items():
            old = records.get(key)
            if old is None:
                continue
            if (old.state, old.exit_code, old.reason, old.started_at, old.finished_at) == (
                st.state,
                st.exit_code,
                st.reason,
                st.started_at,
                st.finished_at,
            ):
                continue
            old.state, old.exit_code, old.reason = st.state, st.exit_code, st.reason
            old.started_at, old.finished_at = st.started_at, st.finished_at
            changes.append(
                (
                    st.state.value,
                    st.exit_code,
                    st.reason,
                    st.started_at,
                    st.finished_at,
                    now,
                    run_id,
                    key[0],
                    key[1],
                )
            )
        if changes:
            with self._write() as db:
                db.executemany(
                    "UPDATE tasks SET state = ?, exit_code = ?, reason = ?, started_at = ?,"
                    " finished_at = ?, updated_at = ? WHERE run_id = ? AND task_id = ? AND idx = ?",
                    changes,
                )
                db.execute("UPDATE runs SET updated_at = ? WHERE run_id = ?", (now, run_id))
        return len(changes)

    def touch(self, run_id: str) -> None:
        with self._write() as db:
            db.execute("UPDATE runs SET updated_at = ? WHERE run_id = ?", (time.time(), run_id))

    def tasks(self, run_id: str) -> list[TaskRecord]:
        """Every instance of a run, in plan order."""
        rows = self._read("SELECT * FROM tasks WHERE run_id = ? ORDER BY seq, idx", (run_id,))
        return [task_from_row(r) for r in rows]

    def handles(self, run_id: str) -> list[TaskHandle]:
        """The stored handles of a run (instances never submitted have none)."""
        return [t.handle for t in self.tasks(run_id) if t.handle is not None]


def _handle_json(h: TaskHandle) -> str:
    # the same as json.dumps(h.to_dict()), without dataclasses.asdict's deep copies
    # (a second per 10,000 handles)
    return json.dumps(
        {
            "task_id": h.task_id,
            "index": h.index,
            "native_id": h.native_id,
            "log": h.log,
            "data": h.data,
        }
    )


def open_store(path: str | Path | None = None) -> RunStore:
    """The store at ``path``, or at ``$JOBSPEC_STORE``, or at the default location."""
    return RunStore(path)


def recent_runs_readonly(path: str | Path, limit: int = 100) -> list[RunRecord]:
    """The most recent runs of the store at ``path``, read without writing or waiting.

    For shell completion, where a Tab press must neither create a store, nor migrate one,
    nor queue behind a writer: the file is opened read-only, a locked or missing or
    foreign database gives ``[]``.
    """
    try:
        db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=0.5)
    except (sqlite3.Error, ValueError, OSError):
        return []
    try:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "SELECT * FROM runs ORDER BY created_at DESC, run_id DESC LIMIT ?", (int(limit),)
        ).fetchall()
        return [run_from_row(r) for r in rows]
    except (sqlite3.Error, ValueError, KeyError):
        return []
    finally:
        db.close()
