"""``jobspec transform -t NAME FILE [-o DIR] [--json]``: exactly what would be submitted.

Validates and plans FILE, checks that the transformer supports every feature the plan uses,
renders it (nothing is executed, no scheduler is needed) and shows the result:

* without ``-o``: each rendered file under a header line ``# ==> NAME <==`` followed by its
  exact content, then the submissions in the order they would be made, as shell-quoted
  command lines with their kind, then the transformer's notes;
* with ``-o DIR``: the files are written into DIR (scripts executable), with
  ``submit.txt`` (the command lines, in order) and ``submission.json`` (units and notes);
  the paths written are printed;
* with ``--json``: :meth:`~jobspec_core.transformer.Submission.to_dict` (with ``-o`` too,
  after writing).

With ``--remote [USER@]HOST[:PORT]`` (or ``$JOBSPEC_REMOTE``) the rendering sees the run
directory a remote run would have (``--remote-dir``/``$JOBSPEC_REMOTE_DIR``/
``~/.jobspec/runs`` under the remote home, asked of HOST over SSH: one login), so the
paths shown are the remote ones.

With parameter values (``--set``, ``--params``; :mod:`._params`) the document is rendered
with them substituted. With a sweep, every combination is planned first (one invalid
combination renders nothing), then each is rendered: printed one after another, each
header naming its values; with ``-o DIR`` into ``DIR/1``, ``DIR/2``, ...; with ``--json``
a list of ``{parameters, submission}``.

Exit codes: 0 rendered; 2 invalid document, unknown transformer (the message lists the
installed ones) or a feature the transformer lacks (every missing feature is listed);
1 the transformer failed while rendering.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import TextIO

from ._params import add_parameter_arguments, parameter_input

__all__ = ["add_parser", "run", "format_submission", "unit_line", "TRANSFORMER_ENV"]

#: environment variable naming the default transformer (the runner reads the same one).
TRANSFORMER_ENV = "JOBSPEC_TRANSFORMER"
#: files ``-o DIR`` writes beside the rendered ones.
SUBMIT_LIST = "submit.txt"
SUBMISSION_JSON = "submission.json"
#: the run directory a rendering is given when no ``-o DIR`` is named.
PLACEHOLDER_RUN_DIR = "jobspec-run"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "transform",
        help="show (or write) exactly what a transformer would submit",
        description="Validate and plan FILE, render it with a transformer and print the "
        "files and the submission commands, in order, without executing anything.",
    )
    parser.add_argument("file", metavar="FILE", help="the jobspec YAML file")
    parser.add_argument(
        "-t",
        "--transformer",
        metavar="NAME",
        help=f"the transformer (default: ${TRANSFORMER_ENV}, else local); "
        "`jobspec transformers` lists them",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help=f"write the files into DIR (with {SUBMIT_LIST} and {SUBMISSION_JSON}) "
        "instead of printing them; DIR is also the run directory the rendering sees",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the submission as JSON (files, units, notes)"
    )
    from ._remote import add_remote_option

    add_remote_option(parser, with_dir=True)
    add_parameter_arguments(parser)
    parser.set_defaults(handler=run)


def unit_line(argv: list[str]) -> str:
    """One submission as a shell command line; every word quoted (``shlex.join``)."""
    return shlex.join(argv)


def _unit_comment(number: int, unit) -> str:
    text = f"# {number}. {unit.kind} {unit.node_id}"
    if unit.instances != 1:
        text += f" ({unit.instances} instances)"
    if unit.depends_on:
        text += f", after {', '.join(unit.depends_on)}"
    if unit.script:
        text += f", submits {unit.script}"
    return text


def format_submission(submission, header: str = "") -> str:
    """The human form of a :class:`~jobspec_core.transformer.Submission`: files with
    ``# ==> NAME <==`` headers and their exact content, the units in order, the notes."""
    out = header
    for name, rendered in submission.files.items():
        mode = " (executable)" if rendered.executable else ""
        out += f"# ==> {name}{mode} <==\n" + rendered.content
        if rendered.content and not rendered.content.endswith("\n"):
            out += "\n# (no newline at end of file)\n"
    out += f"# ==> submissions, in order ({len(submission.units)}) <==\n"
    if any("{id:" in word for unit in submission.units for word in unit.argv):
        out += "# ({id:NODE} stands for the id the scheduler gives NODE when it is submitted)\n"
    for number, unit in enumerate(submission.units, 1):
        out += _unit_comment(number, unit) + "\n" + unit_line(unit.argv) + "\n"
    if submission.notes:
        out += "# ==> notes <==\n" + "".join(f"# - {note}\n" for note in submission.notes)
    return out


def _submit_list(submission) -> str:
    lines = [f"# submissions of {submission.transformer}, in order"]
    for number, unit in enumerate(submission.units, 1):
        lines += [_unit_comment(number, unit), unit_line(unit.argv)]
    lines += [f"# note: {note}" for note in submission.notes]
    return "\n".join(lines) + "\n"


def _capacity(transformer, plan, context) -> str | None:
    """Ask the transformer's capacity as ``jobspec run`` does, so the render shows what would
    run; a scheduler that cannot be asked leaves it unknown (the returned note says so)."""
    from ..errors import JobspecError

    try:
        context.capacity = transformer.capacity(plan, context)
    except JobspecError as exc:
        context.capacity = None
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if len(why) > 120:
            why = why[:117] + "..."
        return f"capacity unknown ({why}): the first resource alternatives are rendered"
    return None


