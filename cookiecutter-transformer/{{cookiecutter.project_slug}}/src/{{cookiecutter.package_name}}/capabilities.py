"""The features this transformer supports: the one place they are declared.

Names come from ``jobspec_core.features.FEATURES``. A plan that uses a feature missing here
is refused before anything is submitted, and the conformance suite skips the cases that
need it (or fails them, for cases marked required). Declare a feature only once the
transformer really does it, and run ``pytest --transformer {{ cookiecutter.transformer_name }}`` after each change.
"""

from __future__ import annotations

__all__ = ["CAPABILITIES"]

CAPABILITIES: frozenset[str] = frozenset(
    {
        # Core: every transformer has these.
        "tasks",  # each top-level task is one job script, one submission
        "command",  # argv lists and shell strings, quoted with shlex.quote in the script
        "portable-variables",  # JOBSPEC_RUN_ID, _TASK_NAME, _TASK_INDEX, _TASK_COUNT
        # Optional, done by render.py / the job script / scheduler.py:
        "replicas",  # the job script starts every replica in parallel
        "depends_on",  # after-ok dependencies with the ids captured at submission
        "attributes.environment",  # exported in each instance's subshell
        "attributes.cwd",  # each instance cd's into it (relative to the submit directory)
        "attributes.duration",  # coreutils timeout in the script; the scheduler gets a margin
        "steps.write",  # written by the job script into the task's working directory
        "steps.stage",  # checked visible from the job (shared file system); see script.py
        "requires",  # a comment in the script, and JobRequest.requires for directives()
        "resources",  # slots, cores, gpus and memory become scheduler directives/arguments
        "resources.named",  # named blocks are resolved by the planner already
        "resources.alternatives",  # the first that fits scheduler.LARGEST_NODE
        "resources.gpu",  # gpus per slot become directives (the stand-in has no gpus to give)
        "groups",  # a top-level group is one job; its tasks run inside it (script.py)
        "groups.nested",  # a group inside a group runs inside the same job
        "groups.depends_on",  # tasks inside a group wait for their siblings' records
        "local",  # local: true entries are barriers in document order inside the job
        "passthrough",  # {{ cookiecutter.transformer_name }}.KEY: VALUE becomes a scheduler option
        "attributes.watch",  # each instance's log is written live at TaskHandle.log, which
        # `jobspec run` follows and prints (the run directory is shared with the nodes)
    }
)
