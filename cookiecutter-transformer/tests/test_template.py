"""The cookiecutter template, baked and used for real.

Bakes each starting point (generic, pbs, lsf, sge) with cookiecutter's API into a temporary
directory, installs the results with the project's packages into a fresh virtual
environment, and shows, with no edit to the generated code: ``jobspec transformers`` lists
them; ``jobspec transform -t NAME`` renders an example into scripts that ``sh -n`` accepts;
``pytest --transformer NAME --conformance-mode render`` passes every case for the declared
capabilities; the generated package's own tests pass, the conformance suite in run mode
through the stand-in scheduler included, for every kind; the generated package imports the
batch layer and holds no copy of it, in at most 300 lines of site code. Also: a bad name is
refused before anything is generated, and the root test run never collects the template.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("cookiecutter", reason="pip install cookiecutter (requirements-dev.txt)")
from cookiecutter.exceptions import FailedHookException  # noqa: E402
from cookiecutter.main import cookiecutter  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "cookiecutter-transformer"
#: scheduler kind -> the transformer name it is baked with.
KINDS = {"generic": "mysite", "pbs": "site_pbs", "lsf": "site_lsf", "sge": "site_sge"}
#: an author with characters beyond ASCII letters (quotes and backslashes are refused).
AUTHOR = "Équipe HPC <hpc@example.org>"
#: a small fixture in case spec/examples does not hold the example any more.
FALLBACK_EXAMPLE = """\
version: 1
tasks:
- name: build
  command: ["sh", "-c", "echo building"]
- name: run
  depends_on: [build]
  replicas: 2
  command: echo "run $JOBSPEC_TASK_INDEX"
  attributes:
    duration: 90
"""


def run(argv, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 900)
    return subprocess.run([str(a) for a in argv], check=False, **kw)


def bake(output_dir: Path, name: str, kind: str = "generic") -> Path:
    return Path(
        cookiecutter(
            str(TEMPLATE),
            no_input=True,
            output_dir=str(output_dir),
            extra_context={"transformer_name": name, "scheduler_kind": kind, "author": AUTHOR},
        )
    )


@pytest.fixture(scope="module")
def baked(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("baked")
    return {kind: bake(out, name, kind) for kind, name in KINDS.items()}


@pytest.fixture(scope="module")
def venv(baked, tmp_path_factory) -> dict[str, str]:
    """A fresh virtual environment with jobspec-core, jobspec-conformance and the three
    baked packages installed; returns the environment to run its commands with."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    made = run([sys.executable, "-m", "venv", root])
    assert made.returncode == 0, made.stderr
    python = root / "bin" / "python"
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    # The third-party dependencies first (from the local pip cache when it has them), then
    # our packages editable without build isolation: fast, and no index needed for them.
    deps = run(
        pip + ["setuptools>=68", "pluggy>=1.3", "pyyaml>=6.0", "jsonschema>=4.18", "pytest>=8"]
    )
    assert deps.returncode == 0, deps.stderr
    ours = [REPO / "jobspec_core", REPO / "conformance", *baked.values()]
    editable = [word for path in ours for word in ("-e", path)]
    installed = run(pip + ["--no-deps", "--no-build-isolation", *editable])
    assert installed.returncode == 0, installed.stderr
    # Every declared dependency (jobspec-core, and the test extra's) is satisfied.
    check = run([python, "-m", "pip", "check"])
    assert check.returncode == 0, check.stdout + check.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "JOBSPEC_"))}
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(root)
    env["XDG_STATE_HOME"] = str(root.parent / "state")
    return env


def example(tmp_path: Path) -> Path:
    path = REPO / "spec" / "examples" / "build-and-run.yaml"
    if path.is_file():
        return path
    fallback = tmp_path / "build-and-run.yaml"
    fallback.write_text(FALLBACK_EXAMPLE, encoding="utf-8")
    return fallback


