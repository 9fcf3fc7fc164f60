"""Schema validation: the JSON Schema of JobSpec v1, and its errors as readable problems.

The schema ships in the package (``schema/jobspec-v1.schema.json``; ``spec/`` links to the
same file). jsonschema is the reference validator and writes nothing the user sees: each of
its errors is turned into a :class:`~jobspec_core.errors.Problem` placed at the document
path and line of the offending node, with what was found and what was expected
("expected an integer >= 1, got 0"; "unknown key 'comand'" with "did you mean 'command'?").

Speed: a document is first checked by :mod:`jobspec_core.fastcheck`, compiled once from the
same schema; jsonschema (slower, and slower to import) runs only when that check says
"not valid", to explain why.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from typing import Any

from .docpath import DocPath
from .errors import Problem
from .fastcheck import Check, Unsupported, compile_schema, python_schema

__all__ = [
    "SCHEMA_RESOURCE",
    "load_schema",
    "schema_problems",
    "instance_problems",
    "did_you_mean",
    "describe",
]

SCHEMA_RESOURCE = "schema/jobspec-v1.schema.json"

#: Keys that users put at the wrong level, and where they belong.
_MISPLACED = {
    "duration": "durations go under 'attributes:' (attributes: {duration: 300s})",
    "environment": "the environment goes under 'attributes:' (attributes: {environment: ...})",
    "cwd": "the working directory goes under 'attributes:' (attributes: {cwd: ...})",
    "watch": "'watch' goes under 'attributes:' (attributes: {watch: true})",
}
_TASK_KEYS = {
    "command",
    "requires",
    "depends_on",
    "replicas",
    "name",
    "local",
    "attributes",
    "steps",
    "group",
}


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """The JobSpec v1 JSON Schema as data (read once from the package)."""
    text = resources.files(__package__).joinpath(SCHEMA_RESOURCE).read_text("utf-8")
    return json.loads(text)


_FAST: dict[int, Check | None] = {}
_SLOW: dict[int, Any] = {}
_PYTHON: dict[int, tuple[Any, Any]] = {}


def _python(schema: dict[str, Any]) -> Any:
    """``schema`` with its patterns in Python's dialect (:func:`.fastcheck.python_schema`),
    made once per schema object (the original is kept alive beside it, so its id stays)."""
    key = id(schema)
    if key not in _PYTHON:
        _PYTHON[key] = (schema, python_schema(schema))
    return _PYTHON[key][1]


def _fast_check(schema: dict[str, Any]) -> Check | None:
    key = id(schema)
    if key not in _FAST:
        try:
            _FAST[key] = compile_schema(_python(schema))
        except Unsupported:
            _FAST[key] = None
    return _FAST[key]


def _validator(schema: dict[str, Any]):
    key = id(schema)
    if key not in _SLOW:
        import jsonschema  # imported only when there is something to explain

        _SLOW[key] = jsonschema.Draft202012Validator(_python(schema))
    return _SLOW[key]


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


_TYPE_WORDS = {
    "object": "mapping",
    "array": "list",
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean (true or false)",
    "null": "null",
}


def describe(value: Any) -> str:
    """How a found value is named in messages: ``'abc' (a string)``, ``a list``..."""
    if isinstance(value, bool):
        return f"{'true' if value else 'false'} (a boolean)"
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    if isinstance(value, int):
        return f"{value} (an integer)"
    if isinstance(value, float):
        return f"{value} (a number)"
    text = value if len(value) <= 60 else value[:57] + "..."
    return f"{text!r} (a string)"


def quoted(key: str) -> str:
    """A key or name as messages show it: ``'comand'``, or its escaped form when it holds
    characters that would break the line (``'PATH\\n'``)."""
    return f"'{key}'" if key.isprintable() else repr(key)


def _expected_types(schema: dict[str, Any]) -> str:
    given = schema.get("type")
    names: list[str] = given if isinstance(given, list) else [given] if given else []
    words = [_a(_TYPE_WORDS.get(n, n)) for n in names]
    return " or ".join(words) if words else "a different value"


def _expected(schema: dict[str, Any]) -> str:
    return schema.get("description") or _expected_types(schema)


#: Past this many options, no suggestion is made (difflib compares the word with every
#: option: thousands of unknown names among thousands of tasks would take minutes).
_MAX_FUZZY_OPTIONS = 500


def did_you_mean(word: str, options: Iterable[str]) -> str | None:
    """The closest of ``options`` to a misspelt ``word`` (``comand`` -> ``command``)."""
    options = list(options)
    if len(options) > _MAX_FUZZY_OPTIONS or len(word) > 200:
        return None
    lowered = {o.lower(): o for o in options}
    if word.lower() in lowered:
        return lowered[word.lower()]
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return close[0] if close else None


def _unknown_key_problem(document, path: DocPath, key: str, schema: dict[str, Any]) -> Problem:
    allowed = sorted(schema.get("properties", {}))
    guess = did_you_mean(key, allowed)
    parent = path[-1] if path else None
    hint = None
    if guess:
        hint = f"did you mean '{guess}'?"
    elif key in _MISPLACED and "duration" not in allowed:
        hint = _MISPLACED[key]
    elif key in _TASK_KEYS and "count" in allowed:
        hint = f"'{key}' belongs to the task or group, not inside its resource block: check the indentation"
    elif schema.get("patternProperties") and parent == "attributes":
        hint = "backend options are written 'backend.option', for example 'slurm.partition'"
    where = " at the top of the document" if not path else ""
    expected = ", ".join(allowed)
    if schema.get("patternProperties"):
        expected += ", or a backend option such as 'slurm.partition'"
    return document.problem(
        path + (key,),
        f"unknown key {quoted(key)}{where}; expected one of: {expected}",
        hint=hint,
        code="unknown-key",
    )


def _error_problems(document, error, base: DocPath) -> list[Problem]:
    """Problems for one jsonschema error (recursing into ``anyOf`` branches)."""
    path = base + tuple(error.absolute_path)
    kind = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    value = error.instance
    if "propertyNames" in error.relative_schema_path:
        key = str(value)
        expected = _expected(schema) if kind != "type" else "a string"
        label = "variable name" if path and path[-1] == "environment" else "name"
        return [
            document.problem(
                path + (key,),
                f"invalid {label} {quoted(key)}: expected {expected}",
                code="bad-name",
            )
        ]
    if kind == "additionalProperties":
        props = schema.get("properties", {})
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        extras = [
            k for k in value if k not in props and not any(p.search(str(k)) for p in patterns)
        ]
        return [_unknown_key_problem(document, path, str(k), schema) for k in extras]
    if kind == "required":
        missing = [k for k in error.validator_value if k not in value]
        out = []
        for key in missing:
            if key == "version" and not path:
                out.append(
                    document.problem(
                        (),
                        "missing 'version': add 'version: 1' at the top of the document",
                        code="missing-version",
                    )
                )
            else:
                out.append(
                    document.problem(path, f"missing required key '{key}'", code="missing-key")
                )
        return out
    if kind == "anyOf":
        return _any_of_problems(document, error, base)
    if kind == "type":
        if path and path[-1] == "resources" and value is None:
            return [
                document.problem(
                    path,
                    f"expected {_expected(schema)}, got nothing (null)",
                    hint="remove 'resources:' to use the default or the sum of the group's tasks",
                    code="type",
                )
            ]
        hint = None
        if schema.get("type") == "array" and isinstance(value, str | int | float):
            hint = f"write it as a list: [{value}]"
        return [
            document.problem(
                path,
                f"expected {_expected(schema)}, got {describe(value)}",
                hint=hint,
                code="type",
            )
        ]
    if kind == "const":
        if path == ("version",):
            return [
                document.problem(
                    path,
                    f"unsupported version {describe(value)}: this tool "
                    "reads JobSpec version 1 ('version: 1')",
                    code="version",
                )
            ]
        return [
            document.problem(
                path, f"expected {error.validator_value!r}, got {describe(value)}", code="const"
            )
        ]
    if kind == "enum":
        listed = ", ".join(repr(v) for v in error.validator_value)
        expected = schema.get("description") or f"one of {listed}"
        return [document.problem(path, f"expected {expected}, got {describe(value)}", code="enum")]
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        # only the numeric types: a count that may also be a parameter reference (a
        # string) is still "an integer >= 1" when it is a number out of bounds
        types = schema.get("type")
        types = types if isinstance(types, list) else [types] if types else []
        numeric = [t for t in types if t in ("integer", "number")]
        word = _expected_types({"type": numeric}) if numeric else "a number"
        sign = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[
            kind
        ]
        return [
            document.problem(
                path,
                f"expected {word} {sign} {error.validator_value}, got {describe(value)}",
                code="range",
            )
        ]
    if kind == "pattern":
        # a string where a number or boolean goes, not being a parameter reference (the
        # only string allowed there), is a value of the wrong type
        types = schema.get("type")
        wrong_type = isinstance(types, list) and "string" in types and len(types) > 1
        return [
            document.problem(
                path,
                f"expected {_expected(schema)}, got {describe(value)}",
                code="type" if wrong_type else "pattern",
            )
        ]
    if kind == "minLength":
        return [
            document.problem(
                path, f"expected a non-empty string, got {describe(value)}", code="empty"
            )
        ]
    if kind == "maxLength":
        return [
            document.problem(
                path,
                f"expected at most {error.validator_value} characters, got {len(value)}",
                code="too-long",
            )
        ]
    if kind == "minItems":
        n = error.validator_value
        return [
            document.problem(
                path,
                f"expected at least {n} item{'s' if n != 1 else ''}, got {describe(value)}",
                code="empty",
            )
        ]
    if kind == "uniqueItems":
        seen, twice = set(), []
        for item in value:
            key = json.dumps(item, sort_keys=True)
            if key in seen:
                twice.append(item)
            seen.add(key)
        shown = ", ".join(repr(t) for t in twice) or "an item"
        return [
            document.problem(
                path,
                f"{shown} appears more than once in this list; expected each item once",
                code="duplicate",
            )
        ]
    return [document.problem(path, error.message, code=str(kind))]


def _any_of_problems(document, error, base: DocPath) -> list[Problem]:
    """Explain an ``anyOf`` failure through the branch(es) that accept the value's type."""
    here = tuple(error.absolute_path)
    by_branch: dict[int, list] = {}
    for sub in error.context or ():
        by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = [
        subs
        for _, subs in sorted(by_branch.items())
        if not any(s.validator == "type" and tuple(s.absolute_path) == here for s in subs)
    ]
    if fitting:
        out: list[Problem] = []
        for sub in fitting[0]:
            out.extend(_error_problems(document, sub, base))
        return out
    schema = error.schema if isinstance(error.schema, dict) else {}
    path = base + here
    value = error.instance
    hint = None
    if path and path[-1] == "resources" and value is None:
        hint = "remove 'resources:' to use the default or the sum of the group's tasks"
    return [
        document.problem(
            path, f"expected {_expected(schema)}, got {describe(value)}", hint=hint, code="type"
        )
    ]


