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
    """Render, write the files like the runner does, submit; the handles."""
    submission = transformer.render(plan, context)
    submission.write(context.run_dir)
    return transformer.submit(plan, submission, context)
