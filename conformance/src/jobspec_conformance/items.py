"""The pytest nodes of the suite: one :class:`CaseFile` per case file, one :class:`CaseItem`
per case, named by the case's id (as cwltest does for CWL conformance tests)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from .cases import Case, CaseError, load_case
from .execute import (
    RENDER_PLACES,
    Refused,
    describe_exception,
    outside_dir,
    prepare_dirs,
    render_case,
    run_case,
    written_outside,
)
from .expect import check_run, describe_record
from .outcome import CaseFailed, Mismatch
from .prepare import missing_features, prepare_plan, prepare_same_as, substitute
from .render_check import (
    check_notes,
    check_same_as,
    check_structure,
    compare_golden,
    update_golden,
)
from .settings import Settings, settings_of

__all__ = ["CaseFile", "CaseItem", "MODE_SKIP", "REQUIRED_MARKER"]

#: The marker of required cases: ``-m conformance_required`` runs only those.
REQUIRED_MARKER = "conformance_required"

#: How a skip for a case that does not apply to this mode begins (not a missing capability).
MODE_SKIP = "this case applies to"


class CaseFile(pytest.File):
    """A ``*.jobspec-test.yaml`` file; a broken one is a collection error naming file:line."""

    def collect(self):
        case = load_case(self.path)
        settings = settings_of(self.config)
        if settings is not None:
            other = settings.seen_ids.get(case.id)
            if other is not None and other != str(self.path):
                raise CaseError(
                    [
                        _problem(
                            self.path, case.line, f"duplicate case id {case.id!r}: also in {other}"
                        )
                    ]
                )
            settings.seen_ids[case.id] = str(self.path)
        yield CaseItem.from_parent(self, name=case.id, case=case)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CaseError):
            lines = [f"broken conformance case file {self.path}:"]
            lines += [f"  {p.format()}" for p in excinfo.value.problems]
            lines.append(f"  (the case format: {_schema_hint()})")
            return "\n".join(lines)
        return super().repr_failure(excinfo, style)


def _problem(path: Path, line: int, message: str):
    from jobspec_core.errors import Problem

    return Problem(message, "id", str(path), line, None)


def _schema_hint() -> str:
    return "jobspec_conformance/case.schema.json and docs/conformance/README.md"


def _skip(reason: str) -> None:
    """Skip the running case, reported at the case file's line rather than at this module."""
    try:
        raise pytest.skip.Exception(reason, _use_item_location=True)
    except TypeError:  # a pytest without item locations for skips
        pytest.skip(reason)


def _stray(workdir: Path) -> Mismatch | None:
    """A mismatch when anything of the run landed in the outside canary folder."""
    stray = written_outside(workdir)
    if not stray:
        return None
    return Mismatch(
        "files outside the run",
        f"nothing written into {outside_dir(workdir)} (outside every working and staging "
        "directory)",
        ", ".join(stray),
    )


