"""``jobspec graph``: every node and every edge of a plan is drawn, in DOT and in Mermaid.

The outputs are parsed back strictly (every line must be a known statement) and compared
with sets written by hand from the fixture, so a dropped node, a lost edge or a group drawn
outside its parent fails. Where Graphviz is installed its own parser checks the DOT too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jobspec_core.api import load_plan
from jobspec_core.cli.main import main
from jobspec_core.plan import PlanGroup
from jobspec_core.planner import build_plan

from jobspec_core import graph

EXAMPLES = Path(__file__).resolve().parents[2] / "spec" / "examples"

# The mini-mummi workflow of the draft spec, made valid and a little richer: a group in a
# group, replicas, alternatives, local service start/stop, and dependencies into, out of and
# between groups (names with '-' and '.').
MINI_MUMMI = """\
version: 1
name: mini-mummi
resources:
  mini-mummi:
    type: node
    count: 8
    with:
    - {type: gpu, count: 2}
    - {type: core, count: 4}
  mummi-gpu:
    type: node
    count: 2
    with:
    - {type: gpu, count: 1}
  mummi-cpu:
    type: node
    count: 2
    with:
    - {type: core, count: 4}
groups:
- name: mini-mummi
  resources: mini-mummi
  tasks:
  - local: true
    command: [kubectl, apply, -f, ./task-queue.yaml]
  - group: train
  - name: test
    replicas: 20
    resources: mummi-cpu|mummi-gpu
    depends_on: [train]
    command: [bash, -c, 'ml-test -o "./test.json" --host http://localhost:8080']
  - local: true
    depends_on: [test]
    command: [kubectl, delete, -f, ./task-queue.yaml]
- name: train
  resources: mummi-gpu
  tasks:
  - name: train
    command: [bash, -c, ml-train -o train.json]
  - name: save.artifact
    depends_on: [train]
    command: [compspec, save-artifact, ./train.json]
tasks:
- name: prepare.data
  command: echo prepare
- group: mini-mummi
  depends_on: [prepare.data]
- name: report
  depends_on: [mini-mummi]
  command: echo done
"""

GROUPS = {"mini-mummi", "mini-mummi/train"}
TASKS = {
    "prepare.data",
    "mini-mummi/task-0",
    "mini-mummi/train/train",
    "mini-mummi/train/save.artifact",
    "mini-mummi/test",
    "mini-mummi/task-3",
    "report",
}
EDGES = {
    ("prepare.data", "mini-mummi"),
    ("mini-mummi/train", "mini-mummi/test"),
    ("mini-mummi/train/train", "mini-mummi/train/save.artifact"),
    ("mini-mummi/test", "mini-mummi/task-3"),
    ("mini-mummi", "report"),
}
# node id -> the chain of groups around it, outermost first
PARENTS = {
    "prepare.data": [],
    "report": [],
    "mini-mummi/task-0": ["mini-mummi"],
    "mini-mummi/test": ["mini-mummi"],
    "mini-mummi/task-3": ["mini-mummi"],
    "mini-mummi/train/train": ["mini-mummi", "mini-mummi/train"],
    "mini-mummi/train/save.artifact": ["mini-mummi", "mini-mummi/train"],
}


@pytest.fixture
def mini_mummi(tmp_path: Path) -> Path:
    path = tmp_path / "mini-mummi.yaml"
    path.write_text(MINI_MUMMI)
    return path


# -- strict parsers of our own output --------------------------------------------------

_DQ = r'"((?:[^"\\]|\\.)*)"'


def _dot_unquote(text: str) -> str:
    """A DOT ID: ``\\"`` is the only escape."""
    return text.replace('\\"', '"')


