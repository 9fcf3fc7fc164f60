"""Parameters in the API: values and their types, substitution, sweeps, and shell text
reaching tasks byte for byte (a property test, issue 13 "Done means" 4)."""

from __future__ import annotations

import json
import shlex
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobspec_core.errors import InvalidJobspec, UsageError
from jobspec_core.parameters import Given, Parameter, ValueProblem
from jobspec_core.paramsources import MAX_COMBINATIONS, ParameterInput, parameter_input
from jobspec_core.plan import Plan

from jobspec_core import api

DOC = """\
version: 1
parameters:
  n: {type: integer, default: 2, minimum: 1, maximum: 8}
  x: {type: number, default: 0.5}
  flag: {type: boolean, default: true}
  word: {type: string, default: plain}
  limit: {type: duration, default: 90s, maximum: 1h}
  pick: {type: choice, choices: [1, two, 3.5], default: two}
tasks:
- name: t
  replicas: ${{ n }}
  command: echo ${{ word }} ${{ x }} $HOME
  attributes:
    duration: ${{ limit }}
    watch: ${{ flag }}
    environment: {N: "${{ n }}", MIXED: "n=${{ n }} flag=${{ flag }}", PICK: "${{ pick }}"}
    slurm.partition: part-${{ word }}
- name: argv
  command: [prog, "${{ n }}", "--x=${{ x }}", "${{ word }}"]
  steps:
  - name: write
    path: conf-${{ n }}.txt
    content: "n = ${{ n }}\\n"
    executable: ${{ flag }}
"""


def plan_of(text: str, **values) -> Plan:
    return api.plan(api.load_text(text, "p.yaml"), parameters=values)


def problems_of(text: str, **values) -> list[str]:
    return [p.format() for p in api.validate(api.load_text(text, "p.yaml"), parameters=values)]


def test_defaults_and_types_reach_the_plan():
    plan = plan_of(DOC)
    t, argv = plan.tasks()
    assert plan.parameters == {
        "n": 2,
        "x": 0.5,
        "flag": True,
        "word": "plain",
        "limit": "90s",
        "pick": "two",
    }
    assert t.replicas == 2 and t.attributes.duration == 90 and t.attributes.watch is True
    assert t.command == ["/bin/sh", "-c", "echo plain 0.5 $HOME"]
    assert t.attributes.environment == {"N": "2", "MIXED": "n=2 flag=true", "PICK": "two"}
    assert t.attributes.passthrough == {"slurm": {"partition": "part-plain"}}
    assert argv.command == ["prog", "2", "--x=0.5", "plain"]
    step = argv.steps[0]
    assert step.options == {"path": "conf-2.txt", "content": "n = 2\n", "executable": True}


def test_values_as_text_or_typed_from_any_source():
    plan = plan_of(DOC, n="4", x="1e3", flag="no", limit="2m", pick="3.5", word="a b")
    t, argv = plan.tasks()
    assert plan.parameters["n"] == 4 and plan.parameters["x"] == 1000.0
    assert plan.parameters["pick"] == 3.5 and plan.parameters["flag"] is False
    assert t.replicas == 4 and t.attributes.duration == 120 and t.attributes.watch is False
    # a value is one shell word in a shell line, and plain text elsewhere
    assert t.command[2] == "echo 'a b' 1000.0 $HOME"
    assert argv.command == ["prog", "4", "--x=1000.0", "a b"]
    assert plan_of(DOC, n=3, flag=False).parameters["n"] == 3


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("integer", "12", 12),
        ("integer", " -3 ", -3),
        ("number", "2", 2),
        ("number", ".5", 0.5),
        ("boolean", "ON", True),
        ("boolean", "false", False),
        ("duration", "300", 300),
        ("duration", "1.5h", "1.5h"),
        ("string", "", ""),
    ],
)
def test_coercion_accepts(kind, value, expected):
    parameter = Parameter("p", kind, ("parameters", "p"))
    got = parameter.coerce(value)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("integer", "1.5", "expected an integer, got '1.5'"),
        ("integer", True, "expected an integer, got true"),
        ("integer", 4.0, "write it without '.0'"),
        ("number", "nan", "expected a number"),
        ("number", float("inf"), "expected a finite number"),
        ("boolean", "1", "expected true or false, got '1'"),
        ("string", 42, "expected text, got 42; quote it in YAML ('42')"),
        ("duration", "0", "greater than zero"),
        ("duration", "1h30m", "expected a number of seconds"),
    ],
)
def test_coercion_refuses(kind, value, message):
    with pytest.raises(ValueProblem, match=None) as exc:
        Parameter("p", kind, ("parameters", "p")).coerce(value)
    assert message in str(exc.value)


