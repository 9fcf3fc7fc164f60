"""One test per rule of spec/spec.md (section numbers in the test names' docstrings).

Each test fails if its rule is broken; the document snippets are as small as possible.
"""

from __future__ import annotations

import pytest
from jobspec_core.errors import InvalidJobspec

from jobspec_core import api


def plan_of(text: str, name: str = "rules.yaml"):
    return api.plan(api.load_text(text, name))


def codes(text: str) -> list[str]:
    return [p.code for p in api.validate(api.load_text(text, "rules.yaml"))]


def one(text: str):
    return next(plan_of(text).tasks())


def task_doc(extra: str = "", command: str = "echo") -> str:
    return f"version: 1\ntasks:\n- command: {command}\n{extra}"


# -- 1. documents ------------------------------------------------------------------------


def test_1_version_is_required_and_must_be_1():
    assert codes("tasks:\n- command: x\n") == ["missing-version"]
    assert codes("version: 2\ntasks:\n- command: x\n") == ["version"]
    assert codes(task_doc()) == []


def test_1_name_defaults_to_the_file_stem():
    assert plan_of(task_doc(), "some/dir/my-job.yaml").name == "my-job"
    assert plan_of("version: 1\nname: given\ntasks:\n- command: x\n").name == "given"


def test_1_nothing_to_run_is_an_error():
    assert codes("version: 1\n") == ["empty"]
    assert codes("version: 1\ntasks: []\n") == ["empty"]


def test_1_unknown_keys_are_errors_everywhere():
    assert codes("version: 1\nextra: 1\ntasks:\n- command: x\n") == ["unknown-key"]
    assert codes(task_doc("  resources: {type: core, size: 2}\n")) == ["unknown-key"]
    assert codes(task_doc("  attributes: {color: red}\n")) == ["unknown-key"]


def test_1_requires_is_free_form():
    assert codes(task_doc("  requires: {anything.goes: {deeply: [1, two]}}\n")) == []


def test_1_names_pattern_and_length():
    assert codes(task_doc("  name: a-b.c_d9\n")) == []
    assert codes(task_doc("  name: _a\n")) == ["pattern"]
    assert codes(task_doc(f"  name: {'a' * 129}\n")) == ["too-long"]


def test_1_duplicate_keys_are_errors():
    assert codes(task_doc("  replicas: 1\n  replicas: 2\n")) == ["duplicate-key"]


# -- 2. tasks ----------------------------------------------------------------------------


def test_2_string_command_runs_under_sh():
    task = one(task_doc(command="'echo $HOME | wc'"))
    assert task.command == ["/bin/sh", "-c", "echo $HOME | wc"] and task.shell


def test_2_list_command_is_argv_with_numbers_as_text():
    task = one(task_doc(command="[sleep, 1, 0.5, 'a b']"))
    assert task.command == ["sleep", "1", "0.5", "a b"] and not task.shell


def test_2_list_command_starts_with_a_program_name():
    assert codes(task_doc(command="[1, 2]")) == ["type"]
    assert codes(task_doc(command="['']")) == ["empty"]
    assert codes(task_doc(command="''")) == ["pattern"]


def test_2_exactly_one_of_command_and_group():
    groups = "groups:\n- name: g\n  tasks:\n  - command: x\n"
    assert codes(f"version: 1\ntasks:\n- group: g\n  command: x\n{groups}") == ["group-and-command"]
    assert codes("version: 1\ntasks:\n- name: x\n") == ["missing-command"]


def test_2_group_reference_takes_only_depends_on():
    groups = "groups:\n- name: g\n  tasks:\n  - command: x\n"
    assert (
        codes(
            f"version: 1\ntasks:\n- name: a\n  command: x\n- group: g\n  depends_on: [a]\n{groups}"
        )
        == []
    )
    assert codes(f"version: 1\ntasks:\n- group: g\n  name: g\n{groups}") == ["group-reference-key"]


@pytest.mark.parametrize(
    "replicas, ok",
    [(1, True), (100_000, True), (0, False), (100_001, False), ("2", False), (1.5, False)],
)
def test_2_replicas_bounds(replicas, ok):
    assert (codes(task_doc(f"  replicas: {replicas!r}\n")) == []) is ok


def test_2_replicas_in_the_plan():
    assert one(task_doc("  replicas: 3\n")).replicas == 3
    assert one(task_doc()).replicas == 1