def _dot_unlabel(text: str) -> str:
    """A DOT label (escString): ``\\\\``, ``\\"`` and ``\\n``."""
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def parse_dot(text: str) -> dict:
    """Nodes (id -> attribute text and cluster chain), clusters, edges (with attributes)."""
    lines = text.splitlines()
    assert lines[0].startswith("digraph ") and lines[0].endswith("{"), lines[0]
    assert lines[-1] == "}"
    stack: list[str] = []
    nodes: dict[str, dict] = {}
    clusters: dict[str, dict] = {}
    edges: dict[tuple[str, str], str] = {}
    for line in lines[1:-1]:
        s = line.strip()
        if m := re.fullmatch(r"subgraph " + _DQ + r" \{", s):
            name = _dot_unquote(m.group(1))
            assert name.startswith("cluster_")
            clusters[name[len("cluster_") :]] = {"parents": list(stack)}
            stack.append(name[len("cluster_") :])
        elif s == "}":
            stack.pop()
        elif m := re.fullmatch(_DQ + " -> " + _DQ + r"(?: \[(.*)\])?;", s):
            key = (_dot_unquote(m.group(1)), _dot_unquote(m.group(2)))
            assert key not in edges, f"edge drawn twice: {key}"
            edges[key] = m.group(3) or ""
        elif m := re.fullmatch(_DQ + r" \[(.*)\];", s):
            node_id = _dot_unquote(m.group(1))
            assert node_id not in nodes, f"node drawn twice: {node_id}"
            label = re.search(r"label=" + _DQ, m.group(2))
            nodes[node_id] = {
                "attrs": m.group(2),
                "label": _dot_unlabel(label.group(1)) if label else None,
                "parents": list(stack),
            }
        elif m := re.fullmatch(r"label=" + _DQ + ";", s):
            if stack:
                clusters[stack[-1]]["label"] = _dot_unlabel(m.group(1))
        elif re.fullmatch(r"(compound=true|labelloc=t|style=rounded|(node|graph) \[.*\]);", s):
            pass
        else:
            raise AssertionError(f"unexpected DOT line: {line!r}")
    assert not stack, "unbalanced subgraph braces"
    return {"nodes": nodes, "clusters": clusters, "edges": edges}


def _mermaid_unescape(text: str) -> str:
    for code, ch in (("#quot;", '"'), ("#lt;", "<"), ("#gt;", ">"), ("#96;", "`")):
        text = text.replace(code, ch)
    return text.replace("#amp;", "&").replace("#35;", "#")


def parse_mermaid(text: str) -> dict:
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    ids: dict[str, str] = {}
    stack: list[str] = []
    nodes: dict[str, dict] = {}
    subgraphs: dict[str, dict] = {}
    edges: set[tuple[str, str]] = set()
    label_re = r'"([^"]*)"'
    for line in lines[1:]:
        s = line.strip()
        if m := re.fullmatch(r"%% (n\d+) = (.*)", s):
            ids[m.group(1)] = _mermaid_unescape(m.group(2))
        elif s.startswith("%% "):
            pass
        elif m := re.fullmatch(r"subgraph (n\d+) \[" + label_re + r"\]", s):
            subgraphs[m.group(1)] = {"parents": list(stack), "label": m.group(2)}
            stack.append(m.group(1))
        elif s == "end":
            stack.pop()
        elif m := re.fullmatch(r"(n\d+) --> (n\d+)", s):
            assert (m.group(1), m.group(2)) not in edges
            edges.add((m.group(1), m.group(2)))
        elif m := re.fullmatch(r"(n\d+)(\[|\(\[)" + label_re + r"(\]|\]\))", s):
            assert m.group(1) not in nodes
            nodes[m.group(1)] = {
                "parents": list(stack),
                "label": m.group(3),
                "local": m.group(2) == "([",
            }
        else:
            raise AssertionError(f"unexpected Mermaid line: {line!r}")
    assert not stack, "unbalanced subgraph/end"

    def real(n: str) -> str:
        return ids[n]

    return {
        "nodes": {
            real(n): {**v, "parents": [real(p) for p in v["parents"]]} for n, v in nodes.items()
        },
        "subgraphs": {
            real(n): {**v, "parents": [real(p) for p in v["parents"]]} for n, v in subgraphs.items()
        },
        "edges": {(real(a), real(b)) for a, b in edges},
    }


# -- the mini-mummi example -----------------------------------------------------------


def test_dot_draws_every_node_edge_and_cluster(mini_mummi: Path):
    out = graph.to_dot(load_plan(mini_mummi))
    parsed = parse_dot(out)
    # every task is a node; every group is a cluster with one anchor node named by its id
    assert set(parsed["nodes"]) == TASKS | GROUPS
    assert set(parsed["clusters"]) == GROUPS
    assert parsed["clusters"]["mini-mummi"]["parents"] == []
    assert parsed["clusters"]["mini-mummi/train"]["parents"] == ["mini-mummi"]
    for group in GROUPS:
        assert "style=invis" in parsed["nodes"][group]["attrs"]
        assert parsed["nodes"][group]["parents"] == parsed["clusters"][group]["parents"] + [group]
    for task, parents in PARENTS.items():
        assert parsed["nodes"][task]["parents"] == parents, task
    assert set(parsed["edges"]) == EDGES
    # edges to or from a group end at its cluster
    assert parsed["edges"][("prepare.data", "mini-mummi")] == 'lhead="cluster_mini-mummi"'
    assert parsed["edges"][("mini-mummi", "report")] == 'ltail="cluster_mini-mummi"'
    assert parsed["edges"][("mini-mummi/train", "mini-mummi/test")] == (
        'ltail="cluster_mini-mummi/train"'
    )
    assert parsed["edges"][("mini-mummi/test", "mini-mummi/task-3")] == ""
    assert "compound=true;" in out


