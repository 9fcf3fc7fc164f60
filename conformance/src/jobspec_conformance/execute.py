"""Carrying out one case: run mode (through the runner, for real) and render mode.

Run mode goes through the same path as ``jobspec run``: :class:`jobspec_core.runner.Runner`
validates, records the run in a private store, renders, writes the files and submits
through the transformer, then follows it with the transformer's ``status``/``wait``.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobspec_core.errors import JobspecError
from jobspec_core.plan import Plan
from jobspec_core.transformer import RunContext, Submission, Transformer

from .cases import Case
from .expect import Observed, describe_record
from .observe import escape, install_probe, read_probes
from .outcome import CaseFailed, Mismatch

__all__ = [
    "RENDER_PLACES",
    "Refused",
    "outside_dir",
    "run_case",
    "render_case",
    "describe_exception",
    "written_outside",
]


class Refused(Exception):
    """The transformer refused the case with a clear error (a ``JobspecError`` at render or
    submit) and the case allows it (``may_refuse``); the message is that error."""


#: Fixed places used in render mode, so rendered files are the same on every machine.
RENDER_PLACES = {
    "@WORKDIR@": "/jobspec/work",
    "@RESULTS@": "/jobspec/results",
    "@OUTSIDE@": "/jobspec/outside",
}
RENDER_RUN_DIR = Path("/jobspec/run")


def describe_exception(exc: BaseException) -> str:
    """``ValueError: bad thing (at module.py:12 in render)``: one line, no traceback."""
    text = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames and not isinstance(exc, JobspecError):
        last = frames[-1]
        text += f" (raised at {Path(last.filename).name}:{last.lineno} in {last.name})"
    return text


def run_base(base: Path, case: Case) -> Path:
    """The folder one run lives in: ``base``, or the case's ``run_in`` folder inside it."""
    folder = base / case.run_in if case.run_in else base
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def outside_dir(workdir: Path) -> Path:
    """The canary folder beside the work folder (``@OUTSIDE@``): nothing of a run may ever
    be written there; :func:`written_outside` checks it after every run-mode case."""
    return workdir.parent / "outside"


def prepare_dirs(base: Path, case: Case) -> tuple[Path, Path]:
    """Create the work, results and (empty) outside directories of one run (under
    :func:`run_base`); write ``given_files``, plant ``given_links`` and the probe. Returns
    ``(workdir, results)`` as physical absolute paths."""
    base = run_base(base, case)
    workdir = (base / "work").resolve()
    results = (base / "results").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    outside_dir(workdir).mkdir(exist_ok=True)
    install_probe(results)
    for name, content in case.given_files.items():
        target = workdir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    places = {"@WORKDIR@": str(workdir), "@RESULTS@": str(results)}
    places["@OUTSIDE@"] = str(outside_dir(workdir))
    for name, target in case.given_links.items():
        link = workdir / name
        link.parent.mkdir(parents=True, exist_ok=True)
        for key, text in places.items():
            target = target.replace(key, text)
        link.symlink_to(target)
    return workdir, results


def written_outside(workdir: Path) -> list[str]:
    """Everything found in the outside canary folder (``[]`` when it is empty)."""
    folder = outside_dir(workdir)
    if not folder.is_dir():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def run_case(
    case: Case,
    plan: Plan,
    transformer: str,
    base: Path,
    workdir: Path,
    results: Path,
    timeout: float,
    options: dict[str, str] | None = None,
    fault: Callable[..., None] | None = None,
) -> Observed:
    """Submit ``plan`` through the runner and wait for it; raises :class:`CaseFailed` when
    it is refused or does not end within ``timeout`` seconds (then it is cancelled), and
    :class:`Refused` when it is refused with a clear error and the case allows that.

    ``fault``: the bound method of the transformer's conformance faults the case's
    ``fault:`` names; it is called once the named instance has started (its probe reported),
    then the run is waited for as usual, and everything left is cancelled afterwards.
    """
    from jobspec_core.runner import Runner
    from jobspec_core.store import RunStore

    runner = Runner(store=RunStore(run_base(base, case) / "runs.sqlite"))
    try:
        return _submit_and_wait(
            runner, case, plan, transformer, workdir, results, timeout, options, fault
        )
    finally:
        runner.store.close()


def subsystems_dir(workdir: Path, case: Case) -> Path | None:
    """Write the case's ``given_subsystems`` to a folder beside the work folder; ``None``
    when it has none."""
    if not case.given_subsystems:
        return None
    folder = workdir.parent / "subsystems"
    folder.mkdir(parents=True, exist_ok=True)
    for name, graph in case.given_subsystems.items():
        (folder / name).write_text(json.dumps(graph), encoding="utf-8")
    return folder


