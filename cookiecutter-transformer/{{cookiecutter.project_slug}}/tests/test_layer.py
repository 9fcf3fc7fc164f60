"""This package is the site's vocabulary only: the machinery is jobspec_core.batch's.

It fails when a copy of core machinery creeps in (a job-script template, a rendering or
polling function, a subprocess call), so upgrades of jobspec-core keep reaching this
transformer, and when the site code outgrows a vocabulary.
"""

import ast
from pathlib import Path

from jobspec_core.batch import BatchTransformer, Scheduler
from jobspec_core.plugins import load_registry

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "{{ cookiecutter.package_name }}"
#: Names of the layer's machinery: defining one here means a copy of it.
MACHINERY = set(
    """render submit status cancel wait render_submission JobScript node_slugs job_name
    place_options choose_alternative misfit unrunnable submission_order fill_placeholders
    InstanceRecords carry_out_writes safe_write working_directory portable_environment
    array_index_expression""".split()
)


def sources():
    return {path.name: path.read_text(encoding="utf-8") for path in PACKAGE.rglob("*.py")}


def test_the_transformer_is_the_batch_layer_with_this_sites_vocabulary():
    transformer = load_registry().transformers["{{ cookiecutter.transformer_name }}"]
    assert issubclass(transformer, BatchTransformer)
    assert isinstance(transformer.scheduler, Scheduler)
    assert transformer.scheduler.__module__ == "{{ cookiecutter.package_name }}.scheduler"


def test_no_copy_of_core_machinery():
    assert set(sources()) == {"__init__.py", "plugin.py", "scheduler.py"}
    assert not [p for p in PACKAGE.rglob("*") if p.suffix in (".tmpl", ".sh")]
    for name, text in sources().items():
        tree = ast.parse(text)
        defined = {
            node.name
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.ClassDef))
        }
        assert not defined & MACHINERY, f"{name} defines {sorted(defined & MACHINERY)}"
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            node.module.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        }
        assert not imported & {"subprocess", "shlex", "string", "time"}, (name, imported)
    assert "from jobspec_core.batch import BatchTransformer" in sources()["plugin.py"]


def test_site_code_is_small():
    lines = sum(len(text.splitlines()) for text in sources().values())
    assert lines <= 300, f"{lines} lines of site code (a vocabulary should need far fewer)"
