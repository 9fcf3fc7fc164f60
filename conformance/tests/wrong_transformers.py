"""Deliberately wrong transformers for the plugin's own tests (never installed for real).

Each subclasses the local backend and breaks exactly one thing, so the conformance suite
must fail exactly the cases of that feature. The tests copy this module into a fake
distribution whose ``jobspec`` entry point names it: plugins load from entry points only.
"""

from __future__ import annotations

import copy
import os
import signal
from pathlib import Path

from jobspec_core.workdirs import planned_writes
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


class MisplacedWritesTransformer(LocalTransformer):
    """Renders exactly as the local backend does (render mode cannot tell them apart), but
    moves every file written by a ``write`` step into the submit directory before it
    submits, whatever the node's working directory: the drift bug Flux once had. Only run
    mode can see it."""

    name = "misplacedwrites"

    def submit(self, plan, submission, context):
        for _node, step, written in planned_writes(plan, context):
            target = context.workdir / str(step.options["path"])
            if written != target and written.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                written.replace(target)
        return super().submit(plan, submission, context)


class KillingFaults:
    """Conformance faults for the plugin's tests: ``delete_behind`` kills the instance's
    processes from outside, as a user with ``kill`` would (found in /proc by the portable
    variables in their environment); no other fault is offered."""

    def __init__(self, transformer):
        self.transformer = transformer

    def delete_behind(self, handle, context):
        wanted = {
            b"JOBSPEC_RUN_ID=" + context.run_id.encode(),
            b"JOBSPEC_TASK_NAME=" + handle.task_id.encode(),
            b"JOBSPEC_TASK_INDEX=" + str(handle.index).encode(),
        }
        killed = 0
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                environ = set((proc / "environ").read_bytes().split(b"\0"))
            except OSError:
                continue
            if wanted <= environ:
                try:
                    os.kill(int(proc.name), signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
        if not killed:
            raise RuntimeError(f"no process of {handle.task_id}@{handle.index} found")


class FaultyLocalTransformer(LocalTransformer):
    """The local backend plus conformance faults offered through the attribute."""

    name = "localfaults"
    conformance_faults = KillingFaults


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
        MisplacedWritesTransformer,
        FaultyLocalTransformer,
        CrashingTransformer,
    ):
        register(cls)
