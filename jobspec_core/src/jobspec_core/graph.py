"""Drawing a :class:`~jobspec_core.plan.Plan` as a graph: Graphviz DOT or Mermaid.

Pure functions of the plan; nothing is executed. Both forms draw the same thing:

* every group as a cluster (DOT ``subgraph cluster_...``) or a Mermaid ``subgraph``,
  nested as the groups nest, labelled ``group NAME`` and its resources;
* every task as a box labelled with its name (or ``task-N`` when unnamed), ``xN`` for
  replicas and a resources summary (:func:`resources_summary`); ``local: true`` entries,
  plain commands inside the allocation, are marked ``local`` (dashed in DOT, rounded in
  Mermaid) and show no resources;
* every ``depends_on`` as an edge from what must finish first to what waits for it;
* for a recorded run (``states``: task id -> instances per state), each task's states as
  a last label line (``3 completed, 1 failed``) and a fill colour, the worst state's
  (:data:`STATE_ORDER`): red for failures, grey for never run, blue for running...
  An edge to or from a group ends at the group's cluster: in DOT each group has one
  invisible anchor node (named by the group's id) and the edge carries ``lhead``/``ltail``
  with ``compound=true``; in Mermaid a subgraph can itself be an edge's end.

Node names in DOT are the plan ids, quoted (ids contain ``/``, ``-`` and ``.``). Mermaid
ids must be plain words, so nodes are numbered (``n0``, ``n1``...) and a comment line
``%% n3 = mini-mummi/train`` ties each number to its plan id.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from .plan import Plan, PlanGroup, PlanNode, ResourceRequest, Resources

__all__ = [
    "FORMATS",
    "STATE_ORDER",
    "STATE_COLORS",
    "States",
    "state_summary",
    "worst_state",
    "resources_summary",
    "node_label",
    "plan_edges",
    "to_dot",
    "to_mermaid",
    "render_graph",
]

#: the formats :func:`render_graph` knows, the first is the CLI's default.
FORMATS = ("dot", "mermaid")

#: task id -> number of its instances in each state (state names of ``TaskState``)
States = Mapping[str, Mapping[str, int]]

#: states from the one that most needs a look to the least: a task is coloured by the
#: first of these that any of its instances is in.
STATE_ORDER = (
    "failed",
    "timeout",
    "lost",
    "cancelled",
    "never_run",
    "unknown",
    "running",
    "pending",
    "completed",
)
#: fill colours (X11 names, which both Graphviz and Mermaid know)
STATE_COLORS = {
    "failed": "salmon",
    "timeout": "salmon",
    "lost": "salmon",
    "cancelled": "khaki",
    "never_run": "lightgrey",
    "unknown": "white",
    "running": "lightskyblue",
    "pending": "white",
    "completed": "palegreen",
}


def worst_state(counts: Mapping[str, int]) -> str | None:
    """The first state of :data:`STATE_ORDER` that has an instance, or ``None``."""
    for state in STATE_ORDER:
        if counts.get(state):
            return state
    return next((s for s, n in counts.items() if n), None)


def state_summary(counts: Mapping[str, int]) -> str:
    """``completed`` for one instance; ``3 completed, 1 failed`` (worst first) for more."""
    present = [(s, n) for s, n in counts.items() if n]
    present.sort(key=lambda sn: STATE_ORDER.index(sn[0]) if sn[0] in STATE_ORDER else 99)
    if sum(n for _, n in present) == 1:
        return present[0][0]
    return ", ".join(f"{n} {s}" for s, n in present)


def _request_summary(request: ResourceRequest) -> str:
    """``2n x 4c`` (2 nodes of one slot with 4 cores), ``4 x 2c+1g``, ``1 x 1c``..."""
    per_slot = f"{request.cores_per_slot}c"
    if request.gpus_per_slot:
        per_slot += f"+{request.gpus_per_slot}g"
    if request.memory_per_slot:
        per_slot += f"+{request.memory_per_slot}MiB"
    if request.nodes and request.exclusive:
        text = f"{request.nodes}n (whole)"
    elif request.nodes and request.slots == request.nodes:
        text = f"{request.nodes}n x {per_slot}"
    elif request.nodes:
        text = f"{request.nodes}n, {request.slots} x {per_slot}"
    else:
        text = f"{request.slots} x {per_slot}"
    return f"{request.name}: {text}" if request.name else text


def resources_summary(resources: Resources) -> str:
    """A short text for a node's resources; alternatives joined by `` | ``."""
    return " | ".join(_request_summary(a) for a in resources.alternatives)