def _render(transformer, name: str, plan, context, debug: bool):
    from ..errors import JobspecError, PluginError
    from ..plugins import get_registry

    try:
        return transformer.render(plan, context)
    except JobspecError:
        raise
    except Exception as exc:
        if debug:
            raise
        plugin = get_registry().provided_by.get(name, "?")
        raise PluginError(
            f"transformer {name!r} (plugin {plugin!r}) failed while rendering: "
            f"{type(exc).__name__}: {exc} (run with --debug for the traceback)"
        ) from exc


def _write(submission, directory: Path, stream: TextIO, quiet: bool) -> None:
    from ..errors import JobspecError, PluginError

    for reserved in (SUBMIT_LIST, SUBMISSION_JSON):
        if reserved in submission.files:
            raise PluginError(
                f"transformer {submission.transformer!r} rendered a file named {reserved!r}, "
                "which jobspec transform writes itself; nothing was written"
            )
    try:
        written = submission.write(directory)
        summary = {k: v for k, v in submission.to_dict().items() if k != "files"}
        summary["files"] = sorted(submission.files)
        (directory / SUBMISSION_JSON).write_text(json.dumps(summary, indent=2) + "\n")
        (directory / SUBMIT_LIST).write_text(_submit_list(submission))
    except ValueError as exc:  # a rendered name escaping the directory
        raise PluginError(f"transformer {submission.transformer!r}: {exc}") from exc
    except OSError as exc:
        raise JobspecError(f"cannot write into {directory}: {exc.strerror or exc}") from exc
    if quiet:
        return
    print(f"wrote {len(written) + 2} files into {directory}:", file=stream)
    for path in [*written, directory / SUBMIT_LIST, directory / SUBMISSION_JSON]:
        print(f"  {path}", file=stream)
    print(f"submissions, in order ({len(submission.units)}):", file=stream)
    for unit in submission.units:
        print(f"  [{unit.kind} {unit.node_id}] {unit_line(unit.argv)}", file=stream)
    for note in submission.notes:
        print(f"note: {note}", file=stream)


def run(args: argparse.Namespace) -> int:
    from ..api import load, plans
    from ..capabilities import check_capabilities
    from ..plugins import get_registry

    name = args.transformer or os.environ.get(TRANSFORMER_ENV) or "local"
    registry = get_registry()
    transformer = registry.transformer(name)  # UnknownTransformer lists the installed ones
    request = parameter_input(args)
    # every combination is valid and supported before anything is rendered
    planned = plans(load(args.file), request.combinations(), registry)
    for plan in planned:
        check_capabilities(plan, transformer, name=name, nothing_was="rendered")
    if not request.is_sweep:
        _show(args, name, transformer, planned[0], None, registry)
        return 0
    answers = []
    for number, plan in enumerate(planned, 1):
        answers.append(_show(args, name, transformer, plan, number, registry))
    if args.json:
        json.dump(answers, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0


def _show(args, name: str, transformer, plan, number: int | None, registry) -> dict:
    """Render ``plan`` and show it as the arguments ask; ``number`` is its place in a
    sweep (``None`` without one). Returns the JSON form for a sweep's list."""
    from ..errors import UsageError
    from ..substitution import describe_values
    from ..transformer import RunContext

    cwd = Path.cwd()
    out_dir = Path(args.output).resolve() if args.output else None
    if out_dir is not None and number is not None:
        out_dir = out_dir / str(number)
    run_dir = out_dir or cwd / PLACEHOLDER_RUN_DIR
    context = RunContext(run_id="RUN_ID", run_dir=run_dir, workdir=cwd)
    from ._remote import remote_target

    target = remote_target(args)
    if target:  # the paths of the remote host: asks it its home (one login)
        from ..remote import REMOTE_HOME, remote_options, remote_run_dir

        if not getattr(transformer, "remote", False):
            raise UsageError(f"the {name} transformer cannot submit to a remote host (--remote)")
        options = remote_options(target, args.remote_dir)
        remote = Path(str(remote_run_dir(options, "RUN_ID")))
        home = Path(options[REMOTE_HOME])
        context = RunContext("RUN_ID", remote, remote, options, home=home)
        run_dir = remote
    from ..satisfy import check_for_submission

    # as `jobspec run` does: alternatives whose requirements are not met are not rendered
    report = check_for_submission(plan, transformer, registry=registry, context=context)
    note = _capacity(transformer, plan, context)
    submission = _render(transformer, name, plan, context, getattr(args, "debug", False))
    if note:
        submission.notes.append(note)
    if report is not None and not report.ok:
        submission.notes.append(f"will be refused: {report.summary()}")
        submission.notes.extend(f"will be refused: {n}: {w}" for n, w in report.refused.items())
    label = f" [{describe_values(plan.parameters)}]" if number is not None else ""
    if out_dir is not None:
        if number is not None and not args.json:
            print(f"# {number}.{label}", file=sys.stdout)
        _write(submission, out_dir, sys.stdout, quiet=args.json)
    if args.json:
        if number is not None:
            return {"parameters": plan.parameters, "submission": submission.to_dict()}
        json.dump(submission.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif not args.output:
        header = (
            f"# jobspec transform -t {name} {plan.source or ''}{label}: nothing below has been "
            f"executed (run id RUN_ID, run dir {run_dir})\n"
        )
        sys.stdout.write(format_submission(submission, header))
    return {}
