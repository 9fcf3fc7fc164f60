"""The features of JobSpec v1: one name for each thing a transformer may or may not support.

This is the single list. ``spec/spec.md`` describes each feature under a heading that names
it; a transformer declares the subset it supports in ``capabilities``; conformance cases tag
the features they exercise, and a test fails when a feature has no case.

Core features (``command``, ``tasks``) every transformer must support; the others are
optional, and a plan that uses an optional feature a transformer lacks is refused before
anything is submitted.
"""

from __future__ import annotations

__all__ = ["FEATURES", "CORE_FEATURES", "feature_names", "features_used"]

#: name -> one-line description. Keep in sync with spec/spec.md (a test checks it).
FEATURES: dict[str, str] = {
    "tasks": "top-level tasks, each one submission",
    "command": "a task's command as an argv list or a shell string",
    "replicas": "several instances of one task, each seeing its index",
    "depends_on": "after-ok dependencies between tasks and groups at one level",
    "groups": "a named set of tasks run inside one allocation",
    "groups.nested": "groups inside groups (an allocation inside an allocation)",
    "groups.depends_on": "dependencies between tasks inside a group",
    "local": "local: true entries run as plain commands inside the enclosing allocation",
    "resources": "resource requests (node, slot, core, gpu, memory) and their totals",
    "resources.named": "named resource blocks referenced by string",
    "resources.alternatives": "a|b resource alternatives, first that fits wins",
    "resources.gpu": "gpu requests",
    "attributes.duration": "a time limit, enforced by killing the task",
    "attributes.environment": "environment variables reaching the task exactly",
    "attributes.cwd": "the task's working directory",
    "attributes.watch": "streaming a task's output while it runs",
    "requires": "requires: metadata merged from global to group to task, and requirements "
    "(constraint objects, named sets, on resource blocks) checked against the site",
    "steps.stage": "stage: make a path present on every node before the task",
    "steps.write": "write: a file with content written before the task",
    "passthrough": "backend-prefixed attributes (slurm.partition) handed to that backend",
    "portable-variables": "JOBSPEC_RUN_ID, JOBSPEC_TASK_NAME, JOBSPEC_TASK_INDEX, JOBSPEC_TASK_COUNT",
    "parameters": "typed parameters and ${{ NAME }} references, substituted before planning",
}

#: Features every transformer must support; they cannot be left out of ``capabilities``.
#: (``parameters`` is core work: a transformer receives the plan with the values in place.)
CORE_FEATURES: frozenset[str] = frozenset({"tasks", "command", "portable-variables", "parameters"})


def feature_names() -> list[str]:
    """All feature names, in the order of :data:`FEATURES`."""
    return list(FEATURES)


def features_used(plan) -> set[str]:
    """The feature names a :class:`~jobspec_core.plan.Plan` relies on.

    A transformer whose ``capabilities`` lack one of these must not be handed the plan.
    """
    from .plan import PlanGroup, PlanTask

    used = {"tasks", "command", "portable-variables"}
    if plan.parameters:
        used.add("parameters")
    if plan.requires or plan.constraints:
        used.add("requires")
    for node, parent in plan.walk():
        attrs = node.attributes
        if node.depends_on:
            used.add("groups.depends_on" if parent is not None else "depends_on")
        if attrs.duration is not None:
            used.add("attributes.duration")
        if attrs.environment:
            used.add("attributes.environment")
        if attrs.cwd is not None:
            used.add("attributes.cwd")
        if attrs.watch:
            used.add("attributes.watch")
        if attrs.passthrough:
            used.add("passthrough")
        if node.requires or node.constraints:
            used.add("requires")
        for step in node.steps:
            used.add(f"steps.{step.name}")
        alts = node.resources.alternatives
        if any(a.constraints or a.requires for a in alts):
            used.add("requires")
        # Only resources written in the document count: a group's sum of default slots
        # (or a task inheriting its group's) asks for nothing a backend must understand.
        if any(a.origin in ("named", "inline") for a in alts):
            used.add("resources")
        if any(a.origin == "named" for a in alts):
            used.add("resources.named")
        if len(alts) > 1:
            used.add("resources.alternatives")
        if any(a.gpus_per_slot or a.totals.get("gpu") for a in alts):
            used.add("resources.gpu")
        if isinstance(node, PlanGroup):
            used.add("groups")
            if parent is not None:
                used.add("groups.nested")
        elif isinstance(node, PlanTask):
            if node.replicas > 1:
                used.add("replicas")
            if node.local:
                used.add("local")
    return used
