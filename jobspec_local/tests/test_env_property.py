"""Property: environment values reach the task byte for byte.

Values are arbitrary text (spaces, quotes, newlines, ``$(...)``, backslashes, non-ASCII)
except NUL, which no process environment can carry (``execve`` takes NUL-terminated
strings) and lone surrogates, which are not text. Each example goes through the whole
path: YAML text -> loader -> plan -> local-plan.json -> supervisor -> posix_spawn.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from local_helpers import by_key

from jobspec_core import api

_names = st.from_regex(r"[A-Z][A-Z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: not n.startswith("JOBSPEC_")
)
_values = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40),
    st.sampled_from(
        [
            "a b",
            "it's",
            'say "hi"',
            "line1\nline2",
            "$(touch pwned)",
            "`id`",
            "$HOME",
            "\\n",
            "naïve ☃ 日本",
            "trailing\n",
            " lead",
            "tab\there",
            "semi;colon && |pipe",
        ]
    ),
)


def _environ(path: Path) -> dict[bytes, bytes]:
    out = {}
    for item in path.read_bytes().split(b"\0"):
        if item:
            key, _, value = item.partition(b"=")
            out[key] = value
    return out


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(env=st.dictionaries(_names, _values, min_size=1, max_size=6))
def test_environment_values_reach_the_task_byte_for_byte(env, runner, registry, tmp_path):
    doc = {
        "version": 1,
        "tasks": [{"name": "probe", "attributes": {"environment": env}, "command": ["env", "-0"]}],
    }
    text = yaml.safe_dump(doc, allow_unicode=True)
    plan = api.plan(api.load_text(text, "prop.yaml"), registry)
    # YAML itself may not carry every string (e.g. it folds some line breaks); the property
    # is about what happens after the plan, so only plans that hold the values exactly count.
    assume(next(plan.tasks()).attributes.environment == env)
    run_id = runner.submit(plan, "local", workdir=tmp_path, options={"cores": "2"})
    status = runner.wait(run_id, timeout=120)
    probe = by_key(status)[("probe", 0)]
    assert probe.state.value == "completed", probe
    seen = _environ(Path(probe.log))
    for key, value in env.items():
        assert seen[key.encode()] == value.encode("utf-8"), key
    assert (tmp_path / "pwned").exists() is False
