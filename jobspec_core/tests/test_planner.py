"""The planner's own contracts (the language rules are in test_spec_rules.py)."""

from __future__ import annotations

import gc

from jobspec_core.plan import ResourceNode
from jobspec_core.planner import build_plan, gc_paused
from jobspec_core.resources import default_request, make_request, sum_requests

from jobspec_core import api


def test_build_plan_without_locations():
    plan = build_plan({"version": 1, "tasks": [{"command": "x"}]})
    task = next(plan.tasks())
    assert (task.source.line, task.source.path) == (None, "tasks[0]")
    assert plan.name == "jobspec" and plan.source is None


def test_nodes_do_not_share_resource_requests():
    doc = {
        "version": 1,
        "resources": {"r": {"type": "core", "count": 2}},
        "tasks": [
            {"command": "x", "resources": "r"},
            {"command": "y", "resources": "r"},
            {"command": "z"},
            {"command": "w"},
        ],
    }
    tasks = list(build_plan(doc).tasks())
    assert tasks[0].resources.preferred is not tasks[1].resources.preferred
    assert tasks[2].resources.preferred is not tasks[3].resources.preferred
    tasks[0].resources.preferred.origin = "inline"
    assert tasks[1].resources.preferred.origin == "named"


def test_gc_paused_restores_the_collector_state():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_sum_of_many_equal_children_stays_small():
    doc = {"version": 1, "groups": [{"name": "g", "tasks": [{"command": "x"}] * 5000}]}
    group = build_plan(doc).node("g").resources.preferred
    assert [(n.type, n.count) for n in group.tree] == [("slot", 5000)]
    assert group.totals == {"slot": 5000, "core": 5000}


def test_sum_keeps_different_shapes_apart_in_order():
    one_core = make_request([ResourceNode("core", 1)], "inline")
    two_gpu = make_request([ResourceNode("slot", 1, [ResourceNode("gpu", 2)])], "inline")
    total = sum_requests([(two_gpu, 2), (one_core, 3), (two_gpu, 1)])
    assert [(n.type, n.count) for n in total.tree] == [("slot", 3), ("core", 3)]
    assert total.totals == {"slot": 3, "gpu": 6, "core": 3}


def test_sum_of_nothing_is_the_default():
    assert sum_requests([]).totals == default_request().totals


def test_environment_keeps_document_order_inherited_first():
    plan = api.plan(
        api.load_text(
            "version: 1\nattributes: {environment: {Z: 1, A: 2}}\n"
            "tasks:\n- command: x\n  attributes: {environment: {M: 3, Z: 4}}\n"
        )
    )
    assert list(next(plan.tasks()).attributes.environment.items()) == [
        ("Z", "4"),
        ("A", "2"),
        ("M", "3"),
    ]


def test_plan_round_trips_through_json_for_every_example():
    import json
    from pathlib import Path

    from jobspec_core.plan import Plan

    for path in sorted((Path(__file__).resolve().parents[2] / "spec" / "examples").glob("*.yaml")):
        plan = api.load_plan(path)
        data = json.loads(json.dumps(plan.to_dict()))
        assert Plan.from_dict(data).to_dict() == data, path.name
