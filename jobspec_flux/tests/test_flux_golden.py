"""Golden files: ``jobspec transform -t flux`` of every ``spec/examples/*.yaml``, kept under
``golden/<example>/`` for a person to read and review when they change.

Rendered with a fixed context (run id ``RUN_ID``, run dir ``/RUN_DIR``, submitted from
``/WORKDIR``) so the files do not depend on the machine. ``_units.json`` holds the
submission units (the exact argv of each ``flux submit``/``flux batch``) and the notes.
Regenerate after an intended change with::

    JOBSPEC_UPDATE_GOLDEN=1 python3 -m pytest jobspec_flux/tests/test_flux_golden.py
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import pytest
from jobspec_core.transformer import RunContext
from jobspec_flux.transformer import FluxTransformer

from jobspec_core import api

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "spec" / "examples").glob("*.yaml"))
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("JOBSPEC_UPDATE_GOLDEN") == "1"
CONTEXT = RunContext("RUN_ID", Path("/RUN_DIR"), Path("/WORKDIR"))


def rendered_files(example: Path) -> dict[str, str]:
    plan = api.load_plan(example)
    submission = FluxTransformer().render(plan, CONTEXT)
    files = {name: f.content for name, f in submission.files.items()}
    units = {"units": [asdict(u) for u in submission.units], "notes": submission.notes}
    files["_units.json"] = json.dumps(units, indent=2, ensure_ascii=False) + "\n"
    return files


@pytest.mark.skipif(not EXAMPLES, reason="spec/examples has no examples yet")
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_golden(example: Path):
    folder = GOLDEN / example.stem
    files = rendered_files(example)
    if UPDATE:
        if folder.exists():
            for old in sorted(folder.rglob("*"), reverse=True):
                old.unlink() if old.is_file() else old.rmdir()
        for name, content in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(content, encoding="utf-8")
    assert folder.is_dir(), (
        f"no golden files for {example.name}; review the output of "
        f"`jobspec transform -t flux {example}` and regenerate (see this module's docstring)"
    )
    kept = {
        str(p.relative_to(folder)): p.read_text(encoding="utf-8")
        for p in folder.rglob("*")
        if p.is_file()
    }
    assert sorted(kept) == sorted(files), "the set of rendered files changed"
    for name, content in files.items():
        assert kept[name] == content, f"{example.stem}/{name} differs from its golden file"


def test_every_golden_folder_has_an_example():
    stems = {e.stem for e in EXAMPLES}
    stale = (
        [p.name for p in GOLDEN.iterdir() if p.is_dir() and p.name not in stems]
        if (GOLDEN.exists())
        else []
    )
    assert not stale, f"golden folders without an example in spec/examples: {stale}"