def _local_name(node: PlanNode) -> str:
    """The node's own name (``task-N`` for an unnamed task), without its groups' ids."""
    return node.name if node.name else node.id.rsplit("/", 1)[-1]


def node_label(node: PlanNode, states: States | None = None) -> list[str]:
    """The lines of a node's label (plain text, not yet escaped for any format); with
    ``states``, a task's line of instance states last."""
    if isinstance(node, PlanGroup):
        return [f"group {_local_name(node)}", resources_summary(node.resources)]
    first = _local_name(node)
    if node.replicas > 1:
        first += f" x{node.replicas}"
    # a local entry is a plain command inside the allocation: no resources of its own
    lines = [first, "local" if node.local else resources_summary(node.resources)]
    if states is not None and states.get(node.id):
        lines.append(state_summary(states[node.id]))
    return lines


def _fill(node: PlanNode, states: States | None) -> str | None:
    if states is None or isinstance(node, PlanGroup) or not states.get(node.id):
        return None
    return STATE_COLORS.get(worst_state(states[node.id]) or "", "white")


def plan_edges(plan: Plan) -> list[tuple[str, str]]:
    """Every dependency as ``(prerequisite id, dependent id)``, in plan order."""
    return [(dep, node.id) for node, _ in plan.walk() for dep in node.depends_on]


# -- DOT -------------------------------------------------------------------------------


def _dot_quote(text: str) -> str:
    """A DOT quoted ID: the only escape DOT knows in an ID is ``\\"``; other backslashes
    are kept as they are (a trailing one gets a space after it so that it cannot swallow
    the closing quote, and newlines become spaces, since an ID is one line)."""
    escaped = text.replace('"', '\\"').replace("\r", " ").replace("\n", " ")
    if escaped.endswith("\\"):
        escaped += " "
    return f'"{escaped}"'


def _dot_label(lines: list[str]) -> str:
    """A DOT label (an escString: ``\\\\`` is a backslash, ``\\n`` ends a centred line)."""
    text = "\n".join(lines).replace("\r\n", "\n").replace("\r", "\n")
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _dot_nodes(nodes: list[PlanNode], depth: int, states: States | None) -> Iterator[str]:
    pad = "  " * depth
    for node in nodes:
        if isinstance(node, PlanGroup):
            yield f"{pad}subgraph {_dot_quote('cluster_' + node.id)} {{"
            yield f"{pad}  label={_dot_label(node_label(node))};"
            yield f"{pad}  style=rounded;"
            # The anchor: edges to or from the group end on it and are clipped to the cluster.
            yield (
                f"{pad}  {_dot_quote(node.id)} "
                '[shape=point, style=invis, width=0, height=0, label=""];'
            )
            yield from _dot_nodes(node.children, depth + 1, states)
            yield f"{pad}}}"
        else:
            attrs = [f"label={_dot_label(node_label(node, states))}"]
            fill = _fill(node, states)
            style = ",".join((["dashed"] if node.local else []) + (["filled"] if fill else []))
            if style:
                attrs.append(f"style={_dot_quote(style) if ',' in style else style}")
            if fill:
                attrs.append(f"fillcolor={fill}")
            if node.replicas > 1:
                attrs.append("peripheries=2")
            yield f"{pad}{_dot_quote(node.id)} [{', '.join(attrs)}];"


