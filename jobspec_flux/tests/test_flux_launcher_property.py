"""Property: whatever the environment values and arguments, the launcher a task gets hands
them to the command byte for byte (it is the only place they are written as shell text).
Runs the rendered launcher with /bin/sh; no Flux needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobspec_core.plan import Attributes, Plan, PlanTask, ResourceRequest, Resources, SourceRef
from jobspec_flux.transformer import FluxTransformer

# Text a YAML scalar can carry and a POSIX environment can hold: no NUL, no surrogates.
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=40,
)
NAMES = st.from_regex(r"[A-Z_][A-Z0-9_]{0,10}", fullmatch=True).filter(
    lambda n: not n.startswith(("JOBSPEC_", "FLUX_")) and n not in {"PATH", "PWD", "SHLVL"}
)
SHOW = "import os,json,sys; print(json.dumps([dict(os.environ), sys.argv[1:]]))"


def _plan(env: dict[str, str], args: list[str]) -> Plan:
    default = ResourceRequest(None, "default", [], {"slot": 1, "core": 1}, 0, 1, 1)
    task = PlanTask(
        id="t",
        name="t",
        depends_on=[],
        resources=Resources([default]),
        attributes=Attributes(environment=env),
        requires={},
        steps=[],
        source=SourceRef(),
        command=[sys.executable, "-c", SHOW, *args],
    )
    return Plan(name="p", children=[task])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(env=st.dictionaries(NAMES, TEXT, max_size=5), args=st.lists(TEXT, max_size=4))
def test_launcher_is_exact(env, args, context):
    submission = FluxTransformer().render(_plan(env, args), context)
    submission.write(context.run_dir)
    proc = subprocess.run(
        ["/bin/sh", str(context.run_dir / "tasks" / "t.sh")],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        check=True,
    )
    seen_env, seen_args = json.loads(proc.stdout)
    assert {k: seen_env.get(k) for k in env} == env
    assert seen_args == args