def test_2_depends_on_resolves_to_sibling_ids():
    text = (
        "version: 1\ntasks:\n- name: a\n  command: x\n- name: b\n  command: x\n  depends_on: [a]\n"
    )
    assert plan_of(text).node("b").depends_on == ["a"]
    assert codes(text.replace("[a]", "[a, a]")) == ["duplicate"]
    assert codes(text.replace("[a]", "[c]")) == ["unknown-dependency"]


def test_2_local_only_inside_groups_and_without_resources():
    assert codes(task_doc("  local: true\n")) == ["local-top-level"]
    text = (
        "version: 1\ngroups:\n- name: g\n  resources: {type: core, count: 2}\n  tasks:\n"
        "  - command: start\n    local: true\n  - command: work\n"
    )
    plan = plan_of(text)
    local = plan.node("g/task-0")
    assert local.local and local.resources.preferred.origin == "inherited"
    assert local.resources.preferred.totals == {"core": 2}


# -- 3. groups ---------------------------------------------------------------------------


GROUPS = (
    "groups:\n"
    "- name: placed\n  tasks:\n  - command: x\n"
    "- name: free1\n  tasks:\n  - command: x\n"
    "- name: free2\n  tasks:\n  - command: x\n"
)


def test_3_top_level_order_tasks_then_unplaced_groups():
    text = (
        "version: 1\ntasks:\n- name: t1\n  command: x\n- group: placed\n- name: t2\n  command: x\n"
        + GROUPS
    )
    assert [c.id for c in plan_of(text).children] == ["t1", "placed", "t2", "free1", "free2"]


def test_3_group_reference_depends_on_adds_to_the_definition():
    text = (
        "version: 1\ntasks:\n- name: a\n  command: x\n- name: b\n  command: x\n"
        "- group: g\n  depends_on: [b]\n"
        "groups:\n- name: g\n  depends_on: [a]\n  tasks:\n  - command: x\n"
    )
    assert plan_of(text).node("g").depends_on == ["a", "b"]


def test_3_group_placed_once_never_inside_itself_never_empty():
    assert codes("version: 1\ntasks:\n- group: placed\n- group: placed\n" + GROUPS) == [
        "group-twice"
    ]
    assert codes("version: 1\ngroups:\n- name: g\n  tasks:\n  - group: g\n") == ["group-cycle"]
    assert codes("version: 1\ngroups:\n- name: g\n  tasks: []\n") == ["empty-group"]


def test_3_task_and_group_names_unique_among_siblings():
    text = "version: 1\ntasks:\n- name: free1\n  command: x\n" + GROUPS
    assert codes(text) == ["duplicate-name"]


def test_3_nested_groups_inherit_from_where_they_are_placed():
    text = (
        "version: 1\n"
        "groups:\n"
        "- name: outer\n  attributes: {environment: {LEVEL: outer}, duration: 1h}\n"
        "  tasks:\n  - group: inner\n"
        "- name: inner\n  tasks:\n  - command: x\n"
    )
    plan = plan_of(text)
    task = plan.node("outer/inner/task-0")
    assert task.attributes.environment == {"LEVEL": "outer"}
    assert task.attributes.duration == 3600


def test_3_nesting_depth_limit():
    def chain(n):
        return "version: 1\ngroups:\n" + "".join(
            f"- name: g{i}\n  tasks:\n  - command: x\n"
            + (f"  - group: g{i + 1}\n" if i < n - 1 else "")
            for i in range(n)
        )

    assert codes(chain(16)) == []
    assert codes(chain(17)) == ["too-deep"]


# -- 4. resources ------------------------------------------------------------------------


def request(text: str, node_id: str | None = None, alternative: int = 0):
    plan = plan_of(text)
    node = plan.node(node_id) if node_id else next(plan.tasks())
    return node.resources.alternatives[alternative]


def test_4_counts_multiply():
    r = request(
        task_doc(
            "  resources:\n    type: node\n    count: 4\n    with:\n    - type: slot\n      count: 1\n"
            "      with:\n      - type: core\n        count: 4\n"
        )
    )
    assert r.totals == {"node": 4, "slot": 4, "core": 16}
    assert (r.nodes, r.slots, r.cores_per_slot, r.exclusive) == (4, 4, 4, False)


def test_4_count_defaults_to_1_and_plurals_are_aliases():
    r = request(task_doc("  resources: {type: cores}\n"))
    assert r.totals == {"core": 1} and r.tree[0].type == "core"
    for plural, singular in [("gpus", "gpu"), ("nodes", "node"), ("slots", "slot")]:
        assert request(task_doc(f"  resources: {{type: {plural}}}\n")).tree[0].type == singular