# -- what baking produces ------------------------------------------------------------
def test_baked_layout_keeps_only_the_chosen_kind(baked):
    for kind, name in KINDS.items():
        package = baked[kind] / "src" / f"jobspec_{name}"
        assert baked[kind].name == f"jobspec-{name.replace('_', '-')}"
        assert sorted(p.name for p in package.iterdir()) == [
            "__init__.py",
            "plugin.py",
            "scheduler.py",
        ]
        scheduler = (package / "scheduler.py").read_text()
        assert f'STANDIN = "{kind}"' in scheduler
        assert "class SiteScheduler(BaseScheduler)" in scheduler
        assert not (baked[kind] / "tests" / "_kinds").exists()
        assert sorted(p.name for p in (baked[kind] / "tests").glob("test_*.py")) == [
            "test_conformance.py",
            "test_layer.py",
            "test_scheduler.py",
        ]
        text = (baked[kind] / "pyproject.toml").read_text()
        assert "{{" not in text and "cookiecutter" not in scheduler
        project = tomllib.loads(text)["project"]
        assert project["entry-points"]["jobspec"] == {name: f"jobspec_{name}.plugin"}
        assert project["authors"] == [{"name": AUTHOR}]
        assert "jobspec-core>=0.1" in project["dependencies"]


def test_a_baked_default_project_is_small_and_imports_the_layer(baked):
    package = baked["generic"] / "src" / "jobspec_mysite"
    lines = sum(len(p.read_text().splitlines()) for p in package.glob("*.py"))
    assert lines <= 300, lines
    plugin = (package / "plugin.py").read_text()
    assert "from jobspec_core.batch import BatchTransformer" in plugin
    assert "class MysiteTransformer(BatchTransformer)" in plugin
    # The override variables live in jobspec's namespace, never the scheduler's (SGE_*).
    readme = (baked["sge"] / "README.md").read_text()
    assert "JOBSPEC_SITE_SGE_SUBMIT" in readme and "SITE_SGE_SUBMIT" not in readme.replace(
        "JOBSPEC_SITE_SGE_SUBMIT", ""
    )


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed")
def test_generated_code_is_lint_clean(baked):
    # Run inside each project, as its engineers would (import sorting depends on it).
    rules = ["--isolated", "--line-length", "100"]
    for path in baked.values():
        lint = run(["ruff", "check", *rules, "--select", "E,F,W,I,B,UP", "."], cwd=path)
        assert lint.returncode == 0, lint.stdout + lint.stderr
        form = run(["ruff", "format", *rules, "--check", "."], cwd=path)
        assert form.returncode == 0, form.stdout + form.stderr


# -- installed into a fresh virtual environment ----------------------------------------
@pytest.mark.slow
def test_jobspec_transformers_lists_each_baked_transformer(venv, baked):
    done = run(["jobspec", "transformers", "--json"], env=venv)
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    found = {t["name"]: t for t in listing["transformers"]}
    for name in KINDS.values():
        assert name in found, f"{name} missing from {sorted(found)}"
        assert found[name]["distribution"] == f"jobspec-{name.replace('_', '-')}"
        assert found[name]["version"] == "0.1.0"
        assert {"tasks", "groups", "depends_on", "replicas"} <= set(found[name]["capabilities"])
    assert not listing.get("broken"), listing.get("broken")
    text = run(["jobspec", "transformers"], env=venv)
    assert text.returncode == 0 and all(name in text.stdout for name in KINDS.values())


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind, expected",
    [
        ("generic", ["--after", "{id:build}"]),
        ("pbs", ["#PBS -l select=", "depend=afterok:{id:build}"]),
        ("lsf", ["#BSUB -n ", "done({id:build})"]),
        ("sge", ["#$ -N build", "-hold_jid", "{id:build}"]),
    ],
)
def test_jobspec_transform_renders_an_example(venv, baked, tmp_path, kind, expected):
    name = KINDS[kind]
    out = tmp_path / "rendered"
    source = example(tmp_path)
    printed = run(["jobspec", "transform", "-t", name, source], env=venv, cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    for needle in expected:
        assert needle in printed.stdout, f"{needle!r} not in the rendering of {source}"
    written = run(["jobspec", "transform", "-t", name, source, "-o", out], env=venv, cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    scripts = sorted(out.rglob("*.sh"))
    assert [p.name for p in scripts] == (
        ["build.sh", "ior.sh"] if source.parent != tmp_path else ["build.sh", "run.sh"]
    )
    for script in scripts:
        syntax = run(["sh", "-n", script])
        assert syntax.returncode == 0, f"{script}: {syntax.stderr}"


@pytest.mark.slow
def test_every_example_renders_or_is_refused_clearly(venv, tmp_path):
    examples = sorted((REPO / "spec" / "examples").glob("*.yaml"))
    if not examples:
        pytest.skip("spec/examples holds no example")
    rendered = 0
    for source in examples:
        out = tmp_path / source.stem
        done = run(["jobspec", "transform", "-t", KINDS["pbs"], source, "-o", out], env=venv)
        if done.returncode == 0:
            rendered += 1
            for script in out.rglob("*.sh"):
                assert run(["sh", "-n", script]).returncode == 0, script
        else:  # a feature it does not declare: named, exit 2, no traceback
            assert done.returncode == 2, (source, done.stderr)
            assert "does not support" in done.stderr, (source, done.stderr)
            assert "Traceback" not in done.stderr
    assert rendered == len(examples), f"only {rendered} of {len(examples)} examples render"


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KINDS))
def test_render_mode_conformance_passes_with_no_edits(venv, tmp_path, kind):
    report = tmp_path / "report.json"
    done = run(
        [
            "python",
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "--transformer",
            KINDS[kind],
            "--conformance-mode",
            "render",
            "--conformance-report",
            report,
        ],
        env=venv,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    outcome = json.loads(report.read_text())
    outcomes = [case["outcome"] for case in outcome["cases"]]
    assert outcomes.count("passed") >= 40, outcome["summary"]
    assert set(outcomes) <= {"passed", "skipped"}, outcome["summary"]
    for case in outcome["cases"]:  # a skip is only ever for an undeclared feature
        if case["outcome"] == "skipped":
            assert not set(case["features"]) <= set(outcome["capabilities"]), case


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KINDS))
def test_generated_package_tests_pass(venv, baked, kind):
    # Everything, the conformance suite in run mode through the stand-in scheduler included.
    done = run(
        ["python", "-m", "pytest", "-p", "no:cacheprovider", "-q"], env=venv, cwd=baked[kind]
    )
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and " failed" not in done.stdout


