"""A mutation fuzzer over the YAML text of every example and every corpus case (issue 11).

Each mutant is one example (``spec/examples``) or bad-input case (``malformed/``) with one
change to its text: a single scalar swapped for a hard value (an unreadable tag, a huge
number, a control character, a path that escapes, a flow collection...), or a structural
change (a line deleted, duplicated, moved, re-indented, the text cut short, a line from
another document spliced in). For each mutant: load, validate and plan, then render with
the local, Slurm, Flux and Grid Engine transformers (render only: nothing runs). The only
exceptions allowed are the project's own (:class:`~jobspec_core.errors.JobspecError` and
its subclasses, each with a message); :class:`InvalidJobspec` problems must name the file
and a line or a document path. Anything else is a crash, the defect this test exists for.

Hypothesis is derandomized (a fixed sequence: the same mutants on every run, so CI is
reproducible and bounded in time); at least 2,000 mutants run (:data:`MUTANTS`).
"""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobspec_core.errors import InvalidJobspec, JobspecError
from jobspec_core.plan import Plan
from jobspec_core.plugins import get_registry
from jobspec_core.transformer import RunContext

from jobspec_core import api

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "spec" / "examples").glob("*.yaml"))
CORPUS = sorted((Path(__file__).parent / "malformed").glob("*.yaml"))


def _text(path: Path) -> str | None:
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError:
        return None
    return text if "\x00" not in text and len(text) < 100_000 else None


SOURCES = [t for t in (_text(p) for p in EXAMPLES + CORPUS) if t is not None]
EXAMPLE_TEXTS = SOURCES[: len(EXAMPLES)]
#: Mutants per test (two tests: scalar swaps and structural changes).
MUTANTS = {"scalars": 3000, "structure": 1500}
BACKENDS = ("local", "slurm", "flux", "sge")

HARD = [
    "!!int ''",
    "!!int '-'",
    '!!int "²"',
    "9" * 5000,
    "-" + "9" * 30,
    "!!bool maybe",
    "!!float ''",
    "0x" + "f" * 4000,
    "0b_",
    "!!timestamp junk",
    "!!binary junk",
    "!!null x",
    "!!str",
    "!!python/object:os.system x",
    "!local x",
    "1:30",
    "190:20:30.15",
    ".inf",
    "-.inf",
    ".nan",
    "1.0e+400",
    "1e400",
    "2001-12-14",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "0",
    "-1",
    "100001",
    "1000000001",
    "0.0000001",
    "yes",
    "off",
    "~",
    "null",
    "''",
    '""',
    "' '",
    '"a\\nb"',
    '"x\\n"',
    '"\\0"',
    '"a\\tb"',
    '"\\r"',
    '"\\x85"',
    '"\\u2028"',
    '"%j%%"',
    '"a\\\\b"',
    "'$(touch pwned)'",
    "'`id`'",
    '"it\'s"',
    "'#not a comment'",
    "'.'",
    "'..'",
    "'./x'",
    "'a//b'",
    "'/'",
    "'/etc/passwd'",
    "'../../x'",
    "'~'",
    "'~root'",
    "'~/x'",
    "'a|b'",
    "'|'",
    "'a|'",
    "'JOBSPEC_RUN_ID'",
    "slurm.partition",
    "'" + "x" * 10_000 + "'",
    "[]",
    "{}",
    "[a, b]",
    "[[[]]]",
    "{a: 1}",
    "{name: write, path: ., content: x}",
    "*nowhere",
    "&anchor x",
    "<<",
    "=",
    "'task-0'",
    "core",
    "node",
    "gpu",
    "memory",
]

_FAILURE_TYPES = (JobspecError,)


def _context(tmp: Path) -> RunContext:
    return RunContext("FUZZ", tmp / "run", tmp / "work", home=tmp / "home")


@lru_cache(maxsize=1)
def _transformers():
    registry = get_registry()
    return {name: registry.transformer(name) for name in BACKENDS}


