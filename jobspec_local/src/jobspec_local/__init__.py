"""jobspec-local: the embedded default backend (``-t local``), real processes on this machine.

Kept free of imports so that ``python -m jobspec_local.supervisor`` starts fast; the
transformer lives in :mod:`jobspec_local.transformer` and is registered by
:mod:`jobspec_local.plugin` through the ``jobspec`` entry-point group.
"""

__all__: list[str] = []
