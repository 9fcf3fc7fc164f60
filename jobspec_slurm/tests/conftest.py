"""Fixtures of the Slurm backend's tests.

``slurm_cluster`` starts ONE real single-host Slurm (slurmctld + slurmd + munge, see
:mod:`jobspec_slurm.testing.cluster`) for the whole session and stops it at the end; tests
that use it are skipped, with the reason, where Slurm is not installed or we are not root
(``.ci/install-slurm.sh`` installs it). ``SLURM_CONF`` points at it while it runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jobspec_core.transformer import RunContext
from jobspec_slurm.testing.cluster import ClusterError, LocalSlurmCluster, is_available

from jobspec_slurm import SlurmTransformer

AVAILABLE, REASON = is_available()


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory):
    """A running local Slurm cluster for the session, ``SLURM_CONF`` set to it."""
    if not AVAILABLE:
        pytest.skip(f"no local Slurm cluster can be started here: {REASON}")
    cluster = LocalSlurmCluster(tmp_path_factory.mktemp("slurm-cluster"))
    try:
        cluster.start()
    except ClusterError as exc:
        cluster.stop()
        pytest.fail(f"could not start the local Slurm cluster:\n{exc}")
    previous = os.environ.get("SLURM_CONF")
    os.environ.update(cluster.env)
    try:
        yield cluster
    finally:
        cluster.stop()
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous


@pytest.fixture
def context(tmp_path: Path) -> RunContext:
    """A run context with its own run and work directories."""
    work = tmp_path / "work"
    work.mkdir()
    return RunContext(f"run-{tmp_path.name}", tmp_path / "run", work)


@pytest.fixture
def transformer() -> SlurmTransformer:
    return SlurmTransformer()
