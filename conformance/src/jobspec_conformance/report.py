"""The conformance report: features x outcomes, as JSON, Markdown and a terminal table.

A case counts for every feature it is tagged with. A feature's status:

* ``FAIL``        at least one of its cases failed;
* ``ok``          every case ran and passed;
* ``partial``     some cases passed, others were skipped (a feature the transformer lacks);
* ``unsupported`` every case was skipped;
* ``not run``     no case of the feature ran in this session (``-k`` or deselection, or
  its cases apply to the other mode only: their outcome is ``not applicable``).
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

from jobspec_core.features import FEATURES

from .settings import Settings

__all__ = ["REPORT_FORMAT", "build_report", "feature_table", "markdown", "terminal_table", "write"]

REPORT_FORMAT = 1
OUTCOMES = ("passed", "failed", "skipped")


def _status(counts: dict[str, int]) -> str:
    if counts["failed"]:
        return "FAIL"
    if counts["passed"] and counts["skipped"]:
        return "partial"
    if counts["passed"]:
        return "ok"
    if counts["skipped"]:
        return "unsupported"
    return "not run"


def build_report(settings: Settings) -> dict[str, Any]:
    """The report as plain data (what the JSON file holds)."""
    cases = sorted(settings.results.values(), key=lambda r: r.id)
    features = []
    for name, description in FEATURES.items():
        mine = [c for c in cases if name in c.features]
        counts = {o: sum(1 for c in mine if c.outcome == o) for o in OUTCOMES}
        features.append(
            {
                "feature": name,
                "description": description,
                **counts,
                "status": _status(counts),
                "cases": [c.id for c in mine],
                "failed_cases": [c.id for c in mine if c.outcome == "failed"],
            }
        )
    summary = {o: sum(1 for c in cases if c.outcome == o) for o in OUTCOMES}
    summary["required_failed"] = sum(1 for c in cases if c.required and c.outcome == "failed")
    summary["broken_case_files"] = len(settings.broken)
    return {
        "format": REPORT_FORMAT,
        "transformer": settings.transformer_name,
        "transformer_version": type(settings.transformer).version(),
        "capabilities": sorted(settings.transformer.capabilities),
        "mode": settings.mode,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "platform": platform.platform(),
        "summary": summary,
        "features": features,
        "cases": [c.__dict__ for c in cases],
        "broken_case_files": list(settings.broken),
    }


def feature_table(report: dict[str, Any]) -> list[list[str]]:
    """Header row plus one row per feature: feature, status, passed, failed, skipped, failing."""
    rows = [["feature", "status", "passed", "failed", "skipped", "failing cases"]]
    for f in report["features"]:
        rows.append(
            [
                f["feature"],
                f["status"],
                str(f["passed"]),
                str(f["failed"]),
                str(f["skipped"]),
                ", ".join(f["failed_cases"]) or "-",
            ]
        )
    return rows


_NUMERIC = {2, 3, 4}


def terminal_table(report: dict[str, Any]) -> str:
    """The feature table with aligned columns, for a terminal."""
    rows = feature_table(report)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            row[i].rjust(widths[i]) if i in _NUMERIC else row[i].ljust(widths[i])
            for i in range(len(widths))
        ]
        lines.append("  ".join(cells + [row[-1]]).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths + [len(row[-1])]))
    s = report["summary"]
    lines.append("")
    lines.append(
        f"{s['passed']} passed, {s['failed']} failed ({s['required_failed']} required), "
        f"{s['skipped']} skipped; transformer {report['transformer']} "
        f"{report['transformer_version']}, {report['mode']} mode"
    )
    if report["broken_case_files"]:
        lines.append(
            f"{len(report['broken_case_files'])} broken case file(s): see the errors above"
        )
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown document: the feature table, then one row per case."""
    s = report["summary"]
    out = [
        f"# Conformance report: {report['transformer']} ({report['mode']} mode)",
        "",
        f"- transformer: `{report['transformer']}` version {report['transformer_version']}",
        f"- created: {report['created']} on {report['platform']}",
        f"- cases: {s['passed']} passed, {s['failed']} failed "
        f"({s['required_failed']} of them required), {s['skipped']} skipped",
        "",
        "## Features",
        "",
    ]
    rows = feature_table(report)
    out.append("| " + " | ".join(rows[0]) + " |")
    out.append(
        "| " + " | ".join("---:" if i in _NUMERIC else "---" for i in range(len(rows[0]))) + " |"
    )
    for row in rows[1:]:
        out.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
    out += [
        "",
        "## Cases",
        "",
        "| case | required | outcome | reason |",
        "| --- | --- | --- | --- |",
    ]
    for c in report["cases"]:
        reason = c["reason"].splitlines()[0] if c["reason"] else ""
        out.append(
            f"| {_md_cell(c['id'])} | {'yes' if c['required'] else 'no'} | {c['outcome']} "
            f"| {_md_cell(reason[:200])} |"
        )
    if report["broken_case_files"]:
        out += ["", "## Broken case files", ""]
        out += [f"- `{b['file']}`: {_md_cell(b['message'])}" for b in report["broken_case_files"]]
    return "\n".join(out) + "\n"


def write(report: dict[str, Any], path: Path) -> tuple[Path, Path]:
    """Write ``path`` (JSON) and the same path with a ``.md`` suffix; returns both."""
    path = Path(path)
    if path.suffix == ".md":  # keep the two files apart
        path = path.with_suffix(".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    md = path.with_suffix(".md")
    md.write_text(markdown(report), encoding="utf-8")
    return path, md