# -- bad names -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, says",
    [
        ("My-Site", "must start with a lower-case letter"),
        ("9lives", "must start with a lower-case letter"),
        ("my site", "must start with a lower-case letter"),
        ("local", "already ships"),
        ("slurm", "already ships"),
        ("sge", "already ships"),
        ("a" * 40, "too long"),
    ],
)
def test_bad_name_is_refused_before_anything_is_generated(tmp_path, name, says):
    out = tmp_path / "out"
    out.mkdir()
    done = run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--no-input",
            "-o",
            out,
            TEMPLATE,
            f"transformer_name={name}",
        ],
    )
    assert done.returncode != 0
    message = done.stdout + done.stderr
    assert says in message, message
    assert "for example 'mysite'" in message or "at most 32" in message, message
    assert "Nothing was generated" in message
    assert list(out.iterdir()) == []
    with pytest.raises(FailedHookException):  # the API refuses it the same way
        bake(out, name)
    assert list(out.iterdir()) == []


def test_an_author_that_would_break_pyproject_is_refused(tmp_path):
    with pytest.raises(FailedHookException):
        cookiecutter(
            str(TEMPLATE),
            no_input=True,
            output_dir=str(tmp_path),
            extra_context={"author": 'Site "HPC" team'},
        )
    assert list(tmp_path.iterdir()) == []


def test_a_good_name_with_underscores_bakes(tmp_path):
    project = bake(tmp_path, "hpc2_pbs", "pbs")
    assert project.name == "jobspec-hpc2-pbs"
    assert (project / "src" / "jobspec_hpc2_pbs" / "plugin.py").read_text().count(
        "class Hpc2PbsTransformer(BatchTransformer)"
    ) == 1


# -- the root test run -----------------------------------------------------------------
@pytest.mark.parametrize("where", [[], ["cookiecutter-transformer"]])
def test_root_test_run_does_not_collect_the_template(where):
    done = run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *where],
        cwd=REPO,
    )
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    assert any("cookiecutter-transformer/tests/test_template.py" in line for line in collected), (
        done.stdout[-3000:] + done.stderr[-2000:]
    )
    assert not [line for line in collected if "{{cookiecutter" in line]
    assert "{{cookiecutter" not in done.stdout + done.stderr