def test_bounds_and_choices():
    n = Parameter("n", "integer", ("parameters", "n"), minimum=1, maximum=8)
    assert n.coerce(8) == 8
    with pytest.raises(ValueProblem, match="expected at most 8, got 9"):
        n.coerce(9)
    limit = Parameter("l", "duration", ("parameters", "l"), minimum="1m", maximum="1h")
    assert limit.coerce("59m") == "59m"
    with pytest.raises(ValueProblem, match="expected at least 1m, got 30"):
        limit.coerce(30)
    pick = Parameter("c", "choice", ("parameters", "c"), choices=(1, "b", True))
    assert pick.coerce("1") == 1 and pick.coerce("true") is True
    with pytest.raises(ValueProblem, match="expected one of 1, 'b', true, got 'c'"):
        pick.coerce("c")


def test_every_problem_of_values_and_references_at_once():
    text = DOC.replace("- name: argv", "- name: argv\n  depends_on: ['${{ nope }}']")
    found = problems_of(text, n="nine", word=5, extra="1")
    assert any(
        "parameters.n: parameter 'n' (integer): expected an integer, got 'nine'" in f for f in found
    )
    assert any("parameter 'word' (string): expected text, got 5" in f for f in found)
    assert any("a value for 'extra' (the API)" in f for f in found)
    assert any(f.startswith("p.yaml:19:") and "undefined parameter 'nope'" in f for f in found), (
        found
    )
    assert len(found) == 4


def test_the_loaded_document_is_not_changed_and_keys_are_not_substituted():
    document = api.load_text(DOC, "p.yaml")
    before = json.dumps(document.data, sort_keys=True)
    api.plan(document, parameters={"n": 5})
    api.plan(document, parameters={"n": 6})
    assert json.dumps(document.data, sort_keys=True) == before
    keyed = "version: 1\nparameters: {k: {type: string, default: v}}\ntasks:\n- command: x\n  attributes:\n    environment: {'${{ k }}': y}\n"
    found = problems_of(keyed)
    assert found and "invalid variable name '${{ k }}'" in found[0]


def test_a_document_without_parameters_is_shared_not_copied():
    document = api.load_text("version: 1\ntasks: [{command: [echo, $HOME]}]\n", "p.yaml")
    from jobspec_core.substitution import apply_parameters

    same, values = apply_parameters(document, None)
    assert same is document and values == {}


def test_plan_json_keeps_the_values():
    plan = plan_of(DOC, n=3)
    again = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again.parameters == plan.parameters and again.to_dict() == plan.to_dict()
    bare = api.plan(api.load_text("version: 1\ntasks: [{command: x}]\n"))
    assert "parameters" not in bare.to_dict()


def test_plans_is_all_or_nothing_and_labels_each_combination():
    document = api.load_text(DOC, "p.yaml")
    request = ParameterInput(sweep={"n": [Given(v, "--sweep n=1,2,9") for v in ("1", "2", "9")]})
    with pytest.raises(InvalidJobspec) as exc:
        api.plans(document, request.combinations())
    (problem,) = exc.value.problems
    assert problem.message.startswith("[n=9] parameter 'n' (integer): expected at most 8")
    assert "(value from --sweep n=1,2,9)" in problem.message
    good = ParameterInput(
        sweep={"n": [Given("1"), Given("2")], "flag": [Given(True), Given(False)]}
    )
    plans = api.plans(document, good.combinations())
    assert [(p.parameters["n"], p.parameters["flag"]) for p in plans] == [
        (1, True),
        (1, False),
        (2, True),
        (2, False),
    ]


