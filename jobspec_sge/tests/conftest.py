"""Fixtures of the Grid Engine backend's tests.

``sge_cluster`` starts ONE real single-host Grid Engine (sge_qmaster + sge_execd in a private
SGE_ROOT, see :mod:`jobspec_sge.testing.cluster`) for the whole session and stops it at the
end; tests that use it are skipped, with the reason, where Grid Engine is not installed or we
are not root (``.ci/install-gridengine.sh`` installs it). The client variables (SGE_ROOT,
SGE_CELL, SGE_QMASTER_PORT, SGE_EXECD_PORT) point at it while it runs, and
``JOBSPEC_SGE_CORES_PER_NODE`` says how many slots its one host has.
"""

from __future__ import annotations

import os

import pytest
from jobspec_sge.testing.cluster import ClusterError, LocalSGECluster, is_available

AVAILABLE, REASON = is_available()


@pytest.fixture(scope="session")
def sge_cluster(tmp_path_factory: pytest.TempPathFactory):
    """A running local Grid Engine for the session, its client variables set."""
    if not AVAILABLE:
        pytest.skip(f"no local Grid Engine can be started here: {REASON}")
    cluster = LocalSGECluster(tmp_path_factory.mktemp("sge-cluster"))
    try:
        cluster.start()
    except ClusterError as exc:
        cluster.stop()
        pytest.fail(f"could not start the local Grid Engine:\n{exc}")
    # The transformer's largest node is this host as the test cluster configures it.
    env = {**cluster.env, "JOBSPEC_SGE_CORES_PER_NODE": str(cluster.slots)}
    previous = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield cluster
    finally:
        cluster.stop()
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
