"""Putting parameter values into a document: ``${{ NAME }}`` references.

:func:`apply_parameters` is the one entry point (``api.validate`` and ``api.plan`` call it
before validating): it reads the document's definitions (:mod:`jobspec_core.parameters`),
resolves each parameter's value (given, else its default; a required one must be given),
and returns a new :class:`~jobspec_core.loader.Document` with every reference replaced. The
loaded document is not changed (a sweep plans one document many times); unchanged
mappings and lists are shared, and positions are those of the original, so a problem of
the substituted document points at the line of the reference.

The rules (``spec/spec.md``, "Parameters"):

* a reference is ``${{ NAME }}`` (spaces inside the braces optional) in any string value
  of the document except under ``parameters:``; mapping keys are never substituted;
* a string that is exactly one reference becomes the parameter's value with its type
  (``count: ${{ nodes }}`` is the integer 4);
* a reference inside a longer string becomes the value's text (:func:`text_of`); in a
  task's ``command`` written as a string (a shell line), that text is shell-quoted
  (:func:`shlex.quote`): a value is always exactly one shell word, never shell code;
* any other ``${{`` is a malformed reference; everything else (``$HOME``, ``${X}``,
  ``$((1+2))``) is left byte for byte.

Every problem is reported at once: a reference to an undefined parameter (at the
reference), a value that does not fit (at the definition, naming the value's source), a
value for no parameter, a required parameter without a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .docpath import DocPath
from .errors import InvalidJobspec, Problem

if TYPE_CHECKING:
    from .parameters import Given, Parameter

# (.parameters is imported where a document has parameters or references: a document
# without them, the common case, costs ``jobspec validate`` no import at start-up)

__all__ = [
    "MARK",
    "REFERENCE",
    "apply_parameters",
    "resolve_values",
    "substitute",
    "references",
    "describe_values",
]

#: What every reference starts with; strings without it are never looked at twice.
MARK = "${{"
#: One well-formed reference; group 1 is the name.
REFERENCE = re.compile(r"\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_WHOLE = re.compile(r"\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\Z")
#: Top-level keys whose values are never substituted.
_NOT_SUBSTITUTED = frozenset({"parameters", "version"})
_MISS = object()


def _quote(text: str) -> str:
    """One shell word (:func:`shlex.quote`; imported when first needed, for start-up)."""
    import shlex

    return shlex.quote(text)


def did_you_mean(word: str, options) -> str | None:
    from .schema import did_you_mean as guess  # (difflib: only on the error path)

    return guess(word, options)


def resolve_values(
    document, definitions: Mapping[str, Parameter], given: Mapping[str, Given]
) -> tuple[dict[str, Any], list[Problem]]:
    """Name -> value for every parameter (given, else default), and the problems: values
    that do not fit (at the definition), values for undefined names, missing values."""
    from .parameters import ValueProblem

    values: dict[str, Any] = {}
    problems: list[Problem] = []
    names = sorted(definitions)
    section = ("parameters",) if "parameters" in document.data else ()
    for name, item in given.items():
        parameter = definitions.get(name)
        if parameter is None:
            defined = _defined_list(document)
            if name in defined:
                continue  # its definition has a problem of its own
            guess = did_you_mean(name, defined)
            listing = f"its parameters: {', '.join(defined)}" if defined else "it has none"
            problems.append(
                document.problem(
                    section,
                    f"a value for '{name}' ({item.source}), but the document defines no "
                    f"parameter '{name}'; {listing}",
                    hint=f"did you mean '{guess}'?" if guess else None,
                    code="unknown-parameter",
                )
            )
            continue
        try:
            values[name] = parameter.coerce(item.value)
        except ValueProblem as exc:
            problems.append(
                document.problem(
                    parameter.path,
                    f"parameter '{name}' ({parameter.type}): {exc} (value from {item.source})",
                    code="bad-value",
                )
            )
    for name in names:
        if name in values or name in given:
            continue
        parameter = definitions[name]
        if parameter.has_default:
            values[name] = parameter.default
        else:
            problems.append(
                document.problem(
                    parameter.path,
                    f"parameter '{name}' ({parameter.type}) is required (it has no default) "
                    f"and no value was given: set it with --set {name}=VALUE, in a params "
                    "file, or give it a default",
                    code="missing-parameter",
                )
            )
    return values, problems


def _defined_list(document) -> list[str]:
    section = document.data.get("parameters")
    return sorted(str(k) for k in section) if isinstance(section, dict) else []


class _Substituter:
    """One pass over a document's data (see the module's rules)."""

    def __init__(self, document, values: Mapping[str, Any], defined: list[str]):
        self.document = document
        self.values = values
        self.defined = defined
        self.problems: list[Problem] = []
        # text -> its substituted value, for shell lines and for everything else: documents
        # repeat the same strings (a reference in every task), so each is worked out once
        self.plain: dict[str, Any] = {}
        self.shell: dict[str, Any] = {}

    # -- strings -----------------------------------------------------------------------
    def string(self, text: str, path: DocPath, shell: bool) -> Any:
        """The substituted value of ``text`` found at ``path`` (cached when it has no
        problem: a problem is reported at every place it occurs)."""
        from .parameters import text_of

        cache = self.shell if shell else self.plain
        whole = _WHOLE.match(text)
        if whole is not None and whole.group(1) in self.values:
            result = self.values[whole.group(1)]
            if shell and not isinstance(result, str):
                result = text_of(result)
            elif shell:
                result = _quote(result)
            cache[text] = result
            return result
        bad = False
        for match in REFERENCE.finditer(text):
            name = match.group(1)
            if name not in self.values:
                bad = True
                self._unknown(name, path)
        rest = REFERENCE.sub("", text)
        if "${{" in rest:
            bad = True
            at = rest.index("${{")
            shown = rest[at : at + 30]
            self.problems.append(
                self.document.problem(
                    path,
                    f"a malformed parameter reference {shown!r}: expected ${{{{ NAME }}}} with "
                    "NAME letters, digits and '_' (every '${{' starts a reference)",
                    code="bad-reference",
                )
            )
        if bad:
            return text
        values = self.values

        def one(match: re.Match) -> str:
            word = text_of(values[match.group(1)])
            return _quote(word) if shell else word

        result = REFERENCE.sub(one, text)
        cache[text] = result
        return result

    def _unknown(self, name: str, path: DocPath) -> None:
        if name in self.defined:
            return  # defined, but its definition or value has a problem reported already
        guess = did_you_mean(name, self.defined)
        if self.defined:
            expected = f"the document defines: {', '.join(self.defined)}"
        else:
            expected = "the document defines no parameters (add a 'parameters:' section)"
        self.problems.append(
            self.document.problem(
                path,
                f"a reference to an undefined parameter '{name}' (${{{{ {name} }}}}); {expected}",
                hint=f"did you mean '{guess}'?" if guess else None,
                code="undefined-parameter",
            )
        )

    # -- containers --------------------------------------------------------------------
    def mapping(self, data: dict, path: DocPath, task: bool = False, top: bool = False) -> dict:
        out = None
        plain = self.plain
        for key, value in data.items():
            kind = type(value)
            if kind is str:
                if MARK not in value:
                    continue
                if task and key == "command":
                    new = self.shell.get(value, _MISS)
                    if new is _MISS:
                        new = self.string(value, path + (key,), True)
                else:
                    new = plain.get(value, _MISS)
                    if new is _MISS:
                        new = self.string(value, path + (key,), False)
            elif kind is dict:
                if top and key in _NOT_SUBSTITUTED:
                    continue
                new = self.mapping(value, path + (key,))
            elif kind is list:
                if top and key in _NOT_SUBSTITUTED:
                    continue
                if top and key == "tasks":
                    new = self.sequence(value, path + (key,), tasks=True)
                elif top and key == "groups":
                    new = self.sequence(value, path + (key,), groups=True)
                else:
                    new = self.sequence(value, path + (key,))
            else:
                continue
            if new is not value:
                if out is None:
                    out = dict(data)
                out[key] = new
        return data if out is None else out

    def sequence(
        self, data: list, path: DocPath, tasks: bool = False, groups: bool = False
    ) -> list:
        out = None
        plain = self.plain
        for index, value in enumerate(data):
            kind = type(value)
            if kind is str:
                if MARK not in value:
                    continue
                new = plain.get(value, _MISS)
                if new is _MISS:
                    new = self.string(value, path + (index,), False)
            elif kind is dict:
                if groups:
                    new = self.group(value, path + (index,))
                else:
                    new = self.mapping(value, path + (index,), task=tasks)
            elif kind is list:
                new = self.sequence(value, path + (index,))
            else:
                continue
            if new is not value:
                if out is None:
                    out = list(data)
                out[index] = new
        return data if out is None else out

    def group(self, data: dict, path: DocPath) -> dict:
        entries = data.get("tasks")
        rest = {k: v for k, v in data.items() if k != "tasks"}
        new_rest = self.mapping(rest, path)
        new_entries = (
            self.sequence(entries, path + ("tasks",), tasks=True)
            if isinstance(entries, list)
            else entries
        )
        if new_rest is rest and new_entries is entries:
            return data
        out = dict(data)
        out.update(new_rest)
        if isinstance(entries, list):
            out["tasks"] = new_entries
        return out


def substitute(document, values: Mapping[str, Any]) -> tuple[Any, list[Problem]]:
    """``document``'s data with every reference replaced by ``values`` (name -> value),
    and the problems (undefined or malformed references). The data is a new tree where
    anything changed; untouched parts are shared with the document."""
    data = document.data
    worker = _Substituter(document, values, _defined_list(document))
    if not isinstance(data, dict):
        return data, []
    return worker.mapping(data, (), top=True), worker.problems


def references(document) -> dict[str, list[DocPath]]:
    """Name -> the paths where it is referenced (outside ``parameters:``), in document
    order; for messages and ``jobspec params``. Walks the whole document."""
    found: dict[str, list[DocPath]] = {}
    stack: list[tuple[Any, DocPath]] = [(document.data, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            items = list(value.items())
            if not path:
                items = [(k, v) for k, v in items if k not in _NOT_SUBSTITUTED]
            stack.extend((v, path + (k,)) for k, v in reversed(items))
        elif isinstance(value, list):
            stack.extend((v, path + (i,)) for i, v in reversed(list(enumerate(value))))
        elif isinstance(value, str) and MARK in value:
            for match in REFERENCE.finditer(value):
                found.setdefault(match.group(1), []).append(path)
    return found


def apply_parameters(document, given: Mapping[str, Any] | None = None):
    """``document`` with its parameters' values substituted, and those values.

    :param given: name -> value (a :class:`~jobspec_core.parameters.Given`, or a plain
        value, named "the API" in messages).
    :returns: ``(document, values)``: the substituted
        :class:`~jobspec_core.loader.Document` (``document`` itself when it has neither
        parameters nor references) and name -> value of every parameter.
    :raises InvalidJobspec: every problem of definitions, values and references, with the
        document's loading problems (nothing of the rest is validated until they are fixed:
        an unsubstituted reference would otherwise reach the checks of the result).
    """
    from .loader import Document

    data = document.data
    items = {}
    if given:
        from .parameters import given_mapping

        items = given_mapping(given)
    has_section = isinstance(data, dict) and "parameters" in data
    if not has_section and not items:
        # the common case: no parameters; a stray reference is still an error
        new, problems = substitute(document, {})
        if problems:
            raise InvalidJobspec(list(document.problems) + problems)
        return document, {}
    from .parameters import read_definitions

    definitions, problems = read_definitions(document)
    values, value_problems = resolve_values(document, definitions, items)
    problems.extend(value_problems)
    new, reference_problems = substitute(document, values)
    problems.extend(reference_problems)
    if problems:
        unique = {(p.line, p.column, p.path, p.message): p for p in document.problems + problems}
        raise InvalidJobspec(sorted(unique.values(), key=_position))
    ordered = {name: values[name] for name in definitions if name in values}
    if new is data:
        return document, ordered
    return Document(new, document.filename, document.positions, document.problems), ordered


def _position(problem: Problem) -> tuple:
    return (problem.line or 0, problem.column or 0, problem.path, problem.message)


def describe_values(values: Mapping[str, Any]) -> str:
    """``nodes=4 mode=fast label='a b'``: values as ``jobspec list`` and sweep labels show
    them (text with spaces or quotes shell-quoted, so the words stay apart)."""
    from .parameters import text_of

    return " ".join(f"{name}={_quote(text_of(value))}" for name, value in values.items())
