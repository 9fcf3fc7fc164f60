"""spec/spec.md documents every feature of jobspec_core.features under its own heading."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jobspec_core.features import FEATURES

SPEC = Path(__file__).resolve().parents[2] / "spec" / "spec.md"
HEADINGS = [line for line in SPEC.read_text().splitlines() if re.match(r"^#{1,6} ", line)]


@pytest.mark.parametrize("feature", list(FEATURES))
def test_feature_has_a_heading(feature):
    matching = [h for h in HEADINGS if f"(`{feature}`)" in h]
    assert len(matching) == 1, f"spec/spec.md needs exactly one heading naming `{feature}`"


def test_no_heading_names_an_unknown_feature():
    named = {m for h in HEADINGS for m in re.findall(r"\(`([^`]+)`\)$", h)}
    assert named <= set(FEATURES), named - set(FEATURES)


def test_spec_has_a_decisions_section():
    assert "## Decisions" in HEADINGS
    decisions = SPEC.read_text().split("## Decisions", 1)[1]
    for seed_trap in (
        "duration: {duration: 2000s}",
        "envirionment",
        "type: cores",
        "resources:` left empty",
        "standalone task without resources",
        "local",
    ):
        assert seed_trap in decisions, seed_trap
