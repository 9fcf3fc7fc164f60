"""The plan IR: JSON round trip, walking, ids, and the feature detection built on it."""

from __future__ import annotations

import json

import pytest
from jobspec_core.features import CORE_FEATURES, FEATURES, features_used
from jobspec_core.loader import load_text
from jobspec_core.plan import Plan, PlanGroup, PlanTask
from jobspec_core.planner import build_plan

MUMMI = """
version: 1
resources:
  big: {count: 2, type: node, with: [{type: slot, count: 1, with: [{type: core, count: 4}]}]}
  gpu: {count: 1, type: node, with: [{type: gpu, count: 1}]}
attributes:
  environment: {A: 1}
  slurm.partition: debug
groups:
- name: outer
  resources: big
  tasks:
  - local: true
    command: ["echo", "start"]
  - group: inner
  - name: test
    replicas: 3
    resources: big|gpu
    depends_on: [inner]
    command: echo $JOBSPEC_TASK_INDEX
- name: inner
  resources: gpu
  tasks:
  - name: train
    command: [true]
    steps:
    - name: write
      path: x.txt
      content: hi
"""


def _plan(text: str) -> Plan:
    doc = load_text(text, "mem.yaml")
    return build_plan(doc.data, doc.filename, doc.locate)


def test_json_round_trip_is_lossless():
    plan = _plan(MUMMI)
    data = json.loads(json.dumps(plan.to_dict()))
    assert Plan.from_dict(data).to_dict() == plan.to_dict()


def test_from_dict_refuses_other_formats():
    data = _plan(MUMMI).to_dict()
    data["plan_format"] = 99
    with pytest.raises(ValueError, match="plan format"):
        Plan.from_dict(data)


def test_walk_visits_every_node_with_its_parent_in_document_order():
    plan = _plan(MUMMI)
    seen = [(node.id, parent.id if parent else None) for node, parent in plan.walk()]
    assert seen == [
        ("outer", None),
        ("outer/task-0", "outer"),
        ("outer/inner", "outer"),
        ("outer/inner/train", "outer/inner"),
        ("outer/test", "outer"),
    ]
    assert [t.id for t in plan.tasks()] == ["outer/task-0", "outer/inner/train", "outer/test"]
    assert isinstance(plan.node("outer/inner"), PlanGroup)
    assert isinstance(plan.node("outer/test"), PlanTask)
    with pytest.raises(KeyError):
        plan.node("nope")


def test_features_used_detects_each_feature_in_the_document():
    used = features_used(_plan(MUMMI))
    expected = {
        "groups",
        "groups.nested",
        "groups.depends_on",
        "local",
        "replicas",
        "resources",
        "resources.named",
        "resources.alternatives",
        "resources.gpu",
        "attributes.environment",
        "passthrough",
        "steps.write",
    }
    assert expected <= used
    # every plan uses the core features but parameters, which only a plan with parameters uses
    assert CORE_FEATURES - {"parameters"} <= used and "parameters" not in used
    assert used <= set(FEATURES)
    assert "depends_on" not in used  # only group-level dependencies here
    assert "attributes.duration" not in used


def test_minimal_document_uses_only_core_features():
    plan = _plan("version: 1\ntasks:\n- command: [true]\n")
    assert features_used(plan) == set(CORE_FEATURES) - {"parameters"}


def test_source_refs_carry_file_line_and_path():
    plan = _plan(MUMMI)
    test = plan.node("outer/test")
    assert test.source.file == "mem.yaml"
    assert test.source.path == "groups[0].tasks[2]"
    assert test.source.line is not None and test.source.line > 1
