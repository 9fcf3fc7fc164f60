"""{{ cookiecutter.project_slug }}: the ``{{ cookiecutter.transformer_name }}`` jobspec transformer
({{ cookiecutter.scheduler_kind }} starting point).

Generated from jobspec's cookiecutter-transformer template; README.md says what to fill in.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
