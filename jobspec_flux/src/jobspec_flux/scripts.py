"""The shell text of a Flux run: task launchers, batch scripts, and ``flux`` arguments.

The templates in ``templates/`` hold the scripts' shape (``string.Template``); this module
holds the logic. Every word that comes from a user (commands, environment values, paths,
passthrough values) is quoted with :func:`shlex.quote` or kept in an argv list.
"""

from __future__ import annotations

import shlex
from importlib import resources
from string import Template
from typing import Any

from jobspec_core.ordering import placeholder
from jobspec_core.scripttext import comment
from jobspec_core.transformer import array_index_expression

from .jobs import JobRequest, option_value_text

__all__ = [
    "template",
    "stage_archive_argv",
    "flux_argv",
    "launcher_text",
    "dependency_word",
    "DEPENDENCY_PREFIX",
]

#: A unit's dependency word is ``--dependency=afterok:{id:NODE}``
#: (:func:`jobspec_core.ordering.placeholder`); at submission it stands for one
#: ``--dependency=afterok:ID`` per job id of NODE.
DEPENDENCY_PREFIX = "--dependency=afterok:"


def dependency_word(node_id: str) -> str:
    """The dependency word of a unit's argv for a dependency on ``node_id``."""
    return DEPENDENCY_PREFIX + placeholder(node_id)


def template(name: str) -> Template:
    """A script template shipped in ``jobspec_flux/templates``."""
    text = resources.files(__package__).joinpath("templates", name).read_text("utf-8")
    return Template(text)


def stage_archive_argv(name: str, directory: str, base: str) -> list[str]:
    """``flux archive create`` of one staged path (flux-archive(1)): ``--overwrite`` so that a
    rerun in the same instance replaces the archive of the same name."""
    return ["flux", "archive", "create", "--overwrite", f"--name={name}", "-C", directory, base]


def flux_argv(request: JobRequest, *, waitable: bool = False) -> list[str]:
    """The ``flux submit`` / ``flux batch`` argv of ``request``, without dependencies.

    Dependencies are added by the caller: placeholders on the Python side, shell expansion
    of captured ids inside batch scripts. Top-level replicas get ``--log=IDS_FILE`` so that
    each replica's id lands in its own file (inside batch scripts, the launchers record
    which job carries which index instead).
    """
    argv = ["flux", "submit" if request.kind == "task" else "batch"]
    if waitable:
        argv.append("--flags=waitable")
    argv.append(f"--job-name={request.job_name}")
    if request.replicas > 1:
        argv.append(f"--cc=0-{request.replicas - 1}")
    if request.kind == "task":
        argv += ["-n", str(request.slots), "-c", str(request.cores_per_slot)]
        if request.gpus_per_slot:
            argv += ["-g", str(request.gpus_per_slot)]
    else:
        argv += [f"--nslots={request.slots}", f"--cores-per-slot={request.cores_per_slot}"]
        if request.gpus_per_slot:
            argv.append(f"--gpus-per-slot={request.gpus_per_slot}")
    if request.nodes:
        argv += ["-N", str(request.nodes)]
    if request.exclusive:
        argv.append("--exclusive")
    if request.duration is not None:
        argv += ["-t", f"{request.duration}s"]
    if request.cwd:
        argv.append(f"--cwd={request.cwd}")
    if request.output:
        argv.append(f"--output={request.output}")
    if request.watch:
        argv.append("--watch")
    for name, value in request.options:
        argv.append(f"--{name}" if value is None else f"--{name}={value}")
    for key, value in request.setattr.items():
        argv.append(f"--setattr={key}={option_value_text(value)}")
    for key, value in request.setopt.items():
        argv.append(f"--setopt={key}={option_value_text(value)}")
    if request.stage_names:
        argv += ["-o", "stage-in.names=" + ",".join(request.stage_names)]
    if request.ids_file and not waitable:
        argv.append(f"--log={request.ids_file}")
    return argv


