"""``jobspec run [-t NAME] [--store PATH] [-O KEY=VALUE]... [--detach] [--json] [-q] FILE``.

Validates and plans FILE (every problem reported, nothing started), submits it through the
transformer (default: ``$JOBSPEC_TRANSFORMER``, else ``local``) and, unless ``--detach``,
follows the run until every task instance has ended (:mod:`jobspec_core.cli.follow`):

* progress on stderr (:mod:`jobspec_core.cli.progress`): on a terminal a live display
  (bar, counts by state, elapsed time, failures with their reasons); off a terminal a line
  per state change for small runs and periodic one-line summaries for large ones;
* tasks with ``watch: true``: their output lines, prefixed ``[task-id.index]``, on stdout
  (on stderr with ``--json``, so that stdout holds only the JSON);
* at the end, the status table grouped by task, failures first (or the status as JSON
  with ``--json``). ``--quiet`` shows no progress and no watched output, and prints only
  the final summary (at most three lines; the JSON with ``--json``).

With ``--remote [USER@]HOST[:PORT]`` (or ``$JOBSPEC_REMOTE``) the scheduler's commands run
on HOST over SSH, in a run directory under ``--remote-dir`` (``$JOBSPEC_REMOTE_DIR``, else
``~/.jobspec/runs`` on HOST); see docs/remote.md.

A plan with requirements is checked against the site first (as ``jobspec satisfy`` does,
with ``--subsystems DIR``): unmet requirements refuse it with the report and nothing is
submitted (exit 1); ``--skip-requirements`` submits without the check. Resource
alternatives whose requirements are not met are not used.

Ctrl-C while following cancels the run. ``--detach`` prints the run id (JSON with
``--json``) and returns at once; follow it with ``jobspec status|wait|cancel|logs``.

Parameters (``--set``, ``--params``, ``--sweep``; :mod:`._params`): the run is planned with
the values, and records them (``jobspec list`` shows them). A sweep makes one run per
combination: every combination is planned, and checked against the transformer's features,
before the first is submitted, so one invalid combination submits nothing. The runs are
then submitted in order and, unless ``--detach``, waited for; one summary per run is
printed (``--json``: a list of statuses; with ``--detach``, of ``{run_id, parameters}``).

Exit codes: 0 every instance completed (or detached after a successful submission);
1 an instance did not complete or the submission failed; 2 invalid input.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import api
from ..errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, JobspecError
from ..runner import TRANSFORMER_ENV, Runner, default_transformer
from ._params import add_parameter_arguments, parameter_input
from ._runs import (
    add_remote_option,
    add_store_option,
    open_runner,
    print_json,
    remote_target,
    show_status,
    summary_lines,
)
from .follow import WatchedOutput, follow
from .progress import make_display

__all__ = ["add_parser", "run", "parse_options"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a jobspec (on this machine by default) and follow it",
        description="Validate FILE, submit it and wait for it, showing progress. "
        "Exit code 0 when every task completed, 1 otherwise, 2 for invalid input.",
    )
    parser.add_argument("file", metavar="FILE", help="the jobspec YAML file")
    parser.add_argument(
        "-t",
        "--transformer",
        metavar="NAME",
        help=f"the transformer (default: ${TRANSFORMER_ENV}, else local)",
    )
    parser.add_argument(
        "-O",
        "--option",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="a transformer option (repeatable), e.g. -O cores=4 for local",
    )
    parser.add_argument(
        "--skip-requirements",
        action="store_true",
        help="submit without checking the plan's requirements against the site",
    )
    parser.add_argument(
        "--subsystems",
        metavar="DIR",
        help="a directory of JGF subsystem files for the requirement check "
        "(default: $JOBSPEC_SUBSYSTEMS)",
    )
    parser.add_argument("--detach", action="store_true", help="print the run id and return at once")
    parser.add_argument("--json", action="store_true", help="print the final status as JSON")
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress and no watched output: print only the final summary",
    )
    add_store_option(parser)
    add_remote_option(parser, with_dir=True)
    add_parameter_arguments(parser)
    parser.set_defaults(handler=run)


def parse_options(items: list[str]) -> dict[str, str]:
    """``["cores=4"]`` -> ``{"cores": "4"}``; a malformed item is a usage error."""
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise _UsageError(f"option {item!r}: expected KEY=VALUE, e.g. cores=4")
        out[key.strip()] = value
    return out


class _UsageError(JobspecError):
    exit_code = EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    target = remote_target(args)
    if target:  # the login (in the background) overlaps with loading and planning
        from ..remote import REMOTE, runner_for

        runner_for({REMOTE: target}).start_connecting(ask_home=True)  # type: ignore[attr-defined]
    request = parameter_input(args)
    planned = api.plans(api.load(args.file), request.combinations())
    options = parse_options(args.option)
    bad = sorted(k for k in options if k.startswith("_"))
    if bad:
        raise _UsageError(f"option {bad[0]!r}: names starting with '_' are jobspec's own")
    runner = open_runner(args)
    remote = None
    if target and not isinstance(runner, Runner):
        raise _UsageError("--remote and --server cannot be combined: a service submits itself")
    if target:  # logged in once (a clear error when it cannot), before anything is recorded
        from ..remote import remote_options

        remote = remote_options(target, args.remote_dir)
    checks: dict = {}  # only what differs from the default: a service client takes none
    if args.skip_requirements:
        checks["check_requirements"] = False
    if args.subsystems:
        checks["subsystems"] = args.subsystems
    if checks and not isinstance(runner, Runner):
        raise _UsageError(
            "--skip-requirements and --subsystems apply to local submissions: the service "
            "checks requirements against its own site"
        )
    if request.is_sweep:
        return _sweep(args, runner, planned, options, remote, checks)
    plan = planned[0]
    run_id = _submit(runner, plan, args.transformer, options, remote, checks)
    if args.detach:
        if args.json:
            print_json({"run_id": run_id})
        else:
            print(run_id)
        return EXIT_OK
    record = runner.record(run_id)
    if not args.quiet:
        print(
            f"jobspec: run {run_id} submitted to {record.run.transformer} "
            f"({len(record.tasks)} task instances)",
            file=sys.stderr,
        )
    # with --json, stdout carries only the JSON: watched output goes to stderr
    out = sys.stderr.buffer if args.json else sys.stdout.buffer
    display = make_display(record, quiet=args.quiet, out=out)
    status = follow(runner, run_id, display, WatchedOutput.of(plan, record))
    if args.quiet and not args.json:
        print("\n".join(summary_lines(status)))
    else:
        show_status(status, args.json)
    return EXIT_OK if status.succeeded else EXIT_FAILURE


def _submit(
    runner, plan, transformer: str | None, options: dict[str, str], remote, checks: dict
) -> str:
    """Submit ``plan``; ``remote``: the options of a remote run; ``checks``: the requirement
    check's settings that differ from the default. A service's client takes neither (both
    are refused with --server before)."""
    extra = dict(checks)
    if remote is not None:
        extra["remote"] = remote
    return runner.submit(plan, transformer, workdir=Path(os.getcwd()), options=options, **extra)


def _check_requirements_of_all(planned: list, backend, runner, subsystems) -> None:
    """Every combination of a sweep meets its requirements on ``backend``'s site, or none is
    submitted: the first refusal is raised, naming its values (each submission checks
    again, against the run context it gets)."""
    from ..satisfy import refuse_unmet
    from ..substitution import describe_values

    for plan in planned:
        label = f"[{describe_values(plan.parameters)}] "
        refuse_unmet(plan, backend, registry=runner.registry, subsystems=subsystems, label=label)


def _sweep(
    args: argparse.Namespace,
    runner,
    planned: list,
    options: dict[str, str],
    remote=None,
    checks: dict | None = None,
) -> int:
    """Submit one run per plan (all checked first), then wait for each unless detached."""
    from ..capabilities import check_capabilities
    from ..substitution import describe_values

    name = args.transformer or default_transformer()
    if isinstance(runner, Runner):  # a service checks each run itself
        backend = runner.registry.transformer(name)
        for plan in planned:
            check_capabilities(plan, backend, name=name)
        checks = checks or {}
        if remote is None and checks.get("check_requirements", True):
            _check_requirements_of_all(planned, backend, runner, checks.get("subsystems"))
    submitted: list[tuple[str, dict]] = []
    for plan in planned:
        try:
            run_id = _submit(runner, plan, args.transformer, options, remote, checks or {})
        except JobspecError:
            if submitted:
                done = ", ".join(run_id for run_id, _ in submitted)
                print(
                    f"jobspec: the sweep stopped after {len(submitted)} of {len(planned)} runs "
                    f"were submitted ({done}); they go on",
                    file=sys.stderr,
                )
            raise
        submitted.append((run_id, plan.parameters))
        if not args.quiet and not (args.detach and not args.json):
            print(
                f"jobspec: run {run_id} submitted [{describe_values(plan.parameters)}]",
                file=sys.stderr,
            )
        if args.detach and not args.json:
            print(f"{run_id}\t{describe_values(plan.parameters)}")
    if args.detach:
        if args.json:
            print_json([{"run_id": r, "parameters": p} for r, p in submitted])
        return EXIT_OK
    statuses = [runner.wait(run_id) for run_id, _ in submitted]
    if args.json:
        print_json([st.to_dict() for st in statuses])
    else:
        for (_, values), status in zip(submitted, statuses, strict=True):
            lines = summary_lines(status)
            lines[0] += f" [{describe_values(values)}]"
            print("\n".join(lines))
    return EXIT_OK if all(st.succeeded for st in statuses) else EXIT_FAILURE