def _with_text_keys(document, instance: Any, base: DocPath, problems: list[Problem]) -> Any:
    """``instance`` with every mapping key made text (jsonschema fails on other keys).

    Documents from the loader only have text keys; data built in Python may not. Each
    key that is not text is reported once. Iterative, and only run on the slow path.
    """

    def convert(value: Any, path: DocPath) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    problems.append(
                        document.problem(
                            path + (str(key),),
                            f"a mapping key must be a string, found {key!r}",
                            code="key-type",
                        )
                    )
                out[str(key)] = item
            return out
        if isinstance(value, list):
            return list(value)
        return value

    root = convert(instance, base)
    stack = [(root, base)]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, dict | list):
                    value[key] = convert(item, path + (key,))
                    stack.append((value[key], path + (key,)))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict | list):
                    value[i] = convert(item, path + (i,))
                    stack.append((value[i], path + (i,)))
    return root


def instance_problems(
    document, instance: Any, schema: dict[str, Any], base: DocPath = (), limit: int | None = None
) -> list[Problem]:
    """Problems of ``instance`` (found at document path ``base``) against ``schema``.

    ``schema`` must stay the same object between calls to benefit from the compiled caches
    (the JobSpec schema and each step type's ``options_schema`` do). With ``limit``, the
    search stops once more than ``limit`` problems are found (jsonschema finds its errors
    lazily, so a document with 200,000 misspelt keys costs no more than one with 101).
    """
    fast = _fast_check(schema)
    if fast is not None and fast(instance):
        return []
    problems: list[Problem] = []
    instance = _with_text_keys(document, instance, base, problems)
    for error in _validator(schema).iter_errors(instance):
        if limit is not None and error.validator == "additionalProperties":
            error.instance = _first_keys(error.instance, error.schema, limit + 1)
        problems.extend(_error_problems(document, error, base))
        if limit is not None and len(problems) > limit:
            break
    return problems


def _first_keys(value: Any, schema: Any, count: int) -> Any:
    """``value`` cut to its allowed keys and its first ``count`` unknown ones (each unknown
    key becomes a problem with a suggestion: 200,000 of them would take minutes)."""
    if not isinstance(value, dict) or not isinstance(schema, dict):
        return value
    props = schema.get("properties", {})
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    out, unknown = {}, 0
    for key, item in value.items():
        if key in props or any(p.search(str(key)) for p in patterns):
            out[key] = item
        elif unknown < count:
            out[key] = item
            unknown += 1
    return out


def schema_problems(document, limit: int | None = None) -> list[Problem]:
    """The schema problems of a loaded :class:`~jobspec_core.loader.Document` (every one, or
    a little more than ``limit``: see :func:`instance_problems`)."""
    return instance_problems(document, document.data, load_schema(), limit=limit)