def test_4_memory_counts_mib():
    r = request(
        task_doc("  resources: {type: slot, count: 2, with: [{type: memory, count: 512}]}\n")
    )
    assert r.totals["memory"] == 1024 and r.memory_per_slot == 512


def test_4_default_is_one_slot_of_one_core():
    r = request(task_doc())
    assert r.origin == "default" and r.totals == {"slot": 1, "core": 1}
    assert (r.slots, r.cores_per_slot, r.nodes) == (1, 1, 0)


def test_4_task_inherits_all_group_alternatives():
    text = (
        "version: 1\nresources:\n  a: {type: core, count: 2}\n  b: {type: core, count: 1}\n"
        "groups:\n- name: g\n  resources: a|b\n  tasks:\n  - command: x\n"
    )
    task = plan_of(text).node("g/task-0")
    assert [(a.name, a.origin) for a in task.resources.alternatives] == [
        ("a", "inherited"),
        ("b", "inherited"),
    ]


def test_4_group_without_resources_is_the_sum_of_non_local_children():
    text = (
        "version: 1\ngroups:\n- name: g\n  tasks:\n"
        "  - command: x\n    local: true\n"
        "  - command: x\n    replicas: 3\n"
        "  - command: x\n    resources: {type: slot, with: [{type: core, count: 4}]}\n"
        "  - command: x\n"
    )
    group = plan_of(text).node("g").resources.preferred
    assert group.origin == "sum"
    assert group.totals == {"slot": 5, "core": 8}  # 3+1 default slots of 1 core, 1 slot of 4
    assert [(n.type, n.count) for n in group.tree] == [("slot", 4), ("slot", 1)]
    assert plan_of(text).node("g/task-3").resources.preferred.origin == "default"


def test_4_nested_group_without_resources_sums_rather_than_inherits():
    text = (
        "version: 1\ngroups:\n- name: outer\n  resources: {type: core, count: 2}\n"
        "  tasks:\n  - group: inner\n"
        "- name: inner\n  tasks:\n  - command: x\n  - command: y\n"
    )
    inner = plan_of(text).node("outer/inner").resources.preferred
    assert inner.origin == "sum" and inner.totals == {"slot": 2, "core": 2}


def test_4_per_slot_view():
    per_node = request(
        task_doc(
            "  resources: {type: node, count: 2, with: [{type: core, count: 4}, {type: gpu, count: 2}]}\n"
        )
    )
    assert (per_node.slots, per_node.cores_per_slot, per_node.gpus_per_slot) == (2, 4, 2)
    whole = request(task_doc("  resources: {type: node, count: 3}\n"))
    assert whole.exclusive and whole.slots == 3 and whole.nodes == 3
    cores = request(task_doc("  resources: {type: core, count: 6}\n"))
    assert (cores.slots, cores.cores_per_slot, cores.exclusive) == (1, 6, False)


def test_4_named_blocks_and_alternatives_in_order():
    text = (
        "version: 1\nresources:\n  big: {type: core, count: 8}\n  small: {type: core}\n"
        "tasks:\n- command: x\n  resources: ' big | small '\n"
    )
    task = next(plan_of(text).tasks())
    assert [(a.name, a.origin, a.totals["core"]) for a in task.resources.alternatives] == [
        ("big", "named", 8),
        ("small", "named", 1),
    ]
    assert task.resources.preferred.name == "big"
    assert codes(text.replace("small '", "tiny '")) == ["unknown-resource"]
    assert codes(text.replace("' big", "' bug")) == ["unknown-resource"]


def test_4_resources_null_is_an_error():
    assert codes(task_doc("  resources:\n")) == ["type"]


# -- 5. attributes -----------------------------------------------------------------------


INHERIT = (
    "version: 1\n"
    "attributes:\n  duration: 1h\n  cwd: /top\n  watch: true\n  slurm.account: acct\n"
    "  environment: {A: top, B: top}\n"
    "groups:\n- name: g\n"
    "  attributes:\n    duration: 30m\n    slurm.partition: debug\n    environment: {B: group, C: group}\n"
    "  tasks:\n  - command: x\n    attributes:\n      cwd: /task\n      slurm.partition: big\n"
    "      environment: {C: task}\n"
    "  - command: y\n"
)


