"""Fixtures for the plugin's own tests: pytester, and a fake distribution that provides the
deliberately wrong transformers through a real ``jobspec`` entry point."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def wrong_dist(tmp_path_factory) -> Path:
    """A folder holding ``wrong_transformers.py`` and its ``.dist-info`` (entry points);
    put it on ``PYTHONPATH`` and importlib.metadata finds the transformers."""
    root = tmp_path_factory.mktemp("wrongdist")
    shutil.copy(HERE / "wrong_transformers.py", root / "wrong_transformers.py")
    info = root / "wrong_transformers-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: wrong-transformers\nVersion: 0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[jobspec]\nwrong = wrong_transformers\n", encoding="utf-8"
    )
    return root


@pytest.fixture
def with_wrong(monkeypatch, wrong_dist) -> Path:
    """Make the wrong transformers visible to subprocesses (``runpytest_subprocess``)."""
    monkeypatch.setenv("PYTHONPATH", str(wrong_dist))
    return wrong_dist
