"""Conformance case files (``*.jobspec-test.yaml``): loading, checking, the :class:`Case` record.

A case file is one YAML mapping checked against ``case.schema.json`` (shipped beside this
module) plus a few checks a schema cannot express (feature names exist, ``jobspec_file``
exists). Every problem names the case file and the line, so a broken case fails at
collection with something a person can act on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jobspec_core.docpath import DocPath, format_path
from jobspec_core.errors import InvalidJobspec, Problem
from jobspec_core.features import FEATURES
from jobspec_core.loader import load_text

from .settings import CASE_SUFFIX

__all__ = [
    "CASE_SUFFIX",
    "Case",
    "CaseError",
    "case_schema",
    "load_case",
    "shipped_cases_dir",
    "shipped_case_files",
]


class CaseError(Exception):
    """A case file is broken; ``problems`` says where and what (never empty)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(p.format() for p in problems))


@dataclass
class Case:
    """One conformance case, as read from its file.

    :ivar jobspec: the jobspec document as plain data (inline, or read from ``jobspec_file``).
    :ivar jobspec_text: the jobspec as YAML text, for failure reports.
    :ivar expect: run-mode expectations (``{}`` when none).
    :ivar render: render-mode expectations (``{}`` when none).
    :ivar line: the line of the case file where the case starts.
    """

    id: str
    description: str
    features: list[str]
    required: bool
    jobspec: dict[str, Any]
    jobspec_text: str
    path: Path
    line: int = 1
    timeout: float | None = None
    expect: dict[str, Any] = field(default_factory=dict)
    render: dict[str, Any] = field(default_factory=dict)
    given_files: dict[str, str] = field(default_factory=dict)
    modes: tuple[str, ...] = ("run", "render")
    #: run mode: the folder name (under the case's temporary folder) the whole run lives in.
    run_in: str | None = None
    #: a clear refusal (a ``JobspecError`` at render or submit) is an acceptable outcome.
    may_refuse: bool = False
    #: run mode: the backend-specific fault to cause (see :mod:`jobspec_conformance.faults`).
    fault: dict[str, Any] | None = None
    #: run mode: only a clear refusal passes.
    must_refuse: bool = False
    #: symbolic links (name -> target) planted in the work folder before the run.
    given_links: dict[str, str] = field(default_factory=dict)
    #: values for the jobspec's parameters (name -> value), as ``--set`` gives them.
    parameters: dict[str, Any] = field(default_factory=dict)
    #: subsystem graphs (file name -> JGF data) of the site the requirements are checked
    #: against, besides what the transformer describes (``--subsystems DIR``).
    given_subsystems: dict[str, Any] = field(default_factory=dict)


@cache
def case_schema() -> dict[str, Any]:
    """The JSON Schema of case files (draft 2020-12)."""
    text = resources.files(__package__).joinpath("case.schema.json").read_text("utf-8")
    return json.loads(text)


def shipped_cases_dir() -> Path:
    """The folder of cases shipped inside this package."""
    return Path(str(resources.files(__package__).joinpath("cases")))


def shipped_case_files() -> list[Path]:
    """Every shipped case file, sorted by name."""
    return sorted(shipped_cases_dir().glob(f"*{CASE_SUFFIX}"))


