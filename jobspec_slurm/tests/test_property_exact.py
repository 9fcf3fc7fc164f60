"""Property: arbitrary environment values and arguments reach the task byte for byte,
on the real Slurm cluster (through the rendered script, sbatch, and srun inside a group).

Each hypothesis example is one run of 3 top-level tasks and a group of 2 steps, so the
few examples (the cluster is slow-ish) still cover many values.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobspec_core.transformer import TaskState
from slurm_helpers import plan_of, submit

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.usefixtures("slurm_cluster")]

# Any text a process can receive: every Unicode character but NUL and lone surrogates.
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=40,
)
# Adversarial shapes mixed in on purpose: quotes, $(...), newlines, backslashes, globs.
NASTY = st.sampled_from(
    [
        "",
        " ",
        "a b",
        "'",
        '"',
        "$(touch pwned)",
        "`id`",
        "$HOME",
        "\n",
        "a\nb\n",
        "\\",
        "a\n\nb",
        "x\x0cy\u2028z",
        "*",
        "--",
        "-n",
        "%x %a",
        "é ü 漢字 🚀",
        "${X:-y}",
        "\t\r",
    ]
)
VALUE = st.one_of(TEXT, NASTY)
CASE = st.tuples(st.lists(VALUE, min_size=1, max_size=3), st.lists(VALUE, max_size=4))

PROBE = (
    "import json, os, sys; "
    "json.dump({'argv': sys.argv[1:], "
    "'env': {k: os.environ[k] for k in os.environ if k.startswith('PROP_')}}, "
    "open(os.environ['PROBE_OUT'], 'w'))"
)


def _task(name: str, values: list[str], args: list[str], out: str) -> dict:
    environment = {f"PROP_{i}": v for i, v in enumerate(values)}
    environment["PROBE_OUT"] = out
    return {
        "name": name,
        "command": ["python3", "-c", PROBE, *args],
        "attributes": {"environment": environment},
    }


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(cases=st.lists(CASE, min_size=5, max_size=5))
def test_environment_and_arguments_reach_the_task_exactly(cases, transformer, tmp_path_factory):
    from jobspec_core.transformer import RunContext

    base = tmp_path_factory.mktemp("prop")
    context = RunContext("prop", base / "run", base)
    outs = [str(base / f"out{i}.json") for i in range(5)]
    top = [_task(f"t{i}", *cases[i], outs[i]) for i in range(3)]
    inner = [_task(f"s{i}", *cases[i], outs[i]) for i in range(3, 5)]
    plan = plan_of({"version": 1, "tasks": top, "groups": [{"name": "g", "tasks": inner}]})
    handles = submit(transformer, plan, context)
    final = transformer.wait(handles, context, timeout=120)
    assert {s.state for s in final.values()} == {TaskState.COMPLETED}, final
    for i, (values, args) in enumerate(cases):
        with open(outs[i], encoding="utf-8") as f:
            seen = json.load(f)
        assert seen["argv"] == args
        assert seen["env"] == {f"PROP_{j}": v for j, v in enumerate(values)}
    assert not (base / "pwned").exists()
