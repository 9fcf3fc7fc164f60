"""The schema as editors use it: ``jobspec schema``, the modeline, and a second validator.

``jobspec schema`` prints the packaged schema; every example names it in a
``# yaml-language-server: $schema=...`` modeline. A second, independent validator (Ajv, in
JavaScript, with the ``yaml`` parser of the YAML language server; ``dev/editor-check/``)
must accept every example, reject every structural case of the bad-input corpus
(``malformed/STRUCTURAL.json``) and accept the corpus files whose faults only
``jobspec validate``'s semantic checks can see, so that an editor's squiggles agree with
``jobspec validate`` about structure.

The Ajv tests need ``node`` and ``npm ci --prefix dev/editor-check`` (``dev/test.sh`` runs
it); they skip with that reason where either is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jobspec_core.errors import InvalidJobspec
from jobspec_core.schema import load_schema, schema_problems

from jobspec_core import api

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "spec" / "jobspec-v1.schema.json"
EXAMPLES = sorted((ROOT / "spec" / "examples").glob("*.yaml"))
CORPUS = Path(__file__).parent / "malformed"
CASES = sorted(CORPUS.glob("*.yaml"))
STRUCTURAL = set(json.loads((CORPUS / "STRUCTURAL.json").read_text())["cases"])
EDITOR_CHECK = ROOT / "dev" / "editor-check"
MODELINE = "# yaml-language-server: $schema=../jobspec-v1.schema.json"


def test_schema_command_prints_the_packaged_schema():
    proc = subprocess.run(
        [sys.executable, "-m", "jobspec_core", "schema"], capture_output=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == SCHEMA.read_bytes()
    assert json.loads(proc.stdout) == load_schema()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_starts_with_the_modeline(path):
    first = path.read_text().splitlines()[0]
    assert first == MODELINE
    target = (path.parent / first.split("$schema=", 1)[1]).resolve()
    assert target == SCHEMA.resolve()


def test_spec_documents_the_modeline():
    spec = (ROOT / "spec" / "spec.md").read_text()
    assert "# yaml-language-server: $schema=./jobspec.schema.json" in spec
    assert "jobspec schema > jobspec.schema.json" in spec


def _loaded(path: Path):
    """The document as jobspec loads it, or the problems of a refused file."""
    try:
        return api.load_text(path.read_bytes(), path.name), []
    except InvalidJobspec as exc:
        return None, exc.problems


#: Problems of jobspec's YAML 1.1 scalar reading (``!!int ''``, a 5,000-digit integer,
#: ``.inf``, ``!!binary``): an editor reads YAML 1.2, whose scalars differ (``.inf`` is a
#: number there, an integer has no bound, ``!!binary`` gives bytes), so what its schema
#: check says of such a value is no comparison with jobspec's.
_SCALAR_CODES = {"bad-scalar", "yaml-tag"}


def _scalar_fault(path: Path) -> bool:
    document, _ = _loaded(path)
    return document is not None and any(p.code in _SCALAR_CODES for p in document.problems)


SCALAR_FAULTS = {p.name for p in CASES if _scalar_fault(p)}


def test_scalar_faults_are_in_the_corpus():
    assert len(SCALAR_FAULTS) >= 12
    assert not SCALAR_FAULTS & STRUCTURAL


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_structural_list_matches_jobspecs_own_schema_check(path):
    """A case is structural exactly when jobspec's schema check (or its 'not a mapping at
    the top', which is the schema's top-level ``type``) refuses it."""
    if path.name in SCALAR_FAULTS:
        pytest.skip("a scalar jobspec's YAML 1.1 reader refuses: not a structural case")
    document, refused = _loaded(path)
    if document is None:
        structural = any(p.code == "top-level" for p in refused)
    else:
        structural = bool(schema_problems(document))
    assert structural == (path.name in STRUCTURAL)


def test_structural_list_names_corpus_files():
    assert STRUCTURAL <= {p.name for p in CASES}
    assert len(STRUCTURAL) >= 25


@pytest.fixture(scope="module")
def ajv() -> dict[str, dict]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH: the second validator (Ajv) cannot run")
    if not (EDITOR_CHECK / "node_modules" / "ajv").is_dir():
        pytest.skip(
            "Ajv is not installed: run `npm ci --prefix dev/editor-check` (dev/test.sh does)"
        )
    files = [str(p) for p in EXAMPLES + CASES]
    proc = subprocess.run(
        [node, str(EDITOR_CHECK / "check.mjs"), str(SCHEMA), *files],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert set(results) == set(files)
    return {Path(k).name if Path(k).parent == CORPUS else k: v for k, v in results.items()}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_ajv_accepts_every_example(path, ajv):
    result = ajv[str(path)]
    assert result["parsed"] and result["valid"], result["errors"]


@pytest.mark.parametrize("name", sorted(STRUCTURAL))
def test_ajv_rejects_every_structural_case(name, ajv):
    result = ajv[name]
    assert result["parsed"], f"the yaml parser refused {name}: {result['errors']}"
    assert result["valid"] is False
    assert result["errors"]


@pytest.mark.parametrize(
    "path",
    [
        p
        for p in CASES
        if p.name not in STRUCTURAL and p.name not in SCALAR_FAULTS and _loaded(p)[0] is not None
    ],
    ids=lambda p: p.name,
)
def test_ajv_accepts_what_only_semantics_refuse(path, ajv):
    """The schema is not stricter in an editor than in jobspec: faults only the semantic
    checks find (cycles, unknown names...) are no squiggle, or the YAML parser's own
    refusal (duplicate keys), never a schema error."""
    result = ajv[path.name]
    if not result["parsed"]:
        assert any("unique" in e for e in result["errors"]), result["errors"]
        return
    assert result["valid"], result["errors"]
