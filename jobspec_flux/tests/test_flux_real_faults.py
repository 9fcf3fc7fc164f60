"""Faults on a real Flux instance (``flux start --test-size=4``): limits reaching tasks two
groups down, alternatives inside groups, missing working directories and requests no node
can run. Regression tests of the run-mode conformance cases combo-duration-nested-inherited,
combo-resources-alternatives-group, fault-cwd-missing and fault-unrunnable-in-group.
Skipped where flux is absent."""

from __future__ import annotations

import pytest
import yaml
from flux_helpers import plan_of, run
from jobspec_core.errors import InvalidJobspec
from jobspec_core.transformer import TaskState
from jobspec_flux.transformer import FluxTransformer

pytestmark = pytest.mark.flux


def test_inherited_limit_two_groups_down_times_out_and_dependent_never_runs(flux_instance, context):
    # 6 s: room for two nested instances to start on a loaded machine before "slow" does.
    plan = plan_of(
        """
        version: 1
        attributes: {duration: 6}
        tasks:
          - group: outer
        groups:
          - name: outer
            tasks:
              - group: inner
          - name: inner
            tasks:
              - name: slow
                command: ["sleep", "120"]
              - name: next
                depends_on: [slow]
                command: ["touch", "next.ran"]
        """
    )
    _, statuses = run(plan, context)
    slow, after = statuses[("outer/inner/slow", 0)], statuses[("outer/inner/next", 0)]
    assert slow.state is TaskState.TIMEOUT, slow
    assert slow.started_at is not None, slow
    assert after.state is TaskState.NEVER_RUN, after
    assert after.reason and "before it started" in after.reason, after
    assert not (context.workdir / "next.ran").exists()


ALTERNATIVES_IN_GROUP = """
version: 1
resources:
  huge:
    type: node
    count: 1
    with:
      - type: slot
        count: 1
        with:
          - {type: core, count: 4096}
  small:
    type: slot
    count: 1
    with:
      - {type: core, count: 1}
tasks:
  - group: g
groups:
  - name: g
    tasks:
      - name: flexible
        resources: huge|small
        command: ["sh", "-c", "echo flexible-ran"]
      - name: plain
        replicas: 2
        resources: small
        command: ["sh", "-c", "echo plain-$JOBSPEC_TASK_INDEX"]
"""


def test_alternative_inside_a_group_uses_the_one_that_fits(flux_instance, context):
    plan = plan_of(ALTERNATIVES_IN_GROUP)
    capacity = FluxTransformer().capacity(plan, context)
    assert capacity is not None  # asked although no top-level node has alternatives
    rendered = FluxTransformer()
    context.capacity = capacity
    group = rendered.rendered(plan, context).requests["g"]
    # the sum of what the children use: small (1 core) + 2 x small, not huge's 4096 cores
    assert group.slots * group.cores_per_slot == 3, group
    handles, statuses = run(plan, context)
    assert {k: s.state for k, s in statuses.items()} == {
        ("g/flexible", 0): TaskState.COMPLETED,
        ("g/plain", 0): TaskState.COMPLETED,
        ("g/plain", 1): TaskState.COMPLETED,
    }, statuses
    logs = {h.key: open(h.log).read().strip() for h in handles}
    assert logs[("g/flexible", 0)] == "flexible-ran"
    assert logs[("g/plain", 1)] == "plain-1"


@pytest.mark.parametrize("inside", [False, True], ids=["top-level", "in-group"])
def test_missing_working_directory_fails_with_its_reason(flux_instance, context, inside):
    missing = context.workdir / "no such directory"
    tasks = [
        {
            "name": "lost",
            "attributes": {"cwd": str(missing)},
            "command": ["touch", f"{context.workdir}/lost.ran"],
        },
        {
            "name": "after",
            "depends_on": ["lost"],
            "command": ["touch", f"{context.workdir}/after.ran"],
        },
    ]
    doc = (
        {"version": 1, "tasks": [{"group": "g"}], "groups": [{"name": "g", "tasks": tasks}]}
        if inside
        else {"version": 1, "tasks": tasks}
    )
    plan = plan_of(yaml.safe_dump(doc))
    prefix = "g/" if inside else ""
    _, statuses = run(plan, context)
    lost, after = statuses[(prefix + "lost", 0)], statuses[(prefix + "after", 0)]
    assert lost.state is TaskState.FAILED, lost
    assert lost.reason and "cannot enter the working directory" in lost.reason, lost
    assert str(missing) in lost.reason
    assert after.state is TaskState.NEVER_RUN, after
    assert not (context.workdir / "lost.ran").exists()
    assert not (context.workdir / "after.ran").exists()


UNRUNNABLE_GROUP = """
version: 1
tasks:
  - group: g
  - name: after
    depends_on: [g]
    command: ["touch", "after.ran"]
groups:
  - name: g
    resources:
      type: node
      count: 1
      with:
        - {type: core, count: 100000}
    tasks:
      - name: wide
        command: ["touch", "wide.ran"]
"""


def test_group_no_node_can_run_is_refused_before_submission(flux_instance, context):
    plan = plan_of(UNRUNNABLE_GROUP)
    transformer = FluxTransformer()
    context.capacity = transformer.capacity(plan, context)
    assert context.capacity is not None
    with pytest.raises(InvalidJobspec) as err:
        transformer.render(plan, context)
    message = str(err.value)
    assert "g: can never run" in message and "100000 cores" in message, message
    assert "the Flux instance has 4 nodes" in message, message
    assert not (context.run_dir / "submit.sh").exists()


def test_group_flux_refuses_fails_its_tasks_with_a_reason(flux_instance, context):
    """Without the capacity (a submission rendered elsewhere), Flux fails the group as
    unsatisfiable: its tasks fail with that reason instead of being lost."""
    plan = plan_of(UNRUNNABLE_GROUP)
    transformer = FluxTransformer()
    context.options["api"] = "cli"
    submission = transformer.render(plan, context)  # context.capacity is None
    submission.write(context.run_dir)
    handles = transformer.submit(plan, submission, context)
    statuses = transformer.wait(handles, context, timeout=60)
    wide, after = statuses[("g/wide", 0)], statuses[("after", 0)]
    assert wide.state is TaskState.FAILED, wide
    assert wide.reason and wide.reason.startswith("its group could not start: "), wide
    assert after.state is TaskState.NEVER_RUN, after
    assert not (context.workdir / "wide.ran").exists()