def _positions(text: str) -> dict[DocPath, tuple[int, int]]:
    """Document path -> (line, column), 1-based, for every node of a YAML text."""
    out: dict[DocPath, tuple[int, int]] = {}

    def visit(node: yaml.Node, path: DocPath) -> None:
        out[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    visit(value, path + (key.value,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                visit(item, path + (i,))

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return out
    if root is not None:
        visit(root, ())
    return out


def _where(positions: dict, path: DocPath) -> tuple[int | None, int | None]:
    probe = tuple(path)
    while probe and probe not in positions:
        probe = probe[:-1]
    return positions.get(probe, (None, None))


def load_case(path: Path) -> Case:
    """Read and check one case file; raises :class:`CaseError` listing every problem."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError([Problem(f"cannot read case file: {exc}", file=name, code="io")]) from exc
    try:
        document = load_text(text, name)  # the jobspec loader: refuses broken YAML with a line
    except InvalidJobspec as exc:
        raise CaseError(exc.problems) from exc
    positions = document.positions or _positions(text)
    data = document.data

    def problem(doc_path: DocPath, message: str) -> Problem:
        line, column = _where(positions, doc_path)
        return Problem(message, format_path(doc_path), name, line, column)

    if not isinstance(data, dict):
        raise CaseError([problem((), f"expected a mapping (a case), found {type(data).__name__}")])
    problems = [
        problem(_error_path(err), _schema_message(err))
        for err in sorted(
            jsonschema.Draft202012Validator(case_schema()).iter_errors(data),
            key=lambda e: [str(p) for p in e.absolute_path],
        )
    ]
    if problems:
        raise CaseError(problems)
    for i, feature in enumerate(data["features"]):
        if feature not in FEATURES:
            problems.append(
                problem(
                    ("features", i),
                    f"unknown feature {feature!r}; expected one of: " + ", ".join(FEATURES),
                )
            )
    if "jobspec_file" in data:
        jobspec_path = path.parent / data["jobspec_file"]
        try:
            jobspec_text = jobspec_path.read_text(encoding="utf-8")
            jobspec = yaml.safe_load(jobspec_text)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            problems.append(problem(("jobspec_file",), f"cannot read {jobspec_path}: {exc}"))
            jobspec, jobspec_text = {}, ""
        else:
            if not isinstance(jobspec, dict):
                problems.append(problem(("jobspec_file",), f"{jobspec_path} is not a mapping"))
    else:
        jobspec = data["jobspec"]
        jobspec_text = _block_text(text, "jobspec") or yaml.safe_dump(
            jobspec, sort_keys=False, allow_unicode=True, width=100
        )
    if problems:
        raise CaseError(problems)
    return Case(
        id=data["id"],
        description=data["description"].strip(),
        features=list(data["features"]),
        required=data["required"],
        jobspec=jobspec,
        jobspec_text=jobspec_text,
        path=path,
        line=_where(positions, ())[0] or 1,
        timeout=data.get("timeout"),
        expect=data.get("expect") or {},
        render=data.get("render") or {},
        given_files=data.get("given_files") or {},
        modes=tuple(data.get("modes") or ("run", "render")),
        run_in=data.get("run_in"),
        may_refuse=bool(data.get("may_refuse", False) or data.get("must_refuse", False)),
        fault=data.get("fault"),
        must_refuse=bool(data.get("must_refuse", False)),
        given_links=data.get("given_links") or {},
        parameters=data.get("parameters") or {},
        given_subsystems=data.get("given_subsystems") or {},
    )


def _block_text(text: str, key: str) -> str | None:
    """The text of a top-level block mapping's value, dedented, as its author wrote it
    (``None`` when the value is not a block on the following lines)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.rstrip() == f"{key}:":
            body = []
            for following in lines[i + 1 :]:
                if following.strip() and not following[:1].isspace():
                    break
                body.append(following)
            while body and not body[-1].strip():
                body.pop()
            if not body:
                return None
            indent = min(len(b) - len(b.lstrip()) for b in body if b.strip())
            return "\n".join(b[indent:] for b in body) + "\n"
    return None


def _error_path(err: jsonschema.ValidationError) -> DocPath:
    """Where an error is: for an unexpected key, the key itself rather than its mapping."""
    path = tuple(err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = set(err.schema.get("properties") or {})
        extra = sorted(k for k in err.instance if k not in allowed)
        if extra:
            return path + (extra[0],)
    return path


def _schema_message(err: jsonschema.ValidationError) -> str:
    if err.validator == "additionalProperties":
        allowed = sorted((err.schema.get("properties") or {}).keys())
        return f"{err.message}; allowed keys: {', '.join(allowed)}" if allowed else err.message
    if err.validator == "oneOf" and not err.absolute_path:
        return "a case needs exactly one of 'jobspec' (inline) or 'jobspec_file' (a path)"
    if err.validator in ("oneOf", "anyOf") and err.context:
        # "one state or a list of states": say what is wrong with the form that was meant
        # (the enum's list for a string), not "not valid under any of the given schemas"
        meant = [e for e in err.context if e.validator != "type"] or list(err.context)
        return meant[0].message
    return err.message