def _submit_and_wait(runner, case, plan, transformer, workdir, results, timeout, options, fault):
    deadline = time.monotonic() + timeout
    subsystems = subsystems_dir(workdir, case)
    try:
        run_id = runner.submit(
            plan,
            transformer,
            workdir=workdir,
            options=dict(options or {}),
            subsystems=str(subsystems) if subsystems else None,
        )
    except JobspecError as exc:
        if case.may_refuse and str(exc).strip():
            raise Refused(describe_exception(exc)) from exc
        raise CaseFailed(
            [Mismatch("submission", "the run is accepted and submitted", describe_exception(exc))]
        ) from exc
    if fault is not None:
        try:
            _cause_fault(runner, run_id, case, fault, results, deadline)
        except BaseException:
            _cancel_quietly(runner, run_id)
            raise
    try:
        status = runner.wait(run_id, timeout=max(deadline - time.monotonic(), 1.0))
    except JobspecError as exc:
        runner.cancel(run_id)
        raise CaseFailed(
            [Mismatch("waiting for the run", "every task ends", describe_exception(exc))]
        ) from exc
    records = list(status.tasks)
    unfinished = [r for r in records if not _terminal(r)]
    if unfinished:
        try:
            runner.cancel(run_id)
        except JobspecError:
            pass
        raise CaseFailed(
            [
                Mismatch(
                    "the run",
                    f"every task instance ends within {timeout:g} s (--conformance-timeout)",
                    "still not ended: " + "; ".join(describe_record(r) for r in unfinished),
                )
            ],
            ["task records:"] + [f"  {describe_record(r)}" for r in records],
        )
    if fault is not None:
        _cancel_quietly(runner, run_id, every=True)
    return Observed(run_id, records, read_probes(results), workdir, results)


def _context(runner: Any, run_id: str) -> RunContext:
    run = runner.record(run_id).run
    return RunContext(run.run_id, Path(run.run_dir), Path(run.workdir), dict(run.options))


def _cancel_quietly(runner: Any, run_id: str, every: bool = False) -> None:
    """Cancel what is left of a run; with ``every``, ask the transformer to cancel every
    handle, finished or not (after a fault a job may linger natively in an error state
    that jobspec already records as final)."""
    try:
        if not every:
            runner.cancel(run_id)
            return
        status = runner.record(run_id)
        handles = [t.handle for t in status.tasks if t.handle is not None]
        if handles:
            runner.registry.transformer(status.run.transformer).cancel(
                handles, _context(runner, run_id)
            )
    except Exception:  # cleanup only: the case's outcome is already decided
        pass


def _cause_fault(runner, run_id, case, fault, results, deadline) -> None:
    """Wait until the instance ``case.fault`` names has started (its probe's ``start``
    record), then cause the fault; :class:`CaseFailed` when it cannot be done."""
    spec = case.fault
    task, index = spec["task"], int(spec.get("index", 0))
    action = spec["action"]
    started = results / f"{escape(task)}@{index}" / "start"
    subject = f"fault {action} on {task}@{index}"
    record = None
    while time.monotonic() < deadline:
        try:
            status = runner.status(run_id)
        except JobspecError:  # a transient scheduler error: ask again until the deadline
            time.sleep(0.5)
            continue
        record = next((r for r in status.tasks if (r.task_id, r.index) == (task, index)), None)
        if record is None:
            raise CaseFailed(
                [Mismatch(subject, "an instance of the plan (the case is broken)", "no such")]
            )
        if started.exists() and record.handle is not None:
            break
        if record.state.terminal:
            raise CaseFailed(
                [
                    Mismatch(
                        subject,
                        f"{task}@{index} starts and runs until the fault is caused",
                        f"it ended first: {describe_record(record)}",
                    )
                ]
            )
        time.sleep(0.5)
    else:
        raise CaseFailed(
            [
                Mismatch(
                    subject,
                    f"{task}@{index} starts within the case's timeout, so the fault can be caused",
                    "it had not started: "
                    + (describe_record(record) if record is not None else "no record"),
                )
            ]
        )
    args = (spec["seconds"],) if action == "limit_behind" else ()
    try:
        fault(record.handle, _context(runner, run_id), *args)
    except Exception as exc:
        raise CaseFailed(
            [
                Mismatch(
                    subject,
                    "the transformer's conformance faults cause it",
                    describe_exception(exc),
                )
            ]
        ) from exc


def _terminal(record: Any) -> bool:
    state = record.state
    return bool(getattr(state, "terminal", False))


def render_case(
    transformer: Transformer,
    plan: Plan,
    options: dict[str, str] | None = None,
    may_refuse: bool = False,
) -> Submission:
    """Render ``plan`` at the fixed render places; any error becomes :class:`CaseFailed`,
    except a clear refusal (a ``JobspecError``) when ``may_refuse``: :class:`Refused`."""
    context = RunContext(
        run_id="RUN_ID",
        run_dir=RENDER_RUN_DIR,
        workdir=Path(RENDER_PLACES["@WORKDIR@"]),
        options=dict(options or {}),
    )
    try:
        return transformer.render(plan, context)
    except JobspecError as exc:
        if may_refuse and str(exc).strip():
            raise Refused(describe_exception(exc)) from exc
        raise CaseFailed(
            [Mismatch("rendering", "the plan renders without error", describe_exception(exc))]
        ) from exc
    except Exception as exc:
        raise CaseFailed(
            [Mismatch("rendering", "the plan renders without error", describe_exception(exc))]
        ) from exc
