"""The Flux transformer: the :class:`~jobspec_core.transformer.Transformer` contract for Flux.

Rendering (:mod:`jobspec_flux.render`) needs neither Flux nor flux-python. Submission, status
and cancel go through one of two drivers:

* ``python`` (:mod:`jobspec_flux.api_backend`): flux-python's ``JobspecV1``, checked with
  Flux's own validator, submitted with ``flux.job.submit_async``; chosen when ``import flux``
  works and ``FLUX_URI`` is set;
* ``cli`` (:mod:`jobspec_flux.cli_backend`): the ``flux`` command; chosen otherwise, and
  for a plan with a ``flux.requires`` constraint (parsed by the CLI).

Force one with the transformer option ``api=python|cli`` (``RunContext.options``) or the
environment variable ``JOBSPEC_FLUX_API``. Each handle records the driver that submitted it;
status and cancel use the driver given by the option, else the one in the handles.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from jobspec_core.alternatives import Capacity
from jobspec_core.errors import BackendError, SubmitError
from jobspec_core.features import FEATURES
from jobspec_core.plan import Plan
from jobspec_core.transformer import (
    RunContext,
    Submission,
    TaskHandle,
    TaskStatus,
    Transformer,
)

from .driver import Driver
from .render import RenderResult, render_plan
from .runs import cancel_run, run_status, submit_run

__all__ = ["FluxTransformer", "API_ENV", "python_api_available"]

#: Environment variable forcing the driver: ``python`` or ``cli`` (``auto`` by default).
API_ENV = "JOBSPEC_FLUX_API"


def python_api_available() -> bool:
    """Whether flux-python imports and a Flux instance is named by ``FLUX_URI``."""
    if not os.environ.get("FLUX_URI"):
        return False
    try:
        import flux  # noqa: F401
        import flux.job  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken flux-python install is "not available"
        return False
    return True


def _asks_resources(node) -> bool:
    """Whether ``node`` writes resources itself (or has alternatives to choose from)."""
    alternatives = node.resources.alternatives
    return len(alternatives) > 1 or alternatives[0].origin in ("named", "inline")


class FluxTransformer(Transformer):
    """JobSpec on Flux: ``flux submit`` per top-level task, ``flux batch`` per group."""

    name = "flux"
    description = "Flux: flux submit per task, flux batch per group (nested instances)"
    capabilities = frozenset(FEATURES)  # every feature of JobSpec v1
    poll_interval = 0.5
    #: replicas of a top-level task are one submission (flux submit --cc=0-N-1)
    array_submissions = True

    def render(self, plan: Plan, context: RunContext) -> Submission:
        """Files (launchers, batch scripts, ``submit.sh``) and one unit per top-level node."""
        return render_plan(plan, context).submission

    def _choice(self, context: RunContext, handles: Sequence[TaskHandle] = ()) -> str:
        choice = context.options.get("api") or os.environ.get(API_ENV) or "auto"
        if choice not in ("auto", "python", "cli"):
            raise BackendError(f"Flux: unknown api option {choice!r}; expected auto, python or cli")
        if choice == "auto":
            used = {h.data.get("via") for h in handles} - {None}
            if used == {"cli"}:
                return "cli"
            return "python" if python_api_available() else "cli"
        return choice

    def driver(
        self, context: RunContext, handles: Sequence[TaskHandle] = (), plan: Plan | None = None
    ) -> Driver:
        """The driver for this call (see the module docstring)."""
        choice = self._choice(context, handles)
        forced = context.options.get("api") or os.environ.get(API_ENV)
        if plan is not None and choice != "cli" and forced in (None, "auto"):
            if any("requires" in n.attributes.passthrough.get("flux", {}) for n, _ in plan.walk()):
                choice = "cli"  # constraints need the CLI's --requires parser
        if choice == "python":
            from .api_backend import ApiDriver

            return ApiDriver()
        from .cli_backend import CliDriver

        return CliDriver()

    def rendered(self, plan: Plan, context: RunContext) -> RenderResult:
        """The full render result (requests and order as well as the submission)."""
        return render_plan(plan, context)

    def capacity(self, plan: Plan, context: RunContext) -> Capacity | None:
        """The instance's resources that are up, asked only when some node of the plan (at
        any depth) writes resources: to choose among ``a|b`` alternatives (a group summing
        its children counts the alternative each child uses) and to refuse a request that
        can never run (Decision 23). A plan asking only the default slot does not ask."""
        if not any(_asks_resources(n) for n, _ in plan.walk()):
            return None
        return self.driver(context, plan=plan).capacity()

    def submit(self, plan: Plan, submission: Submission, context: RunContext) -> list[TaskHandle]:
        """Submit exactly what :meth:`render` produced: the requests, their order and the
        stage archives are read back from ``submission.data``, never re-rendered."""
        try:
            result = RenderResult.from_submission(submission)
        except ValueError as exc:
            raise SubmitError(f"Flux: {exc}; nothing was submitted") from exc
        return submit_run(plan, result, context, self.driver(context, plan=plan))

    def status(
        self, handles: Sequence[TaskHandle], context: RunContext
    ) -> dict[tuple[str, int], TaskStatus]:
        return run_status(handles, context, self.driver(context, handles))

    def cancel(self, handles: Sequence[TaskHandle], context: RunContext) -> None:
        cancel_run(handles, context, self.driver(context, handles))
