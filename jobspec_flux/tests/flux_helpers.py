"""Helpers shared by the Flux backend's tests: plans from YAML text, rendering, running."""

from __future__ import annotations

import textwrap

from jobspec_core.plan import Plan
from jobspec_core.transformer import RunContext, TaskHandle, TaskStatus
from jobspec_flux.transformer import FluxTransformer

from jobspec_core import api

#: environment values that break naive quoting (shell, flux --env, --cc, mustache)
NASTY = {
    "SPACES": "a b  c",
    "QUOTES": 'it\'s "quoted"',
    "DOLLAR": "$HOME $(id) `id` $$",
    "BRACES": "{cc} {{id}} {}",
    "NEWLINE": "line1\nline2\n",
    "UNICODE": "ƒ58 ünïcødé ✓",
}


def plan_of(text: str) -> Plan:
    """The plan of a jobspec given as (indented) YAML text; invalid text fails loudly."""
    return api.plan(api.load_text(textwrap.dedent(text), "test.yaml"))


def run(
    plan: Plan, context: RunContext, api_choice: str = "cli", timeout: float = 120
) -> tuple[list[TaskHandle], dict[tuple[str, int], TaskStatus]]:
    """Ask the capacity, render, write, carry out write steps, submit and wait, as the
    runner does; returns handles and statuses."""
    from jobspec_core.workdirs import carry_out_writes

    context.options["api"] = api_choice
    transformer = FluxTransformer()
    context.capacity = transformer.capacity(plan, context)
    submission = transformer.render(plan, context)
    submission.write(context.run_dir)
    carry_out_writes(plan, context)
    handles = transformer.submit(plan, submission, context)
    return handles, transformer.wait(handles, context, timeout=timeout)
