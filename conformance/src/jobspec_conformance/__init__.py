"""jobspec-conformance: the JobSpec conformance suite as a pytest plugin.

``pytest --transformer NAME`` runs the cases shipped in ``cases/`` (and site-local ones
added with ``--conformance-cases DIR``) against an installed transformer. See
:mod:`jobspec_conformance.plugin` for the options and ``docs/conformance/README.md`` for
the case format and how to read a report.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CASE_SUFFIX", "Case", "CaseError", "RESULTS_VAR", "load_case", "shipped_case_files"]


def __getattr__(name: str) -> Any:
    # Lazy: pytest imports this package in every session where it is installed, and the
    # suite must cost nothing there unless --transformer is given.
    if name == "RESULTS_VAR":
        from .prepare import RESULTS_VAR

        return RESULTS_VAR
    if name in __all__:
        from . import cases

        return getattr(cases, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