def test_sweeps_are_bounded_and_sources_combine(tmp_path):
    axis = [Given(str(i)) for i in range(40)]
    with pytest.raises(UsageError, match=f"at most {MAX_COMBINATIONS:,}"):
        ParameterInput(sweep={"a": axis, "b": axis}).combinations()
    values = tmp_path / "v.yml"
    values.write_text("n: 2\nword: from-file\nsweep:\n  x: [1, 2]\n")
    request = parameter_input(values, ["word=cli"], ["n=3,4"])
    assert {k: v.value for k, v in request.values.items()} == {"word": "cli"}
    assert [g.value for g in request.sweep["n"]] == ["3", "4"]
    assert [g.source for g in request.sweep["x"]] == [f"{values}:4", f"{values}:4"]
    assert request.values["word"].source == "--set word=cli"
    with pytest.raises(UsageError, match="is not a parameter name"):
        parameter_input(None, ["1x=2"])


def test_plan_of_a_recorded_run_uses_its_values(tmp_path):
    pytest.importorskip("jobspec_local")
    from jobspec_core.runner import Runner
    from jobspec_core.store import RunStore

    job = tmp_path / "job.yaml"
    job.write_text(
        "version: 1\nparameters: {n: {type: integer, default: 1}}\n"
        "tasks:\n- name: t\n  replicas: ${{ n }}\n  command: ['true']\n"
    )
    runner = Runner(RunStore(tmp_path / "runs.sqlite"))
    run_id = runner.submit(api.load_plan(job, parameters={"n": "3"}), "local", workdir=tmp_path)
    assert runner.wait(run_id, timeout=60).succeeded
    job.write_text("version: 1\ntasks: [{command: [changed]}]\n")  # the file moved on
    kept = runner.plan_of(run_id)
    assert kept.parameters == {"n": 3} and next(kept.tasks()).replicas == 3
    assert runner.store.get_run(run_id).parameters == {"n": 3}


# -- shell text byte for byte (issue 13, "Done means" 4) ------------------------------------

#: what shell text is made of: every character that matters to a shell, plus words
SHELL_TEXT = st.text(
    alphabet=st.sampled_from(
        list(string.ascii_letters + string.digits + " $(){}[]'\"\\`;|&<>*?#~=+-_./:%!^,@\t")
    ),
    max_size=40,
).filter(lambda s: "${{" not in s)
SHELL_FRAGMENTS = st.sampled_from(
    ["$HOME", "${X}", "$((1+2))", "${X:-d}", "$$", "${#X}", "$1", "{{ x }}", "$ {{"]
)
VALUES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(st.one_of(SHELL_TEXT, SHELL_FRAGMENTS, st.just(None)), min_size=1, max_size=8),
    value=VALUES,
)
def test_shell_text_reaches_the_task_byte_for_byte(pieces, value):
    """Any shell text with ``${{ p }}`` references between its pieces: in a shell line the
    text is unchanged and each reference is the value as one quoted word; in an argv word
    and an environment value, the value's text. Nothing else moves."""
    line = "".join("${{ p }}" if piece is None else piece for piece in pieces)
    if not line.strip() or "${{" in line.replace("${{ p }}", ""):
        return  # (a piece ending in '$' glued to '{{ x }}' makes a reference: not shell text)
    expected_shell = "".join(shlex.quote(value) if p is None else p for p in pieces)
    expected_text = "".join(value if p is None else p for p in pieces)
    document = {
        "version": 1,
        "parameters": {"p": {"type": "string", "default": "unused"}},
        "tasks": [
            {
                "name": "shell",
                "command": line,
                "attributes": {"environment": {"V": line}},
            },
            {"name": "argv", "command": ["prog", line]},
        ],
    }
    plan = api.plan(api.Document(document, "prop.yaml"), parameters={"p": value})
    shell, argv = plan.tasks()
    assert shell.command == ["/bin/sh", "-c", expected_shell]
    assert shell.attributes.environment == {"V": expected_text}
    assert argv.command == ["prog", expected_text]


def test_features_used_names_parameters_only_when_a_plan_has_some():
    from jobspec_core.capabilities import missing_features
    from jobspec_core.features import features_used

    plan = plan_of(DOC)
    assert "parameters" in features_used(plan)
    assert "parameters" not in missing_features(plan, ())  # core work: never missing
    assert "parameters" not in features_used(
        api.plan(api.load_text("version: 1\ntasks: [{command: x}]\n"))
    )
