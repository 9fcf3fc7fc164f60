"""Helpers shared by the Slurm backend's tests (imported as ``slurm_helpers``)."""

from __future__ import annotations

import textwrap

from jobspec_core.planner import build_plan
from jobspec_core.transformer import RunContext

from jobspec_slurm import SlurmTransformer

__all__ = ["plan_of", "submit"]


def plan_of(doc: dict | str):
    """A plan from a document (a dict, or YAML text validated through the core API)."""
    if isinstance(doc, str):
        from jobspec_core import api

        return api.plan(api.load_text(textwrap.dedent(doc), "test.yaml"))
    return build_plan(doc)


def submit(transformer: SlurmTransformer, plan, context: RunContext):
    """Like the runner: ask the capacity, render, write the files, carry out the write
    steps, submit; the handles."""
    from jobspec_core.workdirs import carry_out_writes

    context.capacity = transformer.capacity(plan, context)
    submission = transformer.render(plan, context)
    submission.write(context.run_dir)
    carry_out_writes(plan, context)
    return transformer.submit(plan, submission, context)
