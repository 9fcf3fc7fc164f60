"""The records of the run store: :class:`RunRecord` (one run) and :class:`TaskRecord`
(one task instance), as read back from SQLite rows."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from .transformer import TaskHandle, TaskState

__all__ = ["FINAL_RUN_STATES", "RunRecord", "TaskRecord", "run_from_row", "task_from_row"]

FINAL_RUN_STATES = frozenset({"completed", "failed", "cancelled"})


@dataclass
class RunRecord:
    """One run as recorded."""

    run_id: str
    name: str
    transformer: str
    source: str | None
    workdir: str
    run_dir: str
    created_at: float
    state: str
    updated_at: float = 0.0
    finished_at: float | None = None
    error: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    submitter: dict[str, int | None] | None = None
    owner: str | None = None
    #: the values of the jobspec's parameters the run was planned with (``{}``: none)
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.state in FINAL_RUN_STATES

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """The record :meth:`to_dict` gave (keys it does not know are ignored)."""
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class TaskRecord:
    """One task instance as recorded."""

    task_id: str
    index: int
    state: TaskState
    native_id: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    log: str | None = None
    #: the stored handle as JSON; :attr:`handle` parses it on first use (a run of 10,000
    #: instances is read several times a second while it is followed).
    handle_json: str | None = field(default=None, repr=False, compare=False)

    @property
    def handle(self) -> TaskHandle | None:
        """The instance's :class:`TaskHandle`, or ``None`` if it was never submitted."""
        if self.handle_json is None:
            return None
        cached = self.__dict__.get("_handle")
        if cached is None:
            cached = self.__dict__["_handle"] = TaskHandle.from_dict(json.loads(self.handle_json))
        return cached

    @property
    def key(self) -> tuple[str, int]:
        return (self.task_id, self.index)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("handle_json", "_handle")}
        out["state"] = self.state.value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskRecord:
        """The record :meth:`to_dict` gave, without its handle (keys it does not know are
        ignored)."""
        known = set(cls.__dataclass_fields__) - {"handle_json"}
        fields = {k: v for k, v in data.items() if k in known}
        fields["state"] = TaskState(fields["state"])
        return cls(**fields)


def run_from_row(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        run_id=row["run_id"],
        name=row["name"],
        transformer=row["transformer"],
        source=row["source"],
        workdir=row["workdir"],
        run_dir=row["run_dir"],
        created_at=row["created_at"],
        state=row["state"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
        error=row["error"],
        options=json.loads(row["options"] or "{}"),
        submitter=json.loads(row["submitter"]) if row["submitter"] else None,
        owner=row["owner"],
        # (a store read without migrating it, as shell completion does, may lack the column)
        parameters=json.loads(row["parameters"] or "{}") if "parameters" in row.keys() else {},
    )


def task_from_row(row: sqlite3.Row) -> TaskRecord:
    return TaskRecord(
        task_id=row["task_id"],
        index=row["idx"],
        state=TaskState(row["state"]),
        native_id=row["native_id"],
        exit_code=row["exit_code"],
        reason=row["reason"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        log=row["log"],
        handle_json=row["handle"],
    )
