"""Render-mode expectations: the submission's structure, and golden files.

Structure (the portable part, checked for every transformer):

* each unit's ``script`` is one of the rendered files; each ``{id:NODE}`` placeholder in a
  unit's argv names a node submitted by an earlier unit;
* a transformer that submits per plan node (its units name plan nodes): every top-level
  group is exactly one ``allocation`` unit; nothing inside a group is submitted on its own;
  the replicas of a top-level task are one ``array`` unit when the transformer declares
  ``array_submissions``, else units whose instances add up to the replicas; a unit of a
  node with ``depends_on`` lists those nodes in its ``depends_on``;
* a transformer that submits the whole plan as one unit (a unit naming no plan node, as the
  local backend's supervisor does) makes exactly one unit carrying every task instance.

Golden files: ``DIR/<case-id>/<file>`` for every rendered file and ``DIR/<case-id>/_units.json``
for the units and notes; a person reviews their diffs in version control.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from jobspec_core.ordering import PLACEHOLDER
from jobspec_core.plan import Plan, PlanGroup, PlanTask
from jobspec_core.transformer import Submission, Transformer

from .outcome import Mismatch

__all__ = [
    "check_structure",
    "check_same_as",
    "golden_files",
    "compare_golden",
    "update_golden",
    "UNITS_FILE",
]

UNITS_FILE = "_units.json"


def _total_instances(plan: Plan) -> int:
    return sum(t.replicas for t in plan.tasks())


def check_structure(
    plan: Plan, submission: Submission, transformer: Transformer, expect: dict[str, Any]
) -> list[Mismatch]:
    """Every structural expectation the submission breaks (``[]`` when none)."""
    out: list[Mismatch] = []
    units = submission.units
    if not units:
        return [Mismatch("submission units", "at least one unit", "none")]
    ids = {node.id for node, _ in plan.walk()}
    submitted: set[str] = set()
    for i, unit in enumerate(units):
        where = f"unit {i} ({unit.node_id})"
        if unit.script is not None and unit.script not in submission.files:
            out.append(Mismatch(f"{where}: script", "one of the rendered files", unit.script))
        for word in unit.argv:
            for ref in PLACEHOLDER.findall(word):
                if ref not in submitted:
                    out.append(
                        Mismatch(
                            f"{where}: id placeholder {{id:{ref}}}",
                            "the id of a node submitted by an earlier unit",
                            f"{ref!r} was not submitted before this unit",
                        )
                    )
        submitted.add(unit.node_id)

    per_node = [u for u in units if u.node_id in ids]
    if not per_node:
        total = _total_instances(plan)
        if len(units) != 1 or units[0].instances != total:
            out.append(
                Mismatch(
                    "whole-plan submission",
                    f"one unit carrying all {total} task instances",
                    f"{len(units)} unit(s) carrying {[u.instances for u in units]} instances",
                )
            )
        return out

    by_node: dict[str, list] = {}
    for unit in units:
        by_node.setdefault(unit.node_id, []).append(unit)
    top = {node.id for node in plan.children}
    for unit in units:
        if unit.node_id not in top:
            out.append(
                Mismatch(
                    f"unit for {unit.node_id}",
                    "units only for top-level nodes (what is inside a group runs in its "
                    "allocation)",
                    f"a {unit.kind} unit for {unit.node_id}",
                )
            )
    arrays = bool(getattr(transformer, "array_submissions", False))
    for node in plan.children:
        mine = by_node.get(node.id, [])
        kinds = [u.kind for u in mine]
        if isinstance(node, PlanGroup):
            inside = sum(t.replicas for t in _tasks_in(node))
            if kinds != ["allocation"]:
                out.append(
                    Mismatch(f"group {node.id}", "exactly one allocation unit", f"units {kinds}")
                )
            elif mine[0].instances != inside:
                out.append(
                    Mismatch(
                        f"group {node.id}: instances",
                        f"{inside} (every task instance inside it)",
                        str(mine[0].instances),
                    )
                )
        elif isinstance(node, PlanTask):
            carried = sum(u.instances for u in mine)
            if arrays and node.replicas > 1:
                if kinds != ["array"] or mine[0].instances != node.replicas:
                    out.append(
                        Mismatch(
                            f"task {node.id}: replicas",
                            f"one array unit of {node.replicas} instances "
                            "(the transformer declares array_submissions)",
                            f"units {kinds} carrying {[u.instances for u in mine]}",
                        )
                    )
            elif not mine or carried != node.replicas:
                out.append(
                    Mismatch(
                        f"task {node.id}: units",
                        f"units carrying {node.replicas} instance(s) in all",
                        f"{len(mine)} unit(s) carrying {carried}",
                    )
                )
        for dep in node.depends_on:
            for unit in mine:
                if dep not in unit.depends_on:
                    out.append(
                        Mismatch(
                            f"unit for {node.id}: depends_on",
                            f"lists {dep} (the node it depends on)",
                            f"depends_on = {unit.depends_on}",
                        )
                    )
    if "units" in expect:
        count = len({u.node_id for u in per_node})
        if count != expect["units"]:
            out.append(
                Mismatch(
                    "submissions (a task with its replicas, or a group, counts once)",
                    str(expect["units"]),
                    f"{count}: {[u.node_id for u in units]}",
                )
            )
    if "allocations" in expect:
        count = sum(1 for u in units if u.kind == "allocation")
        if count != expect["allocations"]:
            out.append(Mismatch("allocation units", str(expect["allocations"]), str(count)))
    return out


def check_notes(submission: Submission, expect: dict[str, Any]) -> list[Mismatch]:
    out = []
    for needle in expect.get("notes_contain") or []:
        if not any(needle in note for note in submission.notes):
            out.append(Mismatch("notes", f"a note containing {needle!r}", repr(submission.notes)))
    return out


def check_same_as(submission: Submission, other: Submission) -> list[Mismatch]:
    """Every file, unit or note where ``submission`` differs from ``other`` (the rendering
    of the case's ``render.same_as`` document): the two must be the same submission."""
    mine, theirs = golden_files(submission), golden_files(other)
    out: list[Mismatch] = []
    for name in sorted(set(mine) | set(theirs)):
        if name not in mine or name not in theirs:
            missing = "the case" if name not in mine else "render.same_as"
            out.append(
                Mismatch(f"rendered file {name}", "in both renderings", f"not in {missing}'s")
            )
            continue
        if mine[name] != theirs[name]:
            diff = list(
                difflib.unified_diff(
                    theirs[name].splitlines(),
                    mine[name].splitlines(),
                    "same_as",
                    "case",
                    lineterm="",
                )
            )[:40]
            out.append(
                Mismatch(
                    f"rendered file {name}",
                    "equal to the rendering of render.same_as",
                    "differs:\n        " + "\n        ".join(diff),
                )
            )
    return out


def _tasks_in(group: PlanGroup) -> list[PlanTask]:
    out: list[PlanTask] = []
    for child in group.children:
        if isinstance(child, PlanGroup):
            out.extend(_tasks_in(child))
        else:
            out.append(child)
    return out


def golden_files(submission: Submission) -> dict[str, str]:
    """Relative name -> content of everything kept as golden for one case."""
    files = {name: f.content for name, f in submission.files.items()}
    units = {"units": [asdict(u) for u in submission.units], "notes": list(submission.notes)}
    files[UNITS_FILE] = json.dumps(units, indent=1, sort_keys=True) + "\n"
    return files


def _existing(folder: Path) -> set[str]:
    if not folder.is_dir():
        return set()
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def compare_golden(folder: Path, submission: Submission) -> list[Mismatch]:
    """Differences between the rendered files and the golden ones in ``folder``."""
    out: list[Mismatch] = []
    rendered = golden_files(submission)
    fix = "create or refresh them with --conformance-update-golden, then review the diff in git"
    for name, content in sorted(rendered.items()):
        path = folder / name
        if not path.is_file():
            out.append(Mismatch(f"golden file {path}", "present", f"missing ({fix})"))
            continue
        golden = path.read_text(encoding="utf-8")
        if golden != content:
            diff = difflib.unified_diff(
                golden.splitlines(), content.splitlines(), "golden", "rendered", lineterm=""
            )
            lines = list(diff)
            if len(lines) > 40:
                lines = lines[:40] + [f"... ({len(lines) - 40} more diff lines)"]
            out.append(
                Mismatch(
                    f"golden file {path}",
                    "the rendered file equals it",
                    f"differs ({fix}):\n        " + "\n        ".join(lines),
                )
            )
    for name in sorted(_existing(folder) - set(rendered)):
        out.append(
            Mismatch(
                f"golden file {folder / name}",
                "a file the transformer renders",
                f"not rendered any more ({fix})",
            )
        )
    return out


def update_golden(folder: Path, submission: Submission) -> list[Path]:
    """Write the golden files of one case (removing stale ones); returns the paths written."""
    rendered = golden_files(submission)
    for name in _existing(folder) - set(rendered):
        (folder / name).unlink()
    written = []
    for name, content in rendered.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
            written.append(path)
    return written