def test_5_nearest_wins_and_environment_merges_per_key():
    plan = plan_of(INHERIT)
    t0, t1 = plan.node("g/task-0"), plan.node("g/task-1")
    assert t0.attributes.environment == {"A": "top", "B": "group", "C": "task"}
    assert t1.attributes.environment == {"A": "top", "B": "group", "C": "group"}
    assert (t0.attributes.duration, t0.attributes.cwd, t0.attributes.watch) == (1800, "/task", True)
    assert t1.attributes.cwd == "/top"
    assert t0.attributes.passthrough == {"slurm": {"account": "acct", "partition": "big"}}
    assert t1.attributes.passthrough == {"slurm": {"account": "acct", "partition": "debug"}}


def test_5_defaults():
    attrs = one(task_doc()).attributes
    assert (attrs.duration, attrs.environment, attrs.cwd, attrs.watch, attrs.passthrough) == (
        None,
        {},
        None,
        False,
        {},
    )


@pytest.mark.parametrize(
    "value, seconds",
    [
        ("90", 90),
        ("0.5", 1),
        ("'300s'", 300),
        ("5m", 300),
        ("1.5h", 5400),
        ("2d", 172800),
        ("'1.5m'", 90),
        ("' 10 s '", 10),
        ("1.01", 2),
    ],
)
def test_5_duration_units_and_rounding_up(value, seconds):
    assert one(task_doc(f"  attributes: {{duration: {value}}}\n")).attributes.duration == seconds


@pytest.mark.parametrize("value", ["0", "-5", "true", "1h30m", "5 minutes", "''", "10x", ".inf"])
def test_5_bad_durations(value):
    assert codes(task_doc(f"  attributes: {{duration: {value}}}\n")) in (
        ["bad-duration"],
        ["type"],
        ["bad-scalar"],  # .inf: no infinity in a JobSpec (Decision 39)
    )


def test_5_group_duration_bounds_children_but_top_level_is_a_default():
    assert (
        codes(
            "version: 1\nattributes: {duration: 1m}\ntasks:\n- command: x\n"
            "  attributes: {duration: 1h}\n"
        )
        == []
    )
    assert codes(
        "version: 1\ngroups:\n- name: g\n  attributes: {duration: 1m}\n  tasks:\n"
        "  - command: x\n    attributes: {duration: 61}\n"
    ) == ["duration-exceeds-group"]
    assert (
        codes(
            "version: 1\ngroups:\n- name: g\n  attributes: {duration: 1m}\n  tasks:\n"
            "  - command: x\n    attributes: {duration: 60}\n"
        )
        == []
    )


def test_5_environment_values_become_text():
    env = one(
        task_doc(
            "  attributes:\n    environment: {I: 3, F: 1.5, T: true, N: false, S: 'a b $x', E: ''}\n"
        )
    ).attributes.environment
    assert env == {"I": "3", "F": "1.5", "T": "true", "N": "false", "S": "a b $x", "E": ""}


def test_5_environment_names_and_values():
    assert codes(task_doc("  attributes: {environment: {_ok1: x}}\n")) == []
    assert codes(task_doc("  attributes: {environment: {9a: x}}\n")) == ["bad-name"]
    assert codes(task_doc("  attributes: {environment: {A: [1]}}\n")) == ["type"]
    assert codes(task_doc("  attributes: {environment: {A: null}}\n")) == ["type"]
    assert codes(task_doc("  attributes: {environment: {JOBSPEC_RUN_ID: x}}\n")) == ["reserved-env"]


def test_5_passthrough_kept_per_backend():
    attrs = one(
        task_doc(
            "  attributes: {slurm.partition: debug, flux.queue: batch, slurm.gpus-per-task: 2}\n"
        )
    ).attributes
    assert attrs.passthrough == {
        "slurm": {"partition": "debug", "gpus-per-task": 2},
        "flux": {"queue": "batch"},
    }
    assert codes(task_doc("  attributes: {slurm.partition: {a: 1}}\n")) == ["type"]


def test_5_cwd_and_watch_types():
    assert codes(task_doc("  attributes: {cwd: ''}\n")) == ["empty"]
    assert codes(task_doc("  attributes: {watch: 'yes please'}\n")) == ["type"]


# -- 6. requires -------------------------------------------------------------------------


