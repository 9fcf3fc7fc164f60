"""The scheduling rules alone (jobspec_local.graph), driven in memory: each started instance
is finished later with a chosen outcome, so large graphs and exact start orders can be
checked quickly. The same rules drive real processes in test_local_semantics.py."""

from __future__ import annotations

from jobspec_core.plugins import Registry
from jobspec_core.transformer import RunContext
from jobspec_local.graph import COMPLETED, FAILED, Scheduler
from jobspec_local.layout import Capacity, build_spec

from jobspec_core import api, builtin_steps
from jobspec_local import plugin

REGISTRY = Registry.from_modules([("core_steps", builtin_steps), ("local", plugin)])


class InMemory(Scheduler):
    """Instances 'run' until :meth:`step` ends the oldest; outcomes by task id."""

    def __init__(self, spec, failing=()):
        super().__init__(spec, log=lambda text: None)
        self.failing = set(failing)
        self.running = []
        self.started = []
        self.events = []

    def spawn(self, inst):
        inst.pid, inst.started = 1, 0.0
        self.running.append(inst)
        self.started.append((inst.node.id, inst.index))

    def kill(self, inst, state, reason):
        inst.kill = (state, reason)

    def emit(self, event):
        self.events.append(event)

    def timer(self, when, kind, obj):
        pass

    def run(self):
        self.start_roots()
        self.settle()
        while self.running:
            inst = self.running.pop(0)
            state = FAILED if inst.node.id in self.failing else COMPLETED
            self.end(inst, state, 0 if state == COMPLETED else 1, None, 0.0, 0.0)
            self.settle()
        return {(e[1], e[2]): e[3] for e in self.events if e[0] == "E"}


def spec_of(text, cores):
    plan = api.plan(api.load_text(text, "g.yaml"), REGISTRY)
    return build_spec(plan, RunContext("R", "/tmp/r", "/tmp"), Capacity(cores, 0))


def test_a_long_chain_after_a_failure_is_never_run_without_recursion():
    n = 5000
    text = "version: 1\ntasks:\n- {name: t0, command: ['false']}\n" + "".join(
        f"- {{name: t{i}, depends_on: [t{i - 1}], command: ['true']}}\n" for i in range(1, n)
    )
    ends = InMemory(spec_of(text, 2), failing={"t0"}).run()
    assert ends[("t0", 0)] == "failed"
    assert sum(1 for s in ends.values() if s == "never_run") == n - 1


def test_first_fit_in_document_order_within_the_budget():
    text = """
version: 1
resources:
  two: {type: slot, with: [{type: core, count: 2}]}
tasks:
- {name: a, command: ['x']}
- {name: big, resources: two, command: ['x']}
- {name: c, command: ['x']}
- {name: d, command: ['x']}
"""
    sched = InMemory(spec_of(text, 2))
    sched.start_roots()
    sched.settle()
    # a takes 1 core; big (2) does not fit in the remaining 1, c does: first fit
    assert sched.started == [("a", 0), ("c", 0)]
    ends = sched.run()
    assert set(ends.values()) == {"completed"} and len(sched.started) == 4


def test_group_holds_its_allocation_until_its_children_end():
    text = """
version: 1
resources:
  two: {type: slot, with: [{type: core, count: 2}]}
  one: {type: slot, with: [{type: core, count: 1}]}
groups:
- name: g
  resources: two
  tasks:
  - {name: x, replicas: 3, resources: one, command: ['x']}
tasks:
- group: g
- {name: outside, command: ['x']}
"""
    sched = InMemory(spec_of(text, 2))
    sched.start_roots()
    sched.settle()
    # g took both cores: its replicas run inside (one core each, two at once), outside waits
    assert sched.started == [("g/x", 0), ("g/x", 1)]
    ends = sched.run()
    assert sched.started[-1] == ("outside", 0) and len(ends) == 4
