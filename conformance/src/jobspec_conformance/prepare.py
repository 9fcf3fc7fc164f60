"""Turning a case into the plan a transformer receives.

The suite gives tasks a results directory through the portable variable
:data:`RESULTS_VAR`, injected into the jobspec's global ``attributes.environment`` when the
case's jobspec mentions it. Case texts may use placeholders that are replaced before
planning and in expectations: ``@WORKDIR@`` (the directory the run is submitted from, the
default working directory of tasks and the staging directory), ``@RESULTS@`` (the results
directory) and, in expectations only, ``@RUN_ID@``.

A case's ``parameters`` are the values its jobspec is planned with (through
:func:`jobspec_core.api.plan`, as ``--set`` gives them); ``render.same_as`` names a second
jobspec, planned the same way without values, whose rendering must equal the case's.
"""

from __future__ import annotations

import copy
from typing import Any

from jobspec_core.api import Document
from jobspec_core.api import plan as make_plan
from jobspec_core.capabilities import missing_features as plan_missing_features
from jobspec_core.errors import InvalidJobspec
from jobspec_core.plan import Plan

from .cases import Case
from .outcome import CaseFailed, Mismatch

__all__ = ["RESULTS_VAR", "substitute", "prepare_plan", "prepare_same_as", "missing_features"]

#: The variable through which tasks find the results directory.
RESULTS_VAR = "CONFORMANCE_RESULTS_DIR"


def substitute(value: Any, placeholders: dict[str, str]) -> Any:
    """``value`` with every placeholder replaced in every string (keys included)."""
    if isinstance(value, str):
        for key, text in placeholders.items():
            value = value.replace(key, text)
        return value
    if isinstance(value, dict):
        return {substitute(k, placeholders): substitute(v, placeholders) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, placeholders) for v in value]
    return value


def uses_results(case: Case) -> bool:
    """Whether the case's tasks report through the results directory."""
    return RESULTS_VAR in case.jobspec_text or "@RESULTS@" in case.jobspec_text


def prepare_plan(case: Case, placeholders: dict[str, str]) -> Plan:
    """The plan of the case's jobspec (with its ``parameters``) with placeholders replaced
    and the results directory injected; an invalid jobspec is a :class:`CaseFailed`
    listing its problems."""
    return _plan(case, case.jobspec, placeholders, case.parameters)


def prepare_same_as(case: Case, placeholders: dict[str, str]) -> Plan:
    """The plan of the case's ``render.same_as`` jobspec, prepared like the case's own."""
    return _plan(case, case.render["same_as"], placeholders, {})


def _plan(case: Case, jobspec: dict, placeholders: dict[str, str], parameters: dict) -> Plan:
    data = substitute(copy.deepcopy(jobspec), placeholders)
    if uses_results(case) and isinstance(data, dict):
        attributes = data.setdefault("attributes", {})
        if isinstance(attributes, dict):
            environment = attributes.setdefault("environment", {})
            if isinstance(environment, dict):
                environment[RESULTS_VAR] = placeholders["@RESULTS@"]
    try:
        return make_plan(Document(data, str(case.path)), parameters=parameters)
    except InvalidJobspec as exc:
        raise CaseFailed(
            [
                Mismatch(
                    "the case's jobspec",
                    "a valid jobspec (the case itself is broken, or the validator changed)",
                    "; ".join(p.format() for p in exc.problems),
                )
            ]
        ) from exc


def missing_features(case: Case, plan: Plan, capabilities: frozenset[str]) -> list[str]:
    """Features the case needs (its tags and what its plan uses) that the transformer lacks:
    the runner's own rule (:func:`jobspec_core.capabilities.missing_features`)."""
    return plan_missing_features(plan, capabilities, needed=case.features)