def test_6_requires_merge_recursively():
    text = (
        "version: 1\nrequires:\n  io.archspec: {cpu.target: amd64}\n  gpu: 'no'\n"
        "groups:\n- name: g\n  requires:\n    io.archspec: {cpu.vendor: amd}\n  tasks:\n"
        "  - command: x\n    requires: {gpu: 'yes'}\n"
    )
    plan = plan_of(text)
    assert plan.requires == {"io.archspec": {"cpu.target": "amd64"}, "gpu": "no"}
    assert plan.node("g").requires == {
        "io.archspec": {"cpu.target": "amd64", "cpu.vendor": "amd"},
        "gpu": "no",
    }
    assert plan.node("g/task-0").requires == {
        "io.archspec": {"cpu.target": "amd64", "cpu.vendor": "amd"},
        "gpu": "yes",
    }


# -- 7. steps ----------------------------------------------------------------------------


def test_7_steps_in_the_plan_in_order():
    task = one(
        task_doc(
            "  steps:\n  - {name: write, path: a.sh, content: hi, executable: true}\n"
            "  - {name: stage, path: a.sh}\n"
        )
    )
    assert [(s.name, s.options) for s in task.steps] == [
        ("write", {"path": "a.sh", "content": "hi", "executable": True}),
        ("stage", {"path": "a.sh"}),
    ]
    assert task.steps[0].source.line == 5


@pytest.mark.parametrize(
    "step, code",
    [
        ("{name: stage}", "missing-key"),
        ("{name: stage, path: ''}", "empty"),
        ("{name: write, path: a}", "missing-key"),
        ("{name: write, path: ../a, content: x}", "bad-step"),
        ("{name: write, path: /a, content: x}", "bad-step"),
        ("{name: write, path: a, content: x, executable: 1}", "type"),
        ("{name: copy, path: a}", "unknown-step"),
    ],
)
def test_7_step_rules(step, code):
    assert codes(task_doc(f"  steps:\n  - {step}\n")) == [code]


# -- 10. the plan ------------------------------------------------------------------------


def test_10_ids():
    text = (
        "version: 1\ntasks:\n- command: x\n- group: a\n- command: y\n"
        "groups:\n- name: a\n  tasks:\n  - name: t\n    command: x\n  - group: b\n"
        "- name: b\n  tasks:\n  - command: x\n"
    )
    ids = [node.id for node, _ in plan_of(text).walk()]
    assert ids == ["task-0", "a", "a/t", "a/b", "a/b/task-0", "task-2"]


def test_10_source_refs():
    text = "version: 1\ntasks:\n- name: a\n  command: x\n"
    task = one(text)
    assert (task.source.file, task.source.line, task.source.column, task.source.path) == (
        "rules.yaml",
        3,
        3,
        "tasks[0]",
    )


def test_10_plan_refuses_invalid_documents():
    with pytest.raises(InvalidJobspec) as info:
        plan_of("version: 1\ntasks:\n- command: x\n  replicas: 0\n")
    assert info.value.problems[0].code == "range"


def test_4_count_bounds_and_with_not_empty():
    assert codes(task_doc("  resources: {type: core, count: 1000000000}\n")) == []
    assert codes(task_doc("  resources: {type: core, count: 1000000001}\n")) == ["range"]
    assert codes(task_doc("  resources: {type: core, count: 0}\n")) == ["range"]
    assert codes(task_doc("  resources: {type: slot, with: []}\n")) == ["empty"]
    assert codes(task_doc("  resources: {type: Core}\n")) == ["pattern"]


def test_4_site_defined_types_are_kept():
    r = request(task_doc("  resources: {type: node, with: [{type: socket, count: 2}]}\n"))
    assert r.totals == {"node": 1, "socket": 2}


def test_4_gpu_feature_is_used_when_any_alternative_has_gpus():
    from jobspec_core.features import features_used

    text = (
        "version: 1\nresources:\n  cpu: {type: core}\n  gpu: {type: gpu}\n"
        "tasks:\n- command: x\n  resources: cpu|gpu\n"
    )
    used = features_used(plan_of(text))
    assert {"resources.gpu", "resources.alternatives", "resources.named"} <= used
    assert "resources.gpu" not in features_used(plan_of(text.replace("cpu|gpu", "cpu")))


def test_2_depends_on_waits_for_a_group_by_its_id():
    text = (
        "version: 1\ntasks:\n- group: g\n- name: after\n  command: x\n  depends_on: [g]\n"
        "groups:\n- name: g\n  tasks:\n  - command: x\n"
    )
    assert plan_of(text).node("after").depends_on == ["g"]