def to_dot(plan: Plan, states: States | None = None) -> str:
    """The plan as a Graphviz ``digraph`` (text ending with a newline); ``states`` colours
    the tasks of a recorded run."""
    kinds = {node.id: node for node, _ in plan.walk()}
    lines = [
        f"digraph {_dot_quote(plan.name)} {{",
        "  compound=true;",
        f"  label={_dot_label(['jobspec ' + plan.name])};",
        "  labelloc=t;",
        '  graph [fontname="Helvetica"];',
        '  node [shape=box, fontname="Helvetica"];',
    ]
    lines.extend(_dot_nodes(plan.children, 1, states))
    for tail, head in plan_edges(plan):
        attrs = []
        if isinstance(kinds.get(tail), PlanGroup):
            attrs.append(f"ltail={_dot_quote('cluster_' + tail)}")
        if isinstance(kinds.get(head), PlanGroup):
            attrs.append(f"lhead={_dot_quote('cluster_' + head)}")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {_dot_quote(tail)} -> {_dot_quote(head)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- Mermaid ---------------------------------------------------------------------------

_MERMAID_ENTITIES = {
    "#": "#35;",
    "&": "#amp;",
    '"': "#quot;",
    "<": "#lt;",
    ">": "#gt;",
    "`": "#96;",
}


def _mermaid_text(text: str) -> str:
    """Escape one label line for a Mermaid ``"..."`` label (entity codes, no raw HTML)."""
    return "".join(_MERMAID_ENTITIES.get(ch, ch) for ch in text.replace("\n", " "))


def _mermaid_label(lines: list[str]) -> str:
    return '"' + "<br/>".join(_mermaid_text(line) for line in lines) + '"'


def to_mermaid(plan: Plan, states: States | None = None) -> str:
    """The plan as a Mermaid ``flowchart`` (text ending with a newline); ``states`` colours
    the tasks of a recorded run (one ``classDef`` per state used)."""
    ids: dict[str, str] = {}
    for number, (node, _) in enumerate(plan.walk()):
        ids[node.id] = f"n{number}"
    lines = ["flowchart TD", f"  %% jobspec {_mermaid_text(plan.name)}"]
    for node, _ in plan.walk():
        lines.append(f"  %% {ids[node.id]} = {_mermaid_text(node.id)}")

    def emit(nodes: list[PlanNode], depth: int) -> None:
        pad = "  " * depth
        for node in nodes:
            if isinstance(node, PlanGroup):
                lines.append(f"{pad}subgraph {ids[node.id]} [{_mermaid_label(node_label(node))}]")
                emit(node.children, depth + 1)
                lines.append(f"{pad}end")
            else:
                # stadium shape for local entries, box for submitted tasks
                left, right = ("([", "])") if node.local else ("[", "]")
                label = _mermaid_label(node_label(node, states))
                lines.append(f"{pad}{ids[node.id]}{left}{label}{right}")

    emit(plan.children, 1)
    for tail, head in plan_edges(plan):
        lines.append(f"  {ids[tail]} --> {ids[head]}")
    if states is not None:
        by_state: dict[str, list[str]] = {}
        for node in plan.tasks():
            if states.get(node.id):
                by_state.setdefault(worst_state(states[node.id]) or "unknown", []).append(node.id)
        for state, members in by_state.items():
            lines.append(f"  classDef {state} fill:{STATE_COLORS.get(state, 'white')}")
            lines.append(f"  class {','.join(ids[m] for m in members)} {state}")
    return "\n".join(lines) + "\n"


def render_graph(plan: Plan, fmt: str = "dot", states: States | None = None) -> str:
    """The plan in ``fmt`` (one of :data:`FORMATS`); ``ValueError`` for another name."""
    if fmt == "dot":
        return to_dot(plan, states)
    if fmt == "mermaid":
        return to_mermaid(plan, states)
    raise ValueError(f"unknown graph format {fmt!r}; expected one of {', '.join(FORMATS)}")
