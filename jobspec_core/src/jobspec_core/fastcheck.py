"""A fast yes/no check of a document against a JSON Schema, compiled from the schema itself.

jsonschema is the reference: it produces every message the user sees. It is also slow
(about 50 microseconds per task, half a second for 10,000 tasks), so validation first asks
this check, which is compiled once from the *same* schema file into plain closures and
answers "valid" about 20 times faster. Only when it answers "not valid" does
:mod:`jobspec_core.schema` run jsonschema to explain why.

Contract: :func:`compile_schema` supports the keywords our schemas use (listed in
:data:`SUPPORTED`) and raises :class:`Unsupported` for any other, so a schema it cannot
fully honour is never approximated; callers then use jsonschema alone. A compiled check may
answer ``False`` for a document jsonschema accepts (it is conservative, e.g. for
``uniqueItems`` over non-text items) but never ``True`` for one jsonschema rejects: the
tests compare both on every example, every malformed document and generated ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["compile_schema", "Unsupported", "SUPPORTED", "Check", "python_pattern", "python_schema"]

Check = Callable[[Any], bool]

#: Keywords that change validation and are compiled.
SUPPORTED = frozenset(
    {
        "$ref",
        "type",
        "const",
        "enum",
        "properties",
        "required",
        "additionalProperties",
        "patternProperties",
        "propertyNames",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "anyOf",
        "allOf",
    }
)
#: Keywords that are annotations only.
_IGNORED = frozenset(
    {"$schema", "$id", "$comment", "$defs", "title", "description", "default", "examples"}
)


class Unsupported(ValueError):
    """The schema uses a keyword this compiler does not implement."""


def python_pattern(pattern: str) -> str:
    r"""A JSON Schema (ECMA-262) ``pattern`` as a Python regular expression meaning the same.

    The one difference our patterns meet: ECMA's ``$`` matches only at the end of the text,
    Python's also before a final newline (``"a\n"`` would pass ``^[a-z]+$``, and a name or
    variable with a trailing newline would reach a script). So an unescaped ``$`` outside
    a character class becomes ``\Z``. The schema file keeps ECMA patterns, which editors
    (Ajv) read.
    """
    out, escaped, in_class = [], False, False
    for char in pattern:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        elif char == "[" and not in_class:
            in_class = True
            out.append(char)
        elif char == "]" and in_class:
            in_class = False
            out.append(char)
        elif char == "$" and not in_class:
            out.append("\\Z")
        else:
            out.append(char)
    return "".join(out)


_LITERALS = frozenset({"const", "enum", "default", "examples", "description", "title"})


def python_schema(schema: Any) -> Any:
    """A copy of ``schema`` whose ``pattern`` values and ``patternProperties`` keys are
    :func:`python_pattern` translations: what Python validators (jsonschema, and this
    module's compiler) are given, so they agree with an ECMA validator."""
    if isinstance(schema, list):
        return [python_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "pattern" and isinstance(value, str):
            out[key] = python_pattern(value)
        elif key == "patternProperties" and isinstance(value, dict):
            out[key] = {python_pattern(k): python_schema(v) for k, v in value.items()}
        elif key in _LITERALS:
            out[key] = value
        elif key in ("properties", "$defs") and isinstance(value, dict):
            out[key] = {k: python_schema(v) for k, v in value.items()}
        else:
            out[key] = python_schema(value)
    return out


def _is_number(v: Any) -> bool:
    return (type(v) is int or type(v) is float) and v is not True and v is not False


_TYPES: dict[str, Check] = {
    "object": lambda v: type(v) is dict,
    "array": lambda v: type(v) is list,
    "string": lambda v: type(v) is str,
    "boolean": lambda v: type(v) is bool,
    "null": lambda v: v is None,
    "number": _is_number,
    "integer": lambda v: type(v) is int or (type(v) is float and v.is_integer()),
}


_PY_TYPES = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
    "number": (int, float),
    "integer": (int,),
}


def _type_check(names: list[str]) -> Check:
    """``type`` as one set lookup (bool is its own Python type, never an int here)."""
    unknown = set(names) - set(_PY_TYPES)
    if unknown:
        raise Unsupported(f"type {sorted(unknown)}")
    exact = frozenset(t for n in names for t in _PY_TYPES[n])
    if "integer" in names and "number" not in names:
        # JSON Schema counts 2.0 as an integer.
        return lambda v: type(v) in exact or (type(v) is float and v.is_integer())
    return lambda v: type(v) in exact


def _any(checks: list[Check]) -> Check:
    checks_t = tuple(checks)

    def run(v: Any) -> bool:
        for check in checks_t:
            if check(v):
                return True
        return False

    return run


def _all(checks: list[Check]) -> Check:
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    checks_t = tuple(checks)

    def run(v: Any) -> bool:
        for check in checks_t:
            if not check(v):
                return False
        return True

    return run


class _Compiler:
    def __init__(self, root: dict[str, Any]):
        self.root = root
        self.defs: dict[str, Check] = {}

    def ref(self, ref: str) -> Check:
        if not ref.startswith("#/$defs/") or "/" in ref[len("#/$defs/") :]:
            raise Unsupported(f"$ref {ref!r}: only '#/$defs/NAME' is supported")
        name = ref[len("#/$defs/") :]
        if name not in self.defs:
            self.defs[name] = None  # type: ignore[assignment]  # recursion guard
            self.defs[name] = self.compile(self.root["$defs"][name])
        defs = self.defs
        compiled = defs[name]
        if compiled is not None:
            return compiled
        return lambda v: defs[name](v)  # recursive reference, resolved at call time

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return lambda v: True
        if schema is False:
            return lambda v: False
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        unknown = set(schema) - SUPPORTED - _IGNORED
        if unknown:
            raise Unsupported(f"keywords {sorted(unknown)}")
        checks: list[Check] = []
        if "$ref" in schema:
            checks.append(self.ref(schema["$ref"]))
        if "type" in schema:
            names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            checks.append(_type_check(names))
        if "const" in schema:
            expected = schema["const"]
            checks.append(lambda v: type(v) is type(expected) and v == expected)
        if "enum" in schema:
            options = tuple(schema["enum"])
            checks.append(lambda v: any(type(v) is type(o) and v == o for o in options))
        checks.extend(self._object(schema))
        checks.extend(self._array(schema))
        checks.extend(self._string(schema))
        checks.extend(self._number(schema))
        if "anyOf" in schema:
            checks.append(_any([self.compile(s) for s in schema["anyOf"]]))
        if "allOf" in schema:
            checks.append(_all([self.compile(s) for s in schema["allOf"]]))
        return _all(checks)

    def _object(self, schema: dict[str, Any]) -> list[Check]:
        keys = {
            "properties",
            "required",
            "additionalProperties",
            "patternProperties",
            "propertyNames",
        }
        if not keys & set(schema):
            return []
        props = {k: self.compile(s) for k, s in schema.get("properties", {}).items()}
        required = tuple(schema.get("required", ()))
        patterns = tuple(
            (re.compile(p), self.compile(s)) for p, s in schema.get("patternProperties", {}).items()
        )
        extra = schema.get("additionalProperties", True)
        extra_check = None if extra is True else self.compile(extra)
        names = self.compile(schema["propertyNames"]) if "propertyNames" in schema else None

        def run(v: Any) -> bool:
            if type(v) is not dict:
                return True
            for key in required:
                if key not in v:
                    return False
            for key, item in v.items():
                if type(key) is not str:
                    return False
                if names is not None and not names(key):
                    return False
                check = props.get(key)
                matched = False
                if check is not None:
                    if not check(item):
                        return False
                    matched = True
                for regex, pcheck in patterns:
                    if regex.search(key):
                        matched = True
                        if not pcheck(item):
                            return False
                if not matched and extra_check is not None and not extra_check(item):
                    return False
            return True

        return [run]

    def _array(self, schema: dict[str, Any]) -> list[Check]:
        keys = {"items", "prefixItems", "minItems", "maxItems", "uniqueItems"}
        if not keys & set(schema):
            return []
        prefix = tuple(self.compile(s) for s in schema.get("prefixItems", ()))
        items = self.compile(schema["items"]) if "items" in schema else None
        lo = schema.get("minItems", 0)
        hi = schema.get("maxItems")
        unique = schema.get("uniqueItems", False)
        n_prefix = len(prefix)

        def run(v: Any) -> bool:
            if type(v) is not list:
                return True
            if len(v) < lo or (hi is not None and len(v) > hi):
                return False
            for check, item in zip(prefix, v, strict=False):
                if not check(item):
                    return False
            if items is not None:
                for item in v[n_prefix:] if n_prefix else v:
                    if not items(item):
                        return False
            if unique and len(v) > 1:
                # Conservative: only lists of text are judged here.
                if not all(type(i) is str for i in v) or len(set(v)) != len(v):
                    return False
            return True

        return [run]

    def _string(self, schema: dict[str, Any]) -> list[Check]:
        if not {"minLength", "maxLength", "pattern"} & set(schema):
            return []
        lo = schema.get("minLength", 0)
        hi = schema.get("maxLength")
        regex = re.compile(schema["pattern"]) if "pattern" in schema else None

        def run(v: Any) -> bool:
            if type(v) is not str:
                return True
            if len(v) < lo or (hi is not None and len(v) > hi):
                return False
            return regex is None or regex.search(v) is not None

        return [run]

    def _number(self, schema: dict[str, Any]) -> list[Check]:
        keys = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
        bounds = [(k, schema[k]) for k in keys if k in schema]
        if not bounds:
            return []

        def run(v: Any) -> bool:
            if not _is_number(v):
                return True
            for kind, bound in bounds:
                if kind == "minimum" and not v >= bound:
                    return False
                if kind == "maximum" and not v <= bound:
                    return False
                if kind == "exclusiveMinimum" and not v > bound:
                    return False
                if kind == "exclusiveMaximum" and not v < bound:
                    return False
            return True

        return [run]


def compile_schema(schema: dict[str, Any]) -> Check:
    """A function ``check(instance) -> bool`` for ``schema`` (see the module contract).

    Raises :class:`Unsupported` when the schema uses a keyword outside :data:`SUPPORTED`.
    """
    return _Compiler(schema).compile(schema)
