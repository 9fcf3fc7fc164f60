"""Where each task or group instance runs, and where its ``write`` steps land.

The one home of these rules (``spec/spec.md``, "Working directory" and "Write"); every
backend and the runner call them:

* :func:`working_directory`: a node's ``cwd`` made absolute. No ``cwd``: the directory the
  run was submitted from (``RunContext.workdir``). A relative ``cwd`` is joined to that
  directory. ``~`` and ``~/x`` are the home directory of the submitting user
  (``RunContext.home``), so every backend means the same directory whatever the home of
  the user a scheduler runs the job as. ``~user`` is refused by validation. The result is
  normalised lexically (``a/../b`` is ``b``); symbolic links are not resolved.
* The working directory is also the node's **staging directory**: ``write`` steps write
  there, ``stage`` paths are relative to it (:func:`step_path`).
* :func:`carry_out_writes`: every ``write`` step of a plan, written by the runner at
  submission, on the submitting host, before anything is submitted. Batch backends rely
  on the working directory being on a file system shared with the compute nodes (the
  usual arrangement of a cluster's home and project directories).
* :func:`safe_write`: a file is written below its directory and never outside it: no
  absolute path, no ``..``, no empty or ``.`` component, no NUL, and no symbolic link on
  the way (each component is opened with ``O_NOFOLLOW`` relative to its parent's
  descriptor, so a link planted in the staging directory is refused, not followed); the
  content goes to a temporary name in the same directory and is renamed into place.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from .errors import StepError
from .plan import Plan, PlanNode, Step
from .transformer import RunContext

__all__ = [
    "resolve_cwd",
    "working_directory",
    "step_path",
    "planned_writes",
    "safe_write",
    "carry_out_writes",
    "cwd_problem",
    "control_problem",
]


def control_problem(text: str, nul_only: bool = False) -> str | None:
    """Why ``text`` (a path) cannot be written into a script or a directive line, or
    ``None``: a NUL (no process argument can carry it) or, unless ``nul_only``, another
    control character (a newline would end a ``#$ -wd`` directive line and start a new
    one)."""
    for char in text:
        if char == "\x00" or (not nul_only and (char < " " or char == "\x7f")):
            what = "a NUL byte" if char == "\x00" else f"the control character U+{ord(char):04X}"
            return (
                f"{text!r} contains {what}; expected a path of printable characters (a path "
                "goes into job scripts and scheduler directives)"
            )
    return None


def cwd_problem(cwd: str, stage: bool = False) -> str | None:
    """Why ``cwd`` (or, with ``stage``, a ``stage`` path) is not acceptable, or ``None``.

    ``~user`` is refused: which user's home that names depends on the machine where it is
    looked up, and a job must mean the same directory on every backend. A NUL is refused;
    so are other control characters in a ``cwd``, which backends write into scheduler
    directives (a ``stage`` path only reaches argv lists and quoted script words).
    """
    control = control_problem(cwd, nul_only=stage)
    if control:
        return control
    if cwd.startswith("~") and cwd != "~" and not cwd.startswith("~/"):
        return (
            f"{cwd!r}: '~user' is not supported (it depends on the machine where it is looked "
            "up); expected '~', '~/path', an absolute path or a path relative to the submit "
            "directory"
        )
    return None


def resolve_cwd(cwd: str | None, context: RunContext) -> Path:
    """The absolute directory ``cwd`` (an ``attributes.cwd`` value) names in ``context``.

    See the module docstring for the rules. Raises :class:`ValueError` for ``~user``
    (validation refuses it first).
    """
    if not cwd:
        return Path(os.path.normpath(str(context.workdir)))
    return _resolve(cwd, Path(context.workdir), context)


def _resolve(path: str, base: Path, context: RunContext, stage: bool = False) -> Path:
    problem = cwd_problem(path, stage=stage)
    if problem:
        raise ValueError(problem)
    if path == "~" or path.startswith("~/"):
        root, rest = str(context.home), path[2:]
    else:
        root, rest = str(base), path
    return Path(os.path.normpath(os.path.join(root, rest) if rest else root))


def step_path(node: PlanNode, path: str, context: RunContext) -> Path:
    """The absolute path a step of ``node`` names (a ``stage`` path): relative to the node's
    working directory, ``~`` and ``~/x`` in the submitting user's home, absolute as is;
    normalised like :func:`resolve_cwd`."""
    return _resolve(path, working_directory(node, context), context, stage=True)


def working_directory(node: PlanNode, context: RunContext) -> Path:
    """The absolute working directory of every instance of ``node`` (a task or a group);
    it is also the node's staging directory. ``cwd`` is inherited, so a task inside a
    group with a ``cwd`` runs there unless it sets its own."""
    return resolve_cwd(node.attributes.cwd, context)


def planned_writes(plan: Plan, context: RunContext) -> Iterator[tuple[PlanNode, Step, Path]]:
    """Every ``write`` step of ``plan`` in plan order: ``(node, step, target)``, the target
    being the step's path inside the node's working directory (not yet checked for
    links: :func:`safe_write` does that when writing)."""
    for node, _ in plan.walk():
        for step in node.steps:
            if step.name == "write":
                yield node, step, working_directory(node, context) / str(step.options["path"])


def _open_dir(parent_fd: int, name: str) -> int:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(name, flags, dir_fd=parent_fd)
    except FileNotFoundError:
        try:
            os.mkdir(name, 0o755, dir_fd=parent_fd)
        except FileExistsError:
            pass  # made meanwhile (or a dangling link, refused by the open below)
        return os.open(name, flags, dir_fd=parent_fd)


def _parts(relpath: str) -> list[str]:
    """The components of a ``write`` path, refused by the same rule as at validation
    (:func:`.builtin_steps.write_target_problem`)."""
    from .builtin_steps import write_target_problem

    if not isinstance(relpath, str):
        raise StepError(f"write: {relpath!r}: expected a non-empty relative file name")
    problem = write_target_problem(relpath)
    if problem:
        raise StepError(f"write: {relpath!r} {problem}")
    return relpath.split("/")


def _make_base(directory: Path) -> int:
    """Open ``directory`` (created with its parents when missing) as a descriptor."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        return os.open(str(directory), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise StepError(f"write: staging directory {directory}: {exc.strerror}") from exc


