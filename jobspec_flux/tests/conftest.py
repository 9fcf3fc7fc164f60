"""Fixtures of the Flux backend's tests.

``flux_instance`` starts ONE real ``flux start --test-size=4`` for the session (see
:mod:`jobspec_flux.testing`) and sets ``FLUX_URI`` to it while the tests run; tests using
it are skipped, with the reason, where ``flux`` is not on PATH (CI has no Flux: no registry
ships flux-core). Render and unit tests need neither Flux nor flux-python.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jobspec_core.transformer import RunContext
from jobspec_flux.testing import FluxInstance, FluxStartError, flux_available
from jobspec_flux.transformer import FluxTransformer

AVAILABLE, VERSION_OR_REASON = flux_available()


@pytest.fixture(scope="session")
def flux_instance(tmp_path_factory: pytest.TempPathFactory):
    """A running 4-broker Flux test instance; ``FLUX_URI`` points at it meanwhile."""
    if not AVAILABLE:
        pytest.skip(f"no Flux instance can be started here: {VERSION_OR_REASON}")
    instance = FluxInstance(tmp_path_factory.mktemp("flux-instance"), size=4)
    try:
        instance.start()
    except FluxStartError as exc:
        pytest.fail(str(exc))
    previous = os.environ.get("FLUX_URI")
    os.environ["FLUX_URI"] = instance.uri
    try:
        yield instance
    finally:
        instance.stop()
        if previous is None:
            os.environ.pop("FLUX_URI", None)
        else:
            os.environ["FLUX_URI"] = previous


@pytest.fixture
def context(tmp_path: Path) -> RunContext:
    """A run context with its own run and work directories."""
    work = tmp_path / "work"
    work.mkdir()
    return RunContext(f"run-{tmp_path.name[-12:]}", tmp_path / "run", work)


@pytest.fixture
def transformer() -> FluxTransformer:
    return FluxTransformer()
