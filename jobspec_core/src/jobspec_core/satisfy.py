"""Evaluate a plan's requirements against a site: the rule ``satisfy`` and ``run`` share.

Each :class:`~jobspec_core.plan.Constraint` gets one :class:`Finding`: ``satisfied``,
``not satisfied`` (with what the site has instead) or ``cannot be evaluated`` (with why:
the subsystem is not described, its nodes do not carry the field...). A constraint
inherited by many nodes is evaluated once.

How a constraint is evaluated against the nodes of its subsystem (``spec/spec.md``,
"Requires"):

1. ``match`` selects the nodes whose ``field`` equals it (none: not satisfied);
2. the tested key is ``attribute`` (in a node's ``attributes``) if given, else ``field``;
3. ``value``: some selected node has it (a node may offer a list of values: ``cpu.target``
   of the local machine lists every target its CPU runs code for); ``min``/``max``: some
   selected node's number lies within; neither: the selected nodes exist.

A node of the plan can run when its own constraints are met and, when its resource
alternatives carry constraints, at least one alternative's are (:meth:`Report.usable`
lists them; ``jobspec run`` keeps only those). Values are compared as data; no query or
command text is ever built from them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .plan import Constraint, Plan, PlanNode, Resources
from .site import Site

__all__ = [
    "SATISFIED",
    "NOT_SATISFIED",
    "UNKNOWN",
    "Finding",
    "Report",
    "evaluate",
    "check_plan",
    "narrow_alternatives",
    "plan_has_requirements",
    "metadata_keys",
    "check_for_submission",
    "refuse_unmet",
    "refusal_message",
]

SATISFIED = "satisfied"
NOT_SATISFIED = "not satisfied"
UNKNOWN = "cannot be evaluated"
_SHOWN = 8


@dataclass
class Finding:
    """The outcome of one constraint: ``status``, ``detail`` (what was found, or why it
    cannot be evaluated) and ``where`` (node ids, or alternatives, it applies to)."""

    constraint: Constraint
    status: str
    detail: str
    where: list[str] = field(default_factory=list)
    applies: int = 0  #: how many nodes (or alternatives) it applies to

    def note(self, where: str) -> None:
        self.applies += 1
        if len(self.where) < 3:
            self.where.append(where)

    def failed(self, require_all: bool = False) -> bool:
        return self.status == NOT_SATISFIED or (require_all and self.status == UNKNOWN)

    def line(self) -> str:
        """``file:line:column: path: status: what (detail) [for where]``."""
        src = self.constraint.source
        place = ":".join(str(p) for p in (src.file, src.line, src.column) if p is not None)
        head = f"{place}: {src.path}" if place else src.path
        text = f"{head}: {self.status}: {describe(self.constraint)}"
        if self.detail:
            text += f" ({self.detail})"
        if self.where:
            more = self.applies - 1
            text += f" [for {self.where[0]}" + (f" and {more} more]" if more else "]")
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "requirement": describe(self.constraint),
            "detail": self.detail,
            "where": list(self.where),
            "applies": self.applies,
            "constraint": self.constraint.to_dict(),
        }


def describe(c: Constraint) -> str:
    """``spack: type=package with name=openssl`` (for messages)."""
    parts = [f"{c.subsystem}:"]
    if c.match is not None:
        parts.append(f"{c.field}={c.match}")
        if c.attribute:
            parts.append("with")
    key = c.attribute or (c.field if c.match is None else None)
    if key:
        if c.value is not None:
            parts.append(f"{key}={_text(c.value)}")
        else:
            low = "" if c.min is None else f"{_text(c.min)} <= "
            high = "" if c.max is None else f" <= {_text(c.max)}"
            parts.append(f"{low}{key}{high}")
    if c.set:
        parts.append(f"(set {c.set})")
    return " ".join(parts)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _get(node: dict[str, Any], key: str) -> Any:
    if key in node:
        return node[key]
    here: Any = node
    for part in key.split("."):
        if not isinstance(here, dict) or part not in here:
            return None
        here = here[part]
    return here


def _equal(have: Any, want: Any) -> bool:
    if isinstance(have, list):
        return any(_equal(h, want) for h in have)
    return _text(have) == _text(want)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _within(have: Any, c: Constraint) -> bool | None:
    """Whether ``have`` lies within the bounds; ``None`` when it is not a number."""
    number = _number(have)
    if number is None:
        return None
    return (c.min is None or number >= c.min) and (c.max is None or number <= c.max)


def _listing(values: Iterable[Any]) -> str:
    seen: list[str] = []
    for value in values:
        for one in value if isinstance(value, list) else [value]:
            text = _text(one)
            if text not in seen:
                seen.append(text)
    if not seen:
        return "nothing"
    shown = ", ".join(seen[:_SHOWN])
    return shown + (f" and {len(seen) - _SHOWN} more" if len(seen) > _SHOWN else "")


def evaluate(c: Constraint, site: Site) -> tuple[str, str]:
    """``(status, detail)`` of constraint ``c`` against ``site``."""
    found = site.subsystems.get(c.subsystem)
    if not found:
        known = ", ".join(site.names()) or "none"
        return UNKNOWN, (
            f"the site describes no subsystem '{c.subsystem}' (described: {known}); "
            "give its JGF file in --subsystems DIR or $JOBSPEC_SUBSYSTEMS"
        )
    nodes = [n for s in found for n in s.nodes]
    unknown: dict[str, str] = {}
    for s in found:
        unknown.update(s.unknown)
    origins = ", ".join(s.origin for s in found)
    if c.match is not None:
        selected = [n for n in nodes if _equal(_get(n, c.field or ""), c.match)]
        if not selected:
            return NOT_SATISFIED, (
                f"no node has {c.field}={_text(c.match)}; {c.field} there: "
                f"{_listing(_get(n, c.field or '') for n in nodes if _get(n, c.field or '') is not None)}"
            )
        if not c.attribute:
            return SATISFIED, f"{len(selected)} node(s) in {origins}"
    else:
        selected = nodes
    key = c.attribute or c.field or ""

    def read(node: dict[str, Any]) -> Any:
        if c.attribute:
            attrs = node.get("attributes")
            return attrs.get(key) if isinstance(attrs, dict) else None
        return _get(node, key)

    values = [v for v in (read(n) for n in selected) if v is not None]
    if not values:
        why = unknown.get(key)
        if why:
            return UNKNOWN, f"{c.subsystem} {key} is not known: {why}"
        return UNKNOWN, f"the nodes of {c.subsystem} ({origins}) carry no '{key}'"
    if c.value is not None:
        if any(_equal(v, c.value) for v in values):
            return SATISFIED, f"in {origins}"
        if key in unknown:
            return UNKNOWN, f"{c.subsystem} has {key} {_listing(values)}; {unknown[key]}"
        return NOT_SATISFIED, f"{c.subsystem} has {key} {_listing(values)} instead"
    if c.min is not None or c.max is not None:
        answers = [_within(v, c) for v in values]
        if any(answers):
            return SATISFIED, f"{key} {_listing(values)} in {origins}"
        if all(a is None for a in answers):
            return UNKNOWN, f"{c.subsystem} {key} is not a number: {_listing(values)}"
        return NOT_SATISFIED, f"{c.subsystem} has {key} {_listing(values)} instead"
    return SATISFIED, f"in {origins}"


@dataclass
class Report:
    """Every requirement of a plan, evaluated: ``findings`` in document order, and the
    nodes that cannot run (``refused``: node id -> why)."""

    findings: list[Finding]
    refused: dict[str, str]
    usable: dict[str, list[int]]  #: node id -> indices of alternatives whose requirements hold
    require_all: bool = False

    @property
    def ok(self) -> bool:
        return not self.refused

    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def lines(self) -> list[str]:
        return [f.line() for f in self.findings]

    def summary(self) -> str:
        counts = {s: 0 for s in (SATISFIED, NOT_SATISFIED, UNKNOWN)}
        for f in self.findings:
            counts[f.status] += 1
        text = ", ".join(f"{n} {s}" for s, n in counts.items())
        if not self.findings:
            return "no requirements"
        verdict = "met" if self.ok else f"NOT met ({len(self.refused)} node(s) cannot run)"
        return f"requirements {verdict}: {text}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "require_all": self.require_all,
            "requirements": [f.to_dict() for f in self.findings],
            "refused": dict(self.refused),
        }


def _has_constraints(plan: Plan) -> bool:
    for node, _ in plan.walk():
        if node.constraints or any(a.constraints for a in node.resources.alternatives):
            return True
    return bool(plan.constraints)


def check_plan(plan: Plan, site: Site, require_all: bool = False) -> Report:
    """Evaluate every requirement of ``plan`` (the whole plan's, each node's, each
    resource alternative's) against ``site``. With ``require_all``, a requirement that
    cannot be evaluated counts as not met."""
    findings: dict[Constraint, Finding] = {}

    def finding(c: Constraint, where: str | None) -> Finding:
        f = findings.get(c)
        if f is None:
            status, detail = evaluate(c, site)
            f = findings[c] = Finding(c, status, detail)
        if where is not None:
            f.note(where)
        return f

    for c in plan.constraints:
        finding(c, None)
    refused: dict[str, str] = {}
    usable: dict[str, list[int]] = {}
    verdicts: dict[int, Finding | None] = {}  # id(constraints tuple) -> first failure
    for node, _ in plan.walk():
        key = id(node.constraints)
        if key in verdicts and node.constraints:
            bad = verdicts[key]
            for c in node.constraints:
                findings[c].note(node.id)
        else:
            bad = None
            for c in node.constraints:
                f = finding(c, node.id)
                if bad is None and f.failed(require_all):
                    bad = f
            verdicts[key] = bad
        if bad is not None:
            refused[node.id] = f"{describe(bad.constraint)}: {bad.status} ({bad.detail})"
        _alternatives(node, finding, require_all, refused, usable)
    ordered = sorted(
        findings.values(),
        key=lambda f: (
            f.constraint.source.line or 0,
            f.constraint.source.column or 0,
            f.constraint.source.path,
        ),
    )
    return Report(ordered, refused, usable, require_all)


def _alternatives(node: PlanNode, finding, require_all, refused, usable) -> None:
    alternatives = node.resources.alternatives
    if not any(a.constraints for a in alternatives):
        return
    good: list[int] = []
    reasons: list[str] = []
    for i, alternative in enumerate(alternatives):
        label = f"resources '{alternative.name}' of {node.id}" if alternative.name else node.id
        failed = None
        for c in alternative.constraints:
            f = finding(c, label)
            if failed is None and f.failed(require_all):
                failed = f
        if failed is None:
            good.append(i)
        else:
            reasons.append(
                f"{alternative.name or f'alternative {i + 1}'}: {describe(failed.constraint)}"
                f" {failed.status}"
            )
    usable[node.id] = good
    if not good and node.id not in refused:
        refused[node.id] = "no resource alternative's requirements are met: " + "; ".join(reasons)


def narrow_alternatives(plan: Plan, report: Report) -> list[str]:
    """Keep, on each node of ``plan``, only the resource alternatives whose requirements
    ``report`` found met (in their order); returns a note per node narrowed. Nodes with
    none left are in ``report.refused`` and are left as they are. A group whose resources
    are the sum of its children's is summed again from what its children keep (as the
    planner sums: each non-local child's first alternative times its replicas)."""
    from .plan import PlanGroup, PlanTask
    from .resources import sum_requests

    notes: list[str] = []

    def visit(node: PlanNode) -> bool:
        changed = False
        if isinstance(node, PlanGroup):
            for child in node.children:
                changed = visit(child) or changed
            if changed and node.resources.preferred.origin == "sum":
                parts = [
                    (c.resources.preferred, c.replicas if isinstance(c, PlanTask) else 1)
                    for c in node.children
                    if not (isinstance(c, PlanTask) and c.local)
                ]
                node.resources = Resources([sum_requests(parts)])
        good = report.usable.get(node.id)
        alternatives = node.resources.alternatives
        if good and len(good) < len(alternatives):
            kept = [alternatives[i] for i in good]
            node.resources = Resources(kept)
            names = ", ".join(a.name or "inline" for a in kept)
            notes.append(
                f"{node.id}: resources narrowed to {names} (the others' requirements are not met)"
            )
            changed = True
        return changed

    for top in plan.children:
        visit(top)
    return notes


def metadata_keys(plan: Plan) -> list[str]:
    """The top keys of ``requires`` metadata anywhere in ``plan`` (never evaluated), sorted."""
    keys = set(plan.requires)
    for node, _ in plan.walk():
        keys.update(node.requires)
        for alternative in node.resources.alternatives:
            keys.update(alternative.requires)
    return sorted(keys)


def plan_has_requirements(plan: Plan) -> bool:
    """Whether ``plan`` has any requirement to evaluate (cheap; no site needed)."""
    return _has_constraints(plan)


def check_for_submission(
    plan: Plan, transformer, *, registry=None, context=None, subsystems=None
) -> Report | None:
    """What ``jobspec run`` and ``jobspec transform`` do before rendering: ``None`` when
    ``plan`` has no requirements (nothing is described, nothing imported); else the
    report against ``transformer``'s site (:func:`jobspec_core.site.describe_site`), and
    when it is met, ``plan``'s alternatives narrowed to those whose requirements hold."""
    if not plan_has_requirements(plan):
        return None
    from .site import describe_site

    site = describe_site(transformer, registry=registry, context=context, subsystems=subsystems)
    report = check_plan(plan, site)
    if report.ok:
        narrow_alternatives(plan, report)
    return report


def refuse_unmet(
    plan: Plan, transformer, *, registry=None, context=None, subsystems=None, label: str = ""
) -> None:
    """:func:`check_for_submission`, raising
    :class:`~jobspec_core.errors.RequirementsNotMet` (its message prefixed by ``label``)
    when the site cannot meet ``plan``'s requirements: the one refusal of ``jobspec run``,
    for a run and for each combination of a sweep."""
    from .errors import RequirementsNotMet

    report = check_for_submission(
        plan, transformer, registry=registry, context=context, subsystems=subsystems
    )
    if report is not None and not report.ok:
        raise RequirementsNotMet(label + refusal_message(report), report)


def refusal_message(report: Report) -> str:
    """The message of a plan refused for its requirements: summary, then the lines."""
    lines = [f"  {line}" for line in report.lines()]
    lines += [f"  {node} cannot run: {why}" for node, why in report.refused.items()]
    return (
        f"{report.summary()}; nothing was submitted "
        "(--skip-requirements submits anyway):\n" + "\n".join(lines)
    )
