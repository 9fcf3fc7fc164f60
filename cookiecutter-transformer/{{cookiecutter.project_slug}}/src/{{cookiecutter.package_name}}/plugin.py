"""The ``{{ cookiecutter.transformer_name }}`` transformer and the plugin module named by the ``jobspec`` entry point.

The transformer is ``jobspec_core.batch.BatchTransformer`` (the whole batch machinery)
given this site's scheduler vocabulary, ``scheduler.SiteScheduler``. jobspec loads this
module through the entry point in ``pyproject.toml`` only, and calls the hook below.

Commands can be overridden without editing code, per verb (``submit``, ``status``,
``cancel``, ``accounting``, ``validate``), with the variable
``{{ cookiecutter.__env_prefix }}_<VERB>``
(a command line split like a shell) or ``jobspec run -O <verb>=...``; the variable
``{{ cookiecutter.__env_prefix }}_SCHEDULER``
(or ``-O scheduler=...``) is ``local`` (the stand-in) or ``native`` (the real commands).
"""

from __future__ import annotations

from jobspec_core import hookimpl
from jobspec_core.batch import BatchTransformer

from .scheduler import STANDIN, SiteScheduler

__all__ = ["{{ cookiecutter.__class_name }}", "jobspec_register_transformers"]


class {{ cookiecutter.__class_name }}(BatchTransformer):
    """Each top-level task or group is one job of the site's scheduler."""

    name = "{{ cookiecutter.transformer_name }}"
    description = "the site's {{ cookiecutter.scheduler_kind }} scheduler: one job per top-level task or group"
    scheduler = SiteScheduler()
    #: ``local``: every command goes through the stand-in scheduler made of the local shell
    #: (for trying and testing); set ``native`` once the real commands work.
    default_mode = "local"
    standin = STANDIN


@hookimpl
def jobspec_register_transformers(register):
    register({{ cookiecutter.__class_name }})
