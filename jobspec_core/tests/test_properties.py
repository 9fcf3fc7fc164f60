"""Properties over generated documents: validation never crashes, and whatever it accepts
the planner compiles (the planner trusts validation, so this is the contract between them)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobspec_core.loader import Document
from jobspec_core.plan import Plan
from jobspec_core.planner import build_plan

from jobspec_core import api

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "spec" / "examples").glob("*.yaml"))
VALID = [api.load(p).data for p in EXAMPLES]

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 5),
    st.sampled_from([0.5, 1e300, -1.0]),
    st.sampled_from(
        [
            "",
            "a",
            "b",
            "g",
            "train",
            "test",
            "x|a",
            "a|b",
            "core",
            "slot",
            "node",
            "gpu",
            "5m",
            "0s",
            "../x",
            "stage",
            "write",
            "JOBSPEC_X",
            "mini-mummi",
            "mummi-cpu",
            "build",
            "start-queue",
        ]
    ),
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "type",
                    "count",
                    "with",
                    "command",
                    "group",
                    "tasks",
                    "depends_on",
                    "local",
                    "replicas",
                    "resources",
                    "attributes",
                    "duration",
                    "environment",
                    "A",
                    "path",
                    "content",
                    "steps",
                ]
            ),
            inner,
            max_size=3,
        )
    ),
    max_leaves=10,
)


def _paths(doc):
    stack = [((), doc)]
    while stack:
        path, value = stack.pop()
        yield path, value
        if isinstance(value, dict):
            stack.extend((path + (k,), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((path + (i,), v) for i, v in enumerate(value))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_validate_never_crashes_and_planner_accepts_what_validation_accepts(data):
    doc = copy.deepcopy(data.draw(st.sampled_from(VALID)))
    for _ in range(data.draw(st.integers(1, 4))):
        containers = [(p, v) for p, v in _paths(doc) if isinstance(v, dict | list) and v]
        if not containers:
            break
        path, target = data.draw(st.sampled_from(containers))
        action = data.draw(st.sampled_from(["set", "delete", "add"]))
        if isinstance(target, dict):
            key = data.draw(st.sampled_from(sorted(target)))
            if action == "delete":
                del target[key]
            elif action == "set":
                target[key] = data.draw(_values)
            else:
                target[
                    data.draw(
                        st.sampled_from(
                            ["depends_on", "group", "local", "steps", "resources", "name", "tasks"]
                        )
                    )
                ] = data.draw(_values)
        else:
            index = data.draw(st.integers(0, len(target) - 1))
            if action == "delete":
                del target[index]
            elif action == "set":
                target[index] = data.draw(_values)
            else:
                target.append(copy.deepcopy(target[index]))
    problems = api.validate(Document(doc, "gen.yaml"))
    for problem in problems:
        assert problem.message and problem.file == "gen.yaml"
    if not problems:
        # what validation accepted is the document with its parameters substituted
        from jobspec_core.substitution import apply_parameters

        substituted, _used = apply_parameters(Document(doc, "gen.yaml"))
        plan = build_plan(substituted.data, "gen.yaml")
        assert Plan.from_dict(json.loads(json.dumps(plan.to_dict()))).to_dict() == plan.to_dict()
        ids = [node.id for node, _ in plan.walk()]
        assert len(ids) == len(set(ids)), ids