def safe_write(
    directory: Path, relpath: str, content: str | bytes, *, executable: bool = False
) -> Path:
    """Write ``content`` to ``relpath`` below ``directory`` (created when missing);
    return the path written. Mode 0755 when ``executable``, else 0644. Missing
    subdirectories are created. Raises :class:`~jobspec_core.errors.StepError` when the
    path is not a plain relative name, when a component on the way is a symbolic link or
    not a directory, or when the file cannot be written (nothing is left half-written)."""
    parts = _parts(relpath)
    data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    directory = Path(directory)
    fd = _make_base(directory)
    try:
        for i, part in enumerate(parts[:-1]):
            try:
                nfd = _open_dir(fd, part)
            except OSError as exc:
                where = "/".join(parts[: i + 1])
                raise StepError(
                    f"write: cannot enter {where!r} of {relpath!r} in {directory} "
                    f"({exc.strerror}; a symbolic link is never followed)"
                ) from exc
            os.close(fd)
            fd = nfd
        name = parts[-1]
        tmp = f".{name}.jobspec-tmp-{os.getpid()}"
        mode = 0o755 if executable else 0o644
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is not None and not _is_regular(st.st_mode):
            raise StepError(
                f"write: {relpath!r} in {directory} exists and is not a regular file "
                "(a symbolic link is never followed)"
            )
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            try:
                os.unlink(tmp, dir_fd=fd)
            except FileNotFoundError:
                pass
            out = os.open(tmp, flags, mode, dir_fd=fd)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(out, view) :]
                os.fchmod(out, mode)
            finally:
                os.close(out)
            os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
        except OSError as exc:
            try:
                os.unlink(tmp, dir_fd=fd)
            except OSError:
                pass
            raise StepError(
                f"write: cannot write {relpath!r} in {directory}: {exc.strerror}"
            ) from exc
    finally:
        os.close(fd)
    return directory.joinpath(*parts)


def _is_regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)


def carry_out_writes(plan: Plan, context: RunContext) -> list[Path]:
    """Carry out every ``write`` step of ``plan``: each file written with
    :func:`safe_write` into its node's working directory. Called by the runner at
    submission on the submitting host, before anything is submitted; the first failure
    raises :class:`~jobspec_core.errors.StepError` naming the node."""
    from .remote import local_path  # a remote run writes into its mirror, sent over later

    written = []
    for node, step, _ in planned_writes(plan, context):
        try:
            written.append(
                safe_write(
                    local_path(working_directory(node, context)),
                    str(step.options["path"]),
                    str(step.options.get("content", "")),
                    executable=bool(step.options.get("executable", False)),
                )
            )
        except StepError as exc:
            raise StepError(f"{node.id}: {exc}; nothing was submitted") from exc
    return written
