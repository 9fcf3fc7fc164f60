"""What one Flux job asks for, independent of how it is submitted (CLI or Python API).

A :class:`JobRequest` is computed once per submitted plan node; :mod:`jobspec_flux.render`
turns it into ``flux submit`` / ``flux batch`` arguments and :mod:`jobspec_flux.api_backend`
into a ``JobspecV1``. Keeping the decisions here means both paths submit the same job.

Decisions (also in ``jobspec_flux/README.md``):

* Resources: with ``a|b`` alternatives, the first that fits is used
  (:mod:`jobspec_core.alternatives`): for a top-level node, the instance's resources that
  are up (asked once before rendering, ``Transformer.capacity``; unknown in a plain
  ``jobspec transform``: the first, with a note); for a node inside a group, the group's
  allocation. Always decided when rendering: submit submits what was rendered. A task asks for
  ``-n slots -c cores_per_slot [-g gpus_per_slot] [-N nodes] [--exclusive]``; its command
  runs **once per instance** like on every other backend (the launcher exits at once on
  every Flux task rank but 0), so the job holds all the slots it asked for. A group asks for
  ``--nslots/--cores-per-slot/--gpus-per-slot [-N]``.
* Durations are whole seconds and always carry the unit: ``-t 300s`` (a bare number would be
  minutes to the Flux CLI). Inside a group, a task whose duration is not shorter than an
  enclosing group's gets no ``-t`` of its own: Flux refuses a job longer than the remaining
  lifetime of its instance, and the group's limit already stops it.
* Passthrough ``flux.KEY: VALUE``: ``queue``, ``bank``, ``urgency``, ``requires`` and
  ``exclusive`` become the flux-submit(1) options of the same name; ``setattr.K`` becomes
  ``--setattr=K=V``; ``setopt.K`` (or ``shell.K``) becomes ``--setopt=K=V``; any other key K
  becomes ``--setattr=K=V`` (a ``system.K`` job attribute) and a note says so.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from jobspec_core.alternatives import Capacity, choose_alternative, fitted
from jobspec_core.plan import PlanGroup, PlanNode, PlanTask, ResourceRequest

__all__ = [
    "NAMED_OPTIONS",
    "JobRequest",
    "passthrough_options",
    "option_value_text",
    "resource_request",
    "resource_fields",
    "of_totals",
]

#: flux.KEY passthrough keys that map to a flux-submit(1) option of the same name.
NAMED_OPTIONS = ("queue", "bank", "urgency", "requires", "exclusive")


@dataclass
class JobRequest:
    """One Flux job (a top-level task, a task inside a batch script, or a group's batch).

    :ivar node_id: the plan node it submits.
    :ivar kind: ``task`` (``flux submit``) or ``group`` (``flux batch``).
    :ivar command: argv run by the job (the launcher or the batch script, absolute paths).
    :ivar replicas: instances (``--cc=0-N-1`` when more than one).
    :ivar nodes: ``-N`` (0 when not asked for).
    :ivar slots: ``-n`` for a task, ``--nslots`` for a group.
    :ivar duration: seconds, or ``None``.
    :ivar cwd: the working directory (absolute).
    :ivar output: the log path; for replicas it holds ``{cc}``, replaced by the index.
    :ivar depends_on: sibling node ids (``afterok``).
    :ivar options: named options in order: ``(name, value)``, ``value`` ``None`` for a flag.
    :ivar setattr: / :ivar setopt: job attributes and shell options, in order.
    :ivar stage_names: archive names for ``-o stage-in.names=``.
    """

    node_id: str
    kind: Literal["task", "group"]
    command: list[str]
    replicas: int = 1
    nodes: int = 0
    slots: int = 1
    cores_per_slot: int = 1
    gpus_per_slot: int = 0
    exclusive: bool = False
    duration: int | None = None
    cwd: str = ""
    output: str = ""
    watch: bool = False
    depends_on: list[str] = field(default_factory=list)
    options: list[tuple[str, Any]] = field(default_factory=list)
    setattr: dict[str, Any] = field(default_factory=dict)
    setopt: dict[str, Any] = field(default_factory=dict)
    stage_names: list[str] = field(default_factory=list)
    #: for replicas at top level: where flux submit --log writes each replica's job id
    #: (``{cc}`` in it); the ids printed on stdout come in no particular order
    ids_file: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (``Submission.data``): what submit reads back instead of re-rendering."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobRequest:
        data = dict(data)
        data["options"] = [tuple(o) for o in data.get("options", [])]
        return cls(**data)

    @property
    def job_name(self) -> str:
        return self.node_id


def option_value_text(value: Any) -> str:
    """``VALUE`` text for ``--setattr=K=VALUE`` / ``--setopt=K=VALUE`` that Flux reads back as
    exactly ``value``: flux parses VALUE as JSON when it can (``"1"`` would become the number
    1), so a string that is valid JSON is written JSON-quoted, other strings as they are."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False)


def passthrough_options(
    passthrough: dict[str, Any], notes: list[str], node_id: str
) -> tuple[list[tuple[str, Any]], dict[str, Any], dict[str, Any]]:
    """Split ``flux.*`` passthrough options into named options, setattr and setopt maps."""
    options: list[tuple[str, Any]] = []
    setattr: dict[str, Any] = {}
    setopt: dict[str, Any] = {}
    for key, value in passthrough.items():
        head, dot, rest = key.partition(".")
        if key in NAMED_OPTIONS:
            if key == "exclusive":
                if value:
                    options.append(("exclusive", None))
            else:
                options.append((key, value if key == "urgency" else str(value)))
        elif head == "setattr" and dot and rest:
            setattr[rest] = value
        elif head in ("setopt", "shell") and dot and rest:
            setopt[rest] = value
        else:
            setattr[key] = value
            notes.append(
                f"{node_id}: flux.{key} is not a flux-submit option jobspec knows; "
                f"passed as --setattr={key}=... (job attribute system.{key})"
            )
    return options, setattr, setopt


def resource_fields(request: ResourceRequest) -> dict[str, Any]:
    """The :class:`JobRequest` resource fields of one plan resource alternative."""
    return {
        "nodes": request.nodes,
        "slots": max(request.slots, request.nodes, 1),
        "cores_per_slot": max(request.cores_per_slot, 1),
        "gpus_per_slot": request.gpus_per_slot,
        "exclusive": request.exclusive,
    }


def of_totals(nodes: int, cores: int, gpus: int = 0) -> Capacity:
    """A Flux instance's (or a batch allocation's) totals as a core
    :class:`~jobspec_core.alternatives.Capacity`: ``nodes`` nodes sharing the cores and
    gpus evenly."""
    nodes = max(nodes, 1)
    return Capacity(cores_per_node=cores // nodes, gpus_per_node=gpus // nodes, nodes=nodes)


def resource_request(
    node: PlanNode, notes: list[str], capacity: Capacity | None = None
) -> dict[str, Any]:
    """The resource fields of a :class:`JobRequest`: the first alternative fitting
    ``capacity`` (:func:`jobspec_core.alternatives.choose_alternative`; a group without
    resources: the sum of what its children use, :func:`~jobspec_core.alternatives.fitted`;
    ``None``: unknown, the first, with a note)."""
    chosen, note = choose_alternative(fitted(node, capacity), capacity)
    if note and capacity is None:
        notes.append(
            f"{node.id}: {len(node.resources.alternatives)} resource alternatives and the Flux "
            "instance's resources are unknown here: the first is rendered (jobspec run asks "
            "the instance first and renders the first that fits)"
        )
    elif note:
        notes.append(f"{node.id}: {note}")
    if chosen.memory_per_slot:
        notes.append(
            f"{node.id}: memory ({chosen.memory_per_slot} MiB per slot) has no flux-submit "
            "option and is not requested"
        )
    return resource_fields(chosen)


def kind_of(node: PlanNode) -> Literal["task", "group"]:
    """``group`` for a :class:`PlanGroup`, else ``task``."""
    return "group" if isinstance(node, PlanGroup) else "task"


def is_submitted(node: PlanNode) -> bool:
    """Whether the node becomes a Flux job (``local: true`` tasks are script lines)."""
    return not (isinstance(node, PlanTask) and node.local)