def test_dot_labels_show_name_replicas_local_and_resources(mini_mummi: Path):
    parsed = parse_dot(graph.to_dot(load_plan(mini_mummi)))
    nodes, clusters = parsed["nodes"], parsed["clusters"]
    assert nodes["mini-mummi/test"]["label"].splitlines() == [
        "test x20",
        "mummi-cpu: 2n x 4c | mummi-gpu: 2n x 1c+1g",
    ]
    assert nodes["mini-mummi/task-0"]["label"].splitlines() == ["task-0", "local"]
    assert "style=dashed" in nodes["mini-mummi/task-0"]["attrs"]
    # a task without resources in a group with resources inherits them
    assert nodes["mini-mummi/train/train"]["label"].splitlines() == [
        "train",
        "mummi-gpu: 2n x 1c+1g",
    ]
    assert nodes["prepare.data"]["label"].splitlines() == ["prepare.data", "1 x 1c"]
    assert clusters["mini-mummi"]["label"].splitlines() == [
        "group mini-mummi",
        "mini-mummi: 8n x 4c+2g",
    ]


def test_mermaid_draws_every_node_edge_and_subgraph(mini_mummi: Path):
    parsed = parse_mermaid(graph.to_mermaid(load_plan(mini_mummi)))
    assert set(parsed["nodes"]) == TASKS
    assert set(parsed["subgraphs"]) == GROUPS
    assert parsed["subgraphs"]["mini-mummi/train"]["parents"] == ["mini-mummi"]
    for task, parents in PARENTS.items():
        assert parsed["nodes"][task]["parents"] == parents, task
    assert parsed["edges"] == EDGES
    assert parsed["nodes"]["mini-mummi/task-3"]["local"]
    assert not parsed["nodes"]["mini-mummi/test"]["local"]
    assert parsed["nodes"]["mini-mummi/test"]["label"].startswith("test x20<br/>")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_graphviz_parses_the_dot_output(mini_mummi: Path):
    out = graph.to_dot(load_plan(mini_mummi))
    done = subprocess.run(
        ["dot", "-Tjson0"], input=out, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    objects = data["objects"]
    names = {o["name"] for o in objects if "nodes" not in o and "subgraphs" not in o}
    assert names == TASKS | GROUPS
    cluster_names = {o["name"] for o in objects if "nodes" in o or "subgraphs" in o}
    assert cluster_names == {"cluster_" + g for g in GROUPS}
    by_index = {o["_gvid"]: o["name"] for o in objects}
    drawn = {(by_index[e["tail"]], by_index[e["head"]]) for e in data.get("edges", [])}
    assert drawn == EDGES
    assert not done.stderr.strip(), done.stderr  # no warnings (e.g. about lhead/ltail)


def test_the_spec_mini_mummi_example_draws_every_node_and_edge(capsys):
    """Done-means 4, on the example the spec ships (sets written from the file by hand)."""
    example = EXAMPLES / "mini-mummi.yaml"
    assert example.exists(), "spec/examples/mini-mummi.yaml is missing"
    groups = {"mini-mummi", "mini-mummi/train"}
    tasks = {
        "mini-mummi/start-queue",
        "mini-mummi/train/train",
        "mini-mummi/test",
        "mini-mummi/stop-queue",
    }
    edges = {("mini-mummi/train", "mini-mummi/test"), ("mini-mummi/test", "mini-mummi/stop-queue")}
    assert main(["graph", str(example)]) == 0
    dot = parse_dot(capsys.readouterr().out)
    assert set(dot["nodes"]) == tasks | groups
    assert set(dot["clusters"]) == groups
    assert dot["clusters"]["mini-mummi/train"]["parents"] == ["mini-mummi"]
    assert dot["nodes"]["mini-mummi/train/train"]["parents"] == ["mini-mummi", "mini-mummi/train"]
    assert set(dot["edges"]) == edges
    assert dot["nodes"]["mini-mummi/test"]["label"].splitlines()[0] == "test x4"
    assert main(["graph", "--format", "mermaid", str(example)]) == 0
    mermaid = parse_mermaid(capsys.readouterr().out)
    assert set(mermaid["nodes"]) == tasks and set(mermaid["subgraphs"]) == groups
    assert mermaid["edges"] == edges
    assert mermaid["nodes"]["mini-mummi/start-queue"]["local"]


# -- escaping ---------------------------------------------------------------------------

AWKWARD = 'say "hi" \\ <b>#1</b> & `x`'


def _awkward_plan():
    """A plan (built without validation) whose names need quoting in both formats."""
    doc = {
        "version": 1,
        "name": 'odd "plan"',
        "groups": [{"name": 'g"1', "tasks": [{"name": AWKWARD, "command": "true"}]}],
        "tasks": [
            {"name": "a-b.c", "command": "true"},
            {"group": 'g"1', "depends_on": ["a-b.c"]},
            {"name": "end", "depends_on": ['g"1'], "command": "true"},
        ],
    }
    return build_plan(doc, "odd.yaml")


def test_dot_quotes_ids_and_labels():
    parsed = parse_dot(graph.to_dot(_awkward_plan()))
    assert set(parsed["nodes"]) == {"a-b.c", 'g"1', f'g"1/{AWKWARD}', "end"}
    assert parsed["nodes"][f'g"1/{AWKWARD}']["label"].splitlines()[0] == AWKWARD
    assert set(parsed["edges"]) == {("a-b.c", 'g"1'), ('g"1', "end")}


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_graphviz_reads_awkward_names_back():
    done = subprocess.run(
        ["dot", "-Tjson0"],
        input=graph.to_dot(_awkward_plan()),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    names = {o["name"] for o in json.loads(done.stdout)["objects"]}
    assert f'g"1/{AWKWARD}' in names and 'cluster_g"1' in names
    labels = {o.get("label") for o in json.loads(done.stdout)["objects"]}
    # Graphviz reports labels as escStrings: backslash doubled, \n for the line break
    assert AWKWARD.replace("\\", "\\\\") + "\\n1 x 1c" in labels


def test_mermaid_escapes_labels_and_uses_plain_ids():
    out = graph.to_mermaid(_awkward_plan())
    parsed = parse_mermaid(out)  # strict: a stray quote would break a line's pattern
    label = parsed["nodes"][f'g"1/{AWKWARD}']["label"]
    assert _mermaid_unescape(label.split("<br/>")[0]) == AWKWARD
    assert "<b>" not in out and "`" not in out
    # 'end' is a Mermaid keyword: it must never be used as an id
    assert not re.search(r"^\s*end\[", out, re.M)
    assert parsed["edges"] == {("a-b.c", 'g"1'), ('g"1', "end")}


def test_resources_summary_forms():
    plan = build_plan(
        {
            "version": 1,
            "tasks": [
                {
                    "name": "slots",
                    "command": "true",
                    "resources": {
                        "type": "node",
                        "count": 2,
                        "with": [
                            {
                                "type": "slot",
                                "count": 4,
                                "with": [{"type": "core", "count": 2}, {"type": "gpu"}],
                            }
                        ],
                    },
                },
                {"name": "whole", "command": "true", "resources": {"type": "node", "count": 3}},
                {"name": "cores", "command": "true", "resources": {"type": "core", "count": 6}},
            ],
        }
    )
    summaries = {t.id: graph.resources_summary(t.resources) for t in plan.tasks()}
    assert summaries == {"slots": "2n, 8 x 2c+1g", "whole": "3n (whole)", "cores": "1 x 6c"}


# -- the command ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["dot", "mermaid"])
def test_cli_graph_prints_the_format(mini_mummi: Path, capsys, fmt):
    assert main(["graph", "--format", fmt, str(mini_mummi)]) == 0
    out = capsys.readouterr().out
    parser = parse_dot if fmt == "dot" else parse_mermaid
    assert set(parser(out)["edges"]) == EDGES


def test_cli_graph_default_is_dot(mini_mummi: Path, capsys):
    assert main(["graph", str(mini_mummi)]) == 0
    assert capsys.readouterr().out.startswith('digraph "mini-mummi" {')


def test_cli_graph_invalid_document_exits_2_without_traceback(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks:\n- command: [true\n")
    done = subprocess.run(
        [sys.executable, "-m", "jobspec_core", "graph", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert str(bad) in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_cli_formats_are_the_graph_modules():
    from jobspec_core.cli import graph_cmd
    from jobspec_core.graphviz import IMAGE_FORMATS

    assert graph_cmd.TEXT_FORMATS == graph.FORMATS
    assert graph_cmd.IMAGE_FORMATS == IMAGE_FORMATS


def test_cli_graph_unknown_format_is_a_usage_error(mini_mummi: Path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["graph", "--format", "gif", str(mini_mummi)])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_spec_example_draws_all_its_nodes_and_edges(example: Path):
    plan = load_plan(example)
    want_nodes = {node.id for node, _ in plan.walk()}
    want_edges = {(dep, node.id) for node, _ in plan.walk() for dep in node.depends_on}
    dot = parse_dot(graph.to_dot(plan))
    assert set(dot["nodes"]) == want_nodes
    assert set(dot["edges"]) == want_edges
    mermaid = parse_mermaid(graph.to_mermaid(plan))
    assert set(mermaid["nodes"]) | set(mermaid["subgraphs"]) == want_nodes
    assert mermaid["edges"] == want_edges


# -- pictures (Graphviz's dot) and recorded runs ------------------------------------------

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get install graphviz)"
)


def _cli(*args: str, env: dict | None = None, cwd: Path | None = None):
    return subprocess.run(
        [sys.executable, "-m", "jobspec_core", *args],
        capture_output=True,
        timeout=120,
        check=False,
        env=env,
        cwd=cwd,
    )


def _svg_graph(svg: bytes) -> dict:
    """Nodes, clusters and edges of a Graphviz SVG, by their <title> (DOT names)."""
    import xml.etree.ElementTree as ET

    ns = {"svg": "http://www.w3.org/2000/svg"}
    root = ET.fromstring(svg)
    found: dict[str, set] = {"node": set(), "cluster": set(), "edge": set()}
    for g in root.iter("{http://www.w3.org/2000/svg}g"):
        kind = g.get("class")
        title = g.find("svg:title", ns)
        if kind in found and title is not None:
            found[kind].add(title.text)
    found["edge"] = {tuple(e.split("->")) for e in found["edge"]}
    found["text"] = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    return found


@needs_dot
def test_svg_of_the_spec_mini_mummi_holds_every_node_and_edge():
    example = EXAMPLES / "mini-mummi.yaml"
    done = _cli("graph", "--format", "svg", str(example))
    assert done.returncode == 0, done.stderr
    plan = load_plan(example)
    drawn = _svg_graph(done.stdout)
    groups = {n.id for n, _ in plan.walk() if isinstance(n, PlanGroup)}
    tasks = {t.id for t in plan.tasks()}
    # each task is a node, each group a cluster (its anchor node is invisible: not drawn)
    assert drawn["node"] == tasks
    assert drawn["cluster"] == {f"cluster_{g}" for g in groups}
    assert drawn["edge"] == set(graph.plan_edges(plan))
    assert drawn["edge"]  # the example has dependencies
    assert "test x4" in drawn["text"]  # replicas are shown


@needs_dot
def test_png_is_written_to_a_file_and_to_a_pipe(tmp_path: Path):
    example = EXAMPLES / "mini-mummi.yaml"
    out = tmp_path / "mini.png"
    done = _cli("graph", "--format", "png", "-o", str(out), str(example))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert b"wrote" in done.stderr
    piped = _cli("graph", "-f", "png", str(example))
    assert piped.returncode == 0 and piped.stdout.startswith(b"\x89PNG")


@needs_dot
def test_output_suffix_picks_the_format(tmp_path: Path):
    example = EXAMPLES / "mini-mummi.yaml"
    for name, start in (("g.svg", b"<?xml"), ("g.dot", b"digraph"), ("g.mmd", b"flowchart")):
        done = _cli("graph", "-o", str(tmp_path / name), str(example))
        assert done.returncode == 0, done.stderr
        assert (tmp_path / name).read_bytes().startswith(start), name


def test_missing_dot_is_a_clear_error(tmp_path: Path):
    env = dict(os.environ, PATH=str(tmp_path))  # no dot there
    done = _cli("graph", "--format", "svg", str(EXAMPLES / "mini-mummi.yaml"), env=env)
    err = done.stderr.decode()
    assert done.returncode == 1
    assert "Graphviz's `dot` program is not on PATH" in err
    assert "apt-get install graphviz" in err and "--format dot" in err
    assert "Traceback" not in err and done.stdout == b""


def test_neither_file_nor_run_is_a_usage_error(tmp_path: Path):
    env = dict(os.environ, JOBSPEC_STORE=str(tmp_path / "none" / "runs.sqlite"))
    done = _cli("graph", "no-such-thing", env=env)
    assert done.returncode == 2
    assert "no file 'no-such-thing'" in done.stderr.decode()
    assert not (tmp_path / "none").exists()  # looking did not create a store


FAILING = """\
version: 1
name: failing
tasks:
- name: ok
  replicas: 3
  command: ["true"]
- name: broken
  command: ["false"]
- name: after
  depends_on: [broken]
  command: ["true"]
"""


def test_graph_of_a_recorded_run_shows_replicas_and_states(tmp_path: Path):
    pytest.importorskip("jobspec_local", reason="runs are recorded through the local backend")
    env = dict(os.environ, JOBSPEC_STORE=str(tmp_path / "state" / "runs.sqlite"))
    env.pop("JOBSPEC_TRANSFORMER", None)
    job = tmp_path / "failing.yaml"
    job.write_text(FAILING)
    ran = _cli("run", str(job), env=env, cwd=tmp_path)
    assert ran.returncode == 1, ran.stderr
    job.write_text(FAILING.replace("name: after", "name: renamed"))  # the run keeps its plan
    done = _cli("graph", "latest", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    nodes = parse_dot(done.stdout.decode())["nodes"]
    assert set(nodes) == {"ok", "broken", "after"}
    assert nodes["ok"]["label"].splitlines() == ["ok x3", "1 x 1c", "3 completed"]
    assert "fillcolor=palegreen" in nodes["ok"]["attrs"]
    assert nodes["broken"]["label"].endswith("\nfailed")
    assert "fillcolor=salmon" in nodes["broken"]["attrs"]
    assert nodes["after"]["label"].endswith("\nnever_run")
    assert "fillcolor=lightgrey" in nodes["after"]["attrs"]
    mermaid = _cli("graph", "--format", "mermaid", "latest", env=env, cwd=tmp_path)
    text = mermaid.stdout.decode()
    assert "classDef failed fill:salmon" in text and "classDef never_run" in text


def test_states_pick_the_worst_colour():
    assert graph.worst_state({"completed": 9, "failed": 1}) == "failed"
    assert graph.worst_state({"completed": 2, "running": 1}) == "running"
    assert graph.worst_state({}) is None
    assert graph.state_summary({"completed": 9, "failed": 1}) == "1 failed, 9 completed"
    assert graph.state_summary({"running": 1}) == "running"


def test_readme_shows_the_mini_mummi_picture():
    root = EXAMPLES.parents[1]
    readme = (root / "README.md").read_text()
    assert "](docs/images/mini-mummi.svg)" in readme
    drawn = _svg_graph((root / "docs" / "images" / "mini-mummi.svg").read_bytes())
    plan = load_plan(EXAMPLES / "mini-mummi.yaml")
    assert drawn["node"] == {t.id for t in plan.tasks()}
    assert drawn["edge"] == set(graph.plan_edges(plan))


def test_a_run_keeps_its_plan_with_or_without_a_source_file(tmp_path: Path):
    """A file's run keeps a copy of the file; a plan made in memory is kept as JSON; both
    come back as the plan that was submitted."""
    pytest.importorskip("jobspec_local", reason="runs are recorded through the local backend")
    from jobspec_core.runner import PLAN_FILE, SOURCE_FILE, Runner
    from jobspec_core.store import RunStore

    from jobspec_core import api

    runner = Runner(RunStore(tmp_path / "runs.sqlite"))
    job = tmp_path / "job.yaml"
    job.write_text(FAILING)
    from_file = api.load_plan(job)
    in_memory = api.plan(api.load_text(FAILING.encode(), "<memory>"))
    in_memory.source = None
    ids = [runner.submit(p, "local", workdir=tmp_path) for p in (from_file, in_memory)]
    for run_id in ids:
        runner.wait(run_id, timeout=60)
    kept = [
        sorted(p.name for p in Path(runner.store.get_run(i).run_dir).glob("jobspec-*")) for i in ids
    ]
    assert kept == [[SOURCE_FILE], [PLAN_FILE]]
    for run_id, submitted in zip(ids, (from_file, in_memory), strict=True):
        assert runner.plan_of(run_id).to_dict() == submitted.to_dict()