def _run_lines(command: list[str], *, mode: str, log: str, marker: str | None) -> str:
    quoted = shlex.join(command)
    if mode == "exec":
        return f"exec {quoted}\n"
    if mode == "watch":
        # Output goes to Flux (for --watch) and to the log; the exit code survives the pipe.
        return (
            f'L={shlex.quote(log)}."$JOBSPEC_TASK_INDEX".log\n'
            f'{{ {quoted}; echo $? > "$L.rc"; }} 2>&1 | tee -a "$L"\n'
            'exit "$(cat "$L.rc")"\n'
        )
    assert marker is not None
    m = shlex.quote(marker)
    return (
        f'M={m}."$JOBSPEC_TASK_INDEX"\n'
        'printf \'start %s %s\\n\' "${FLUX_JOB_ID:-local}" "$(date +%s.%N)" > "$M"\n'
        f"{quoted}\n"
        "rc=$?\n"
        'printf \'end %s %s\\n\' "$rc" "$(date +%s.%N)" >> "$M"\n'
        'exit "$rc"\n'
    )


#: What ``flux submit --cc=0-N-1`` sets in each replica's environment: its index, from 0.
ARRAY_INDEX = "FLUX_JOB_CC"


def launcher_text(
    *,
    task_id: str,
    run_id: str,
    environment: dict[str, str],
    cwd: str,
    command: list[str],
    mode: str,
    log: str,
    marker: str | None = None,
    stage_paths: list[tuple[str, str]] | None = None,
    replicas: int = 1,
    own_job: bool = True,
) -> str:
    """The launcher script of one task.

    :param environment: exported in order (the task's, then the portable variables but
        ``JOBSPEC_TASK_INDEX``, which the script takes from its argument or ``FLUX_JOB_CC``).
    :param mode: ``exec`` (a top-level job: the command replaces the shell), ``watch``
        (a top-level job whose output is also copied to ``log``), ``marker`` (inside a
        group: start and end with exit code are written to ``marker.INDEX``).
    :param log: the log path without ``.INDEX.log`` (used in ``watch`` mode).
    :param stage_paths: ``(path as written, base name)``: where the path is missing on a
        node, it is linked to the copy the stage-in shell plugin extracted into
        ``$FLUX_JOB_TMPDIR``.
    :param own_job: the launcher runs as its own Flux job (not a ``local: true`` line of a
        batch script): a working directory it cannot enter is raised as a job exception of
        type ``cwd`` on ``$FLUX_JOB_ID``, whose note becomes the task's reason (a local
        entry only prints it: its ``$FLUX_JOB_ID`` is the whole group's).
    """
    env_lines = "\n".join(
        f"export {name}={shlex.quote(value)}" for name, value in environment.items()
    )
    stage = ""
    for path, base in stage_paths or []:
        p = shlex.quote(path)
        src = '"$FLUX_JOB_TMPDIR"/' + shlex.quote(base)
        stage += (
            f'if [ ! -e {p} ] && [ -n "${{FLUX_JOB_TMPDIR-}}" ] && [ -e {src} ]; then '
            f'mkdir -p "$(dirname {p})" && ln -s {src} {p}; fi\n'
        )
    why = f"cannot enter the working directory {cwd}: it is missing or not accessible"
    cwd_error = f"echo {shlex.quote('jobspec: ' + why)} >&2; "
    if own_job:
        cwd_error += (
            f'flux job raise --type=cwd --severity=0 "$FLUX_JOB_ID" {shlex.quote(why)} '
            ">/dev/null 2>&1; "
        )
    return template("task.sh").substitute(
        cwd_error=cwd_error,
        task_id=comment(task_id),
        run_id=comment(run_id),
        environment=env_lines,
        cwd=shlex.quote(cwd),
        stage=stage,
        run=_run_lines(command, mode=mode, log=log, marker=marker),
        index_default=array_index_expression(ARRAY_INDEX, 0) if replicas > 1 else "0",
        index_doc="$FLUX_JOB_CC (--cc)" if replicas > 1 else "0: one replica",
    )


def comment_safe(text: Any) -> str:
    """``text`` on one line, for a ``#`` comment (:func:`jobspec_core.scripttext.comment`)."""
    return comment(text)
