"""Test helpers: real (if tiny) plugin distributions, installed the only way plugins load.

:func:`make_dist` writes modules and a ``NAME-VERSION.dist-info`` folder (``METADATA`` and
``entry_points.txt``) into a directory; with that directory on ``PYTHONPATH``,
``importlib.metadata`` finds the distribution and its ``jobspec`` entry points exactly as
it finds a pip-installed one. :func:`run_jobspec` runs ``python -m jobspec_core`` in a
subprocess with such a directory and with the plugins installed on this machine blocked,
so a test sees only the core's own plugin plus what it installed.

:data:`TINY_PLUGIN` is the source of a small but complete transformer (``tiny``) used by
the CLI tests; :func:`module_from_source` turns it into a module for in-process registries.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from importlib import metadata
from pathlib import Path

__all__ = [
    "TINY_PLUGIN",
    "make_dist",
    "module_from_source",
    "installed_plugin_names",
    "isolated_env",
    "run_jobspec",
]

# A transformer that renders one shell script per task and one "tiny-submit" per task.
# It supports few features on purpose (no replicas, no groups) so capability refusals
# can be tested, and it writes what it was given (run dir, workdir) into its scripts.
TINY_PLUGIN = '''
import shlex

from jobspec_core import hookimpl
from jobspec_core.transformer import RenderedFile, Submission, SubmissionUnit, Transformer


class TinyTransformer(Transformer):
    """Renders ``<task>.sh`` per task, submitted with ``tiny-submit``."""

    name = "tiny"
    description = "a tiny test transformer: one shell script per task"
    capabilities = frozenset(
        {"tasks", "command", "portable-variables", "depends_on", "attributes.duration",
         "attributes.environment"}
    )

    def render(self, plan, context):
        sub = Submission(self.name)
        for task in plan.tasks():
            if "boom" in task.id:
                raise RuntimeError("tiny cannot render a task called boom")
            script = task.id.replace("/", "_") + ".sh"
            lines = ["#!/bin/sh", f"# run dir: {context.run_dir}", f"# workdir: {context.workdir}"]
            for key, value in task.attributes.environment.items():
                lines.append(f"export {key}={shlex.quote(value)}")
            lines.append("exec " + shlex.join(task.command))
            sub.files[script] = RenderedFile("\\n".join(lines) + "\\n", executable=True)
            argv = ["tiny-submit"]
            for dep in task.depends_on:
                argv.append("--after={id:" + dep + "}")
            if task.attributes.duration is not None:
                minutes = -(-task.attributes.duration // 60)
                argv.append(f"--minutes={minutes}")
                if task.attributes.duration % 60:
                    sub.notes.append(
                        f"{task.id}: duration {task.attributes.duration}s rounded up to "
                        f"{minutes} minutes"
                    )
            argv += [script, "--", *task.command]
            sub.units.append(
                SubmissionUnit(task.id, "job", argv, script=script, depends_on=list(task.depends_on))
            )
        return sub

    def submit(self, plan, submission, context):
        raise NotImplementedError("tiny only renders")

    def status(self, handles, context):
        return {}

    def cancel(self, handles, context):
        return None


@hookimpl
def jobspec_register_transformers(register):
    register(TinyTransformer)
'''


def module_from_source(name: str, source: str) -> types.ModuleType:
    """A module named ``name`` executed from ``source`` (for in-process registries)."""
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 - test code
    return module


def make_dist(
    root: Path,
    name: str,
    version: str,
    modules: dict[str, str],
    entry_points: dict[str, str],
    summary: str = "a test plugin",
) -> Path:
    """Write a distribution ``name`` into ``root``: ``modules`` (module name -> source) and a
    dist-info whose ``entry_points.txt`` lists ``entry_points`` (name -> module) under
    ``[jobspec]``. Returns the dist-info folder."""
    root.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (root / f"{module}.py").write_text(source)
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {summary}\n"
    )
    lines = ["[jobspec]"] + [f"{ep} = {target}" for ep, target in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return info


def installed_plugin_names() -> set[str]:
    """Entry-point names of the ``jobspec`` plugins installed in this environment."""
    return {ep.name for ep in metadata.entry_points(group="jobspec")}


def isolated_env(
    *paths: Path,
    keep: set[str] | frozenset[str] = frozenset({"core_steps"}),
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """An environment for a ``jobspec`` subprocess: ``paths`` on ``PYTHONPATH`` and every
    installed plugin except ``keep`` blocked with ``JOBSPEC_DISABLE_PLUGINS``."""
    env = dict(os.environ)
    env.pop("JOBSPEC_TRANSFORMER", None)
    blocked = sorted(installed_plugin_names() - set(keep))
    env["JOBSPEC_DISABLE_PLUGINS"] = ",".join(blocked)
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(p) for p in paths] + [p for p in [os.environ.get("PYTHONPATH")] if p]
        )
    env.update(extra or {})
    return env


def run_jobspec(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m jobspec_core ARGS`` in a subprocess (text output, never raises on exit)."""
    return subprocess.run(
        [sys.executable, "-m", "jobspec_core", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