class CaseItem(pytest.Item):
    """One conformance case, carried out in the session's mode against its transformer."""

    def __init__(self, *, case: Case, **kwargs: Any):
        super().__init__(**kwargs)
        self.case = case
        if case.required:
            self.add_marker(REQUIRED_MARKER)
        self.details: list[str] = []

    # -- running ---------------------------------------------------------------------
    def _settings(self) -> Settings:
        settings = settings_of(self.config)
        if settings is None:  # collected by hand without --transformer
            pytest.skip("the conformance suite runs only with --transformer NAME")
        return settings

    def _base_dir(self) -> Path:
        factory = getattr(self.config, "_tmp_path_factory", None)
        if factory is not None:
            return factory.mktemp(self.case.id, numbered=True)
        return Path(tempfile.mkdtemp(prefix=f"{self.case.id}-"))

    def runtest(self) -> None:
        settings = self._settings()
        case = self.case
        transformer = settings.transformer
        if settings.mode not in case.modes:
            _skip(f"{MODE_SKIP} {' and '.join(case.modes)} mode only")
        if settings.mode == "render":
            placeholders = dict(RENDER_PLACES)
        else:
            base = self._base_dir()
            workdir, results = prepare_dirs(base, case)
            placeholders = {
                "@WORKDIR@": str(workdir),
                "@RESULTS@": str(results),
                "@OUTSIDE@": str(outside_dir(workdir)),
            }
        plan = prepare_plan(case, placeholders)
        missing = missing_features(case, plan, transformer.capabilities)
        if missing:
            reason = f"{settings.transformer_name} does not declare {', '.join(missing)}"
            if (
                "attributes.environment" in missing
                and "attributes.environment" not in case.features
            ):
                reason += (
                    " (the suite passes CONFORMANCE_RESULTS_DIR through attributes.environment)"
                )
            if case.required:
                raise CaseFailed(
                    [
                        Mismatch(
                            "capabilities",
                            "a transformer supports every feature of a required case",
                            reason,
                        )
                    ]
                )
            _skip(reason)
        if settings.mode == "render":
            try:
                self._render(settings, plan)
            except Refused as refusal:  # may_refuse: a clear error is a conforming outcome
                self.details = [f"refused with a clear error: {refusal}"]
            return
        fault = self._fault(settings, plan)
        try:
            self._run(settings, plan, base, workdir, results, placeholders, fault)
        except Refused as refusal:  # may_refuse / must_refuse
            self.details = [f"refused with a clear error: {refusal}"]
            stray = _stray(workdir)
            if stray:
                raise CaseFailed([stray], self.details) from None
            return

    def _fault(self, settings: Settings, plan):
        """The bound fault method the case needs (``None`` without ``fault:``); skips the
        case, with the reason, when the transformer does not offer it."""
        spec = self.case.fault
        if spec is None:
            return None
        from .faults import FaultUnavailable, fault_method

        task = next((t for t in plan.tasks() if t.id == spec["task"]), None)
        index = int(spec.get("index", 0))
        if task is None or index >= task.replicas:
            raise CaseFailed(
                [
                    Mismatch(
                        "the case's fault",
                        "names a task instance of the plan (the case itself is broken)",
                        f"{spec['task']}@{index}",
                    )
                ]
            )
        try:
            return fault_method(settings.transformer_name, settings.transformer, spec["action"])
        except FaultUnavailable as exc:
            _skip(str(exc))

    def _render(self, settings: Settings, plan) -> None:
        submission = render_case(
            settings.transformer, plan, settings.options, may_refuse=self.case.may_refuse
        )
        mismatches = check_structure(plan, submission, settings.transformer, self.case.render)
        mismatches += check_notes(submission, self.case.render)
        if "same_as" in self.case.render:
            other = prepare_same_as(self.case, dict(RENDER_PLACES))
            mismatches += check_same_as(
                submission, render_case(settings.transformer, other, settings.options)
            )
        if settings.golden is not None:
            folder = settings.golden / self.case.id
            if settings.update_golden:
                update_golden(folder, submission)
            else:
                mismatches += compare_golden(folder, submission)
        self.details = [
            f"rendered units: {[(u.node_id, u.kind, u.instances) for u in submission.units]}"
        ]
        if mismatches:
            raise CaseFailed(mismatches, self.details)

    def _run(self, settings: Settings, plan, base, workdir, results, placeholders, fault) -> None:
        timeout = self.case.timeout or settings.timeout
        observed = run_case(
            self.case,
            plan,
            settings.transformer_name,
            base,
            workdir,
            results,
            timeout,
            settings.options,
            fault,
        )
        expect = substitute(self.case.expect, {**placeholders, "@RUN_ID@": observed.run_id})
        if self.case.must_refuse:
            mismatches = [
                Mismatch(
                    "submission",
                    "refused with a clear error before anything runs (must_refuse)",
                    "accepted and run: " + "; ".join(describe_record(r) for r in observed.records),
                )
            ]
        else:
            mismatches = check_run(plan, observed, expect, settings.duration_slack)
        stray = _stray(workdir)
        if stray:
            mismatches.append(stray)
        self.details = ["task records:"]
        for record in observed.records:
            line = f"  {describe_record(record)}"
            if record.log:
                line += f" log: {record.log}"
            self.details.append(line)
        self.details.append(f"task reports (probe.sh): {results}")
        if mismatches:
            raise CaseFailed(mismatches, self.details)

    # -- reporting ------------------------------------------------------------------
    def repr_failure(self, excinfo, style=None):
        exc = excinfo.value
        settings = settings_of(self.config)
        if isinstance(exc, CaseFailed):
            return format_failure(self.case, settings, exc.mismatches, exc.details)
        tbstyle = self.config.getoption("tbstyle", "auto")
        if tbstyle in ("long", "native") or self.config.getoption("fulltrace", False):
            return super().repr_failure(excinfo, style)
        mismatch = Mismatch(
            "carrying out the case",
            "no error (use --tb=long to see the traceback)",
            describe_exception(exc),
        )
        return format_failure(self.case, settings, [mismatch], self.details)

    def reportinfo(self):
        return self.path, self.case.line - 1, f"conformance case {self.case.id}"


def format_failure(
    case: Case, settings: Settings | None, mismatches: list[Mismatch], details: list[str]
) -> str:
    """The failure text: the case, what was expected against what was seen, and details."""
    who = (
        f"transformer {settings.transformer_name}, {settings.mode} mode"
        if settings
        else "no transformer"
    )
    lines = [
        f"conformance case {case.id!r} failed ({'required' if case.required else 'optional'};"
        f" {who})",
        f"  case file:   {case.path}:{case.line}",
        f"  description: {case.description}",
        f"  features:    {', '.join(case.features)}",
        "  jobspec:",
    ]
    lines += [f"    | {line}" for line in case.jobspec_text.rstrip("\n").splitlines()]
    lines.append("  expected vs seen:")
    lines += [m.format("  ") for m in mismatches]
    lines += [f"  {d}" for d in details]
    return "\n".join(lines)