def check(text: str, tmp: Path) -> str:
    """Validate, plan and render ``text``; returns how it ended. Raises AssertionError (or
    the unexpected exception itself) for a crash."""
    try:
        plan = api.plan(api.load_text(text, "fuzz.yaml"))
    except InvalidJobspec as exc:
        for problem in exc.problems:
            assert problem.message and problem.file == "fuzz.yaml", problem
            assert problem.line is not None or problem.path or problem.code, problem
            assert "\n" not in problem.format(), problem.format()
        return "invalid"
    data = plan.to_dict()
    text_form = json.dumps(data, allow_nan=False)  # a plan is JSON, strictly
    assert Plan.from_dict(json.loads(text_form)).to_dict() == data
    for name, transformer in _transformers().items():
        try:
            transformer.render(plan, _context(tmp))
        except _FAILURE_TYPES as exc:
            assert str(exc), f"{name}: {type(exc).__name__} without a message"
    return "valid"


@cache
def _scalar_spans(text: str) -> tuple[tuple[int, int], ...]:
    """(start, end) character offsets of every scalar of ``text`` that PyYAML can find."""
    spans = []
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if (
                isinstance(event, yaml.ScalarEvent)
                and event.end_mark.index > event.start_mark.index
            ):
                spans.append((event.start_mark.index, event.end_mark.index))
    except yaml.YAMLError:
        pass
    return tuple(spans)


WITH_SCALARS = [t for t in SOURCES if _scalar_spans(t)]


def _source(pool: list[str]):
    """A source text: half the time an example (valid, so its mutants reach the planner
    and every renderer), else any text of the pool (examples and corpus cases)."""
    return st.one_of(
        st.sampled_from([t for t in pool if t in EXAMPLE_TEXTS]), st.sampled_from(pool)
    )


@st.composite
def scalar_swaps(draw) -> str:
    text = draw(_source(WITH_SCALARS))
    start, end = draw(st.sampled_from(_scalar_spans(text)))
    value = draw(st.sampled_from(HARD))
    if text[start] in "[{" or "\n" in text[start:end]:
        value = value.replace("\n", " ")
    return text[:start] + value + text[end:]


@st.composite
def structural(draw) -> str:
    text = draw(_source(SOURCES))
    lines = text.splitlines(keepends=True) or ["\n"]
    i = draw(st.integers(0, len(lines) - 1))
    j = draw(st.integers(0, len(lines) - 1))
    action = draw(
        st.sampled_from(
            ["delete", "duplicate", "move", "indent", "dedent", "cut", "splice", "repeat", "tab"]
        )
    )
    if action == "delete":
        del lines[i]
    elif action == "duplicate":
        lines.insert(i, lines[i])
    elif action == "move":
        lines.insert(j, lines.pop(i))
    elif action == "indent":
        lines[i] = "  " + lines[i]
    elif action == "dedent":
        lines[i] = re.sub(r"^ {1,2}", "", lines[i])
    elif action == "cut":
        return text[: draw(st.integers(0, len(text)))]
    elif action == "splice":
        other = draw(st.sampled_from(SOURCES)).splitlines(keepends=True) or ["\n"]
        lines.insert(i, other[draw(st.integers(0, len(other) - 1))])
    elif action == "repeat":
        block = lines[i : i + draw(st.integers(1, 6))]
        lines[i:i] = block * draw(st.integers(1, 3))
    else:
        lines[i] = lines[i].replace("  ", "\t", 1)
    return "".join(lines)


def test_the_fuzzer_has_sources_and_runs_enough_mutants():
    assert len(EXAMPLES) >= 10 and len(SOURCES) >= len(EXAMPLES) + 80
    assert sum(MUTANTS.values()) >= 2000
    assert len(HARD) >= 60


@pytest.fixture(scope="module")
def tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@settings(
    max_examples=MUTANTS["scalars"],
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scalar_swaps())
def test_single_scalar_swaps_never_crash(tmp, text):
    check(text, tmp)


@settings(
    max_examples=MUTANTS["structure"],
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(structural())
def test_structural_mutations_never_crash(tmp, text):
    check(text, tmp)


@pytest.mark.parametrize("value", HARD)
def test_every_hard_value_in_every_scalar_place_of_one_example(tmp, value):
    """Each hard value in each scalar place of one example with steps (deterministic)."""
    text = (ROOT / "spec" / "examples" / "steps.yaml").read_text()
    for start, end in _scalar_spans(text):
        check(text[:start] + value.replace("\n", " ") + text[end:], tmp)
