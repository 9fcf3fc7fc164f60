"""jobspec-conformance: the JobSpec conformance suite as a pytest plugin.

``pytest --transformer NAME`` runs the cases shipped in ``cases/`` (and site-local ones
added with ``--conformance-cases DIR``) against an installed transformer. See
:mod:`jobspec_conformance.plugin` for the options and ``docs/conformance/README.md`` for
the case format and how to read a report.
"""

from __future__ import annotations

from .cases import CASE_SUFFIX, Case, CaseError, load_case, shipped_case_files
from .prepare import RESULTS_VAR

__all__ = ["CASE_SUFFIX", "Case", "CaseError", "RESULTS_VAR", "load_case", "shipped_case_files"]
