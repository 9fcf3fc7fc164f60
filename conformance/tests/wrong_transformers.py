"""Deliberately wrong transformers for the plugin's own tests (never installed for real).

Each subclasses the local backend and breaks exactly one thing, so the conformance suite
must fail exactly the cases of that feature. The tests copy this module into a fake
distribution whose ``jobspec`` entry point names it: plugins load from entry points only.
"""

from __future__ import annotations

import copy

from jobspec_local.transformer import LocalTransformer

from jobspec_core import hookimpl

RESULTS_VAR = "CONFORMANCE_RESULTS_DIR"


def _mutated(plan, change):
    plan = copy.deepcopy(plan)
    for node, _ in plan.walk():
        change(node)
    return plan


class NoDepsTransformer(LocalTransformer):
    """Ignores depends_on everywhere (top level and inside groups)."""

    name = "nodeps"

    def render(self, plan, context):
        return super().render(_mutated(plan, lambda n: n.depends_on.clear()), context)


class NoEnvTransformer(LocalTransformer):
    """Drops every environment variable of the jobspec except the suite's own channel
    (which the suite needs to see anything at all)."""

    name = "noenv"

    def render(self, plan, context):
        def drop(node):
            env = node.attributes.environment
            keep = {k: v for k, v in env.items() if k == RESULTS_VAR}
            env.clear()
            env.update(keep)

        return super().render(_mutated(plan, drop), context)


class NoDurationTransformer(LocalTransformer):
    """Honestly declares that it has no time limits."""

    name = "noduration"
    capabilities = LocalTransformer.capabilities - {"attributes.duration"}


class SplitArraysTransformer(LocalTransformer):
    """Claims job arrays but renders replicas as separate jobs."""

    name = "splitarrays"
    array_submissions = True


class CrashingTransformer(LocalTransformer):
    """Its render has a bug."""

    name = "crashing"

    def render(self, plan, context):
        raise ValueError("boom in render")


@hookimpl
def jobspec_register_transformers(register):
    for cls in (
        NoDepsTransformer,
        NoEnvTransformer,
        NoDurationTransformer,
        SplitArraysTransformer,
        CrashingTransformer,
    ):
        register(cls)
