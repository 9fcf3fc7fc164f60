"""Carrying out one case: run mode (through the runner, for real) and render mode.

Run mode goes through the same path as ``jobspec run``: :class:`jobspec_core.runner.Runner`
validates, records the run in a private store, renders, writes the files and submits
through the transformer, then follows it with the transformer's ``status``/``wait``.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

from jobspec_core.errors import JobspecError
from jobspec_core.plan import Plan
from jobspec_core.transformer import RunContext, Submission, Transformer

from .cases import Case
from .expect import Observed, describe_record
from .observe import install_probe, read_probes
from .outcome import CaseFailed, Mismatch

__all__ = ["RENDER_PLACES", "run_case", "render_case", "describe_exception"]

#: Fixed places used in render mode, so rendered files are the same on every machine.
RENDER_PLACES = {
    "@WORKDIR@": "/jobspec/work",
    "@RESULTS@": "/jobspec/results",
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


def prepare_dirs(base: Path, case: Case) -> tuple[Path, Path]:
    """Create the work and results directories of one run; write ``given_files`` and the
    probe. Returns ``(workdir, results)`` as physical absolute paths."""
    workdir = (base / "work").resolve()
    results = (base / "results").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    install_probe(results)
    for name, content in case.given_files.items():
        target = workdir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return workdir, results


def run_case(
    case: Case,
    plan: Plan,
    transformer: str,
    base: Path,
    workdir: Path,
    results: Path,
    timeout: float,
    options: dict[str, str] | None = None,
) -> Observed:
    """Submit ``plan`` through the runner and wait for it; raises :class:`CaseFailed` when
    it is refused or does not end within ``timeout`` seconds (then it is cancelled)."""
    from jobspec_core.runner import Runner
    from jobspec_core.store import RunStore

    runner = Runner(store=RunStore(base / "runs.sqlite"))
    try:
        return _submit_and_wait(runner, plan, transformer, workdir, results, timeout, options)
    finally:
        runner.store.close()


def _submit_and_wait(runner, plan, transformer, workdir, results, timeout, options) -> Observed:
    try:
        run_id = runner.submit(plan, transformer, workdir=workdir, options=dict(options or {}))
    except JobspecError as exc:
        raise CaseFailed(
            [Mismatch("submission", "the run is accepted and submitted", describe_exception(exc))]
        ) from exc
    try:
        status = runner.wait(run_id, timeout=timeout)
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
    return Observed(run_id, records, read_probes(results), workdir, results)


def _terminal(record: Any) -> bool:
    state = record.state
    return bool(getattr(state, "terminal", False))


def render_case(
    transformer: Transformer, plan: Plan, options: dict[str, str] | None = None
) -> Submission:
    """Render ``plan`` at the fixed render places; any error becomes :class:`CaseFailed`."""
    context = RunContext(
        run_id="RUN_ID",
        run_dir=RENDER_RUN_DIR,
        workdir=Path(RENDER_PLACES["@WORKDIR@"]),
        options=dict(options or {}),
    )
    try:
        return transformer.render(plan, context)
    except Exception as exc:
        raise CaseFailed(
            [Mismatch("rendering", "the plan renders without error", describe_exception(exc))]
        ) from exc
