"""Render a plan into a Flux submission: files and ``flux`` commands, with no Flux present.

* A top-level task is one ``flux submit`` (replicas: one ``flux submit --cc=0-N-1``).
* A group is one ``flux batch`` of ``groups/<id>.sh``, whose script submits the group's tasks
  with ``flux submit --flags=waitable`` inside the nested instance and ends with
  ``flux job wait --all``; a nested group is a ``flux batch`` line of its parent's script.
* ``local: true`` entries are plain lines of the batch script (run in document order, each
  after every entry above it has finished, and after its own ``depends_on`` succeeded). A
  top-level ``local`` task has no enclosing batch script: it is submitted like any task
  (the enclosing allocation is then the Flux instance itself).
* ``depends_on`` becomes ``--dependency=afterok:ID`` with the ids captured at submission
  (``{id:NODE}`` placeholders in unit argv; ``$J_n`` variables in batch scripts). Entries
  are submitted in document order, except that an entry waits for the entries it depends on.
* Every task's environment, working directory and command live in its launcher
  ``tasks/<id>.sh`` (see :func:`jobspec_flux.scripts.launcher_text`).
* ``write`` steps are carried out by the runner before submission, into each task's
  working directory (:mod:`jobspec_core.workdirs`; ``submit.sh`` names them in comments);
  ``stage`` steps become ``flux archive create`` (before submission, or
  in the batch script for tasks inside a group) and ``-o stage-in.names=``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath

from jobspec_core.alternatives import Capacity, fitted, unrunnable
from jobspec_core.errors import InvalidJobspec, Problem
from jobspec_core.ordering import PLACEHOLDER, submission_order
from jobspec_core.plan import Plan, PlanGroup, PlanNode, PlanTask
from jobspec_core.transformer import (
    RenderedFile,
    RunContext,
    Submission,
    SubmissionUnit,
    portable_environment,
)
from jobspec_core.workdirs import planned_writes, step_path, working_directory

from .batch import BatchScripts
from .jobs import (
    JobRequest,
    kind_of,
    of_totals,
    passthrough_options,
    resource_request,
)
from .layout import Layout, safe_name
from .scripts import (
    DEPENDENCY_PREFIX,
    dependency_word,
    flux_argv,
    launcher_text,
    stage_archive_argv,
)

__all__ = ["render_plan", "RenderResult", "StageArchive"]

TRANSFORMER = "flux"


@dataclass
class StageArchive:
    """One ``flux archive create``: archive ``name`` of ``base`` inside ``directory``."""

    name: str
    directory: str
    base: str
    path: str  #: the path as written in the step


@dataclass
class RenderResult:
    """Everything submit needs: the :class:`Submission` and, carried in its ``data`` so
    that submit reads back what was rendered (:meth:`to_data`, :meth:`from_submission`),
    the structured requests, their order and the stage archives."""

    submission: Submission
    requests: dict[str, JobRequest] = field(default_factory=dict)  #: top-level node id ->
    order: list[str] = field(default_factory=list)  #: top-level node ids, submission order
    stages: dict[str, list[StageArchive]] = field(default_factory=dict)  #: top-level node ->

    def to_data(self) -> dict:
        """The JSON-able form stored in ``Submission.data``."""
        return {
            "requests": {k: r.to_dict() for k, r in self.requests.items()},
            "order": list(self.order),
            "stages": {k: [asdict(a) for a in v] for k, v in self.stages.items()},
        }

    @classmethod
    def from_submission(cls, submission: Submission) -> RenderResult:
        """What :func:`render_plan` produced, read back from ``submission.data``; a
        submission rendered by something else is refused."""
        data = submission.data
        if submission.transformer != TRANSFORMER or "requests" not in data:
            raise ValueError(
                f"not a Flux submission (transformer {submission.transformer!r}, no requests "
                "in its data): submit what FluxTransformer.render produced"
            )
        return cls(
            submission,
            {k: JobRequest.from_dict(r) for k, r in data["requests"].items()},
            list(data["order"]),
            {k: [StageArchive(**a) for a in v] for k, v in data["stages"].items()},
        )


_BRACES = re.compile(r"[{}]")


class _Renderer(BatchScripts):
    def __init__(self, plan: Plan, context: RunContext):
        self.plan = plan
        self.context = context
        self.layout = Layout(context.run_dir)
        self.files: dict[str, RenderedFile] = {}
        self.notes: list[str] = []
        self.result = RenderResult(Submission(TRANSFORMER))
        self._locals: set[str] = set()
        #: group id -> the resource fields its batch job asks for
        self.group_fields: dict[str, dict] = {}
        for where in (str(context.run_dir), str(context.workdir)):
            if _BRACES.search(where):
                raise self._error(
                    f"the run or work directory {where!r} contains {{ or }}, which Flux treats as a "
                    "template in --output and --cc arguments; expected a path without braces"
                )

    def _error(self, message: str, node: PlanNode | None = None) -> InvalidJobspec:
        src = node.source if node is not None else None
        return InvalidJobspec(
            [
                Problem(
                    message,
                    path=src.path if src else "",
                    file=(src.file if src else None) or self.plan.source,
                    line=src.line if src else None,
                    column=src.column if src else None,
                    code="flux-render",
                )
            ]
        )

    # -- common pieces ---------------------------------------------------------------

    def _cwd(self, node: PlanNode) -> str:
        return str(working_directory(node, self.context))

    def _stages(self, node: PlanNode, ancestors: list[PlanGroup]) -> list[StageArchive]:
        out = []
        for owner in [*ancestors, node]:
            for n, step in enumerate(owner.steps):
                if step.name != "stage":
                    continue
                path = str(step.options["path"])
                full = PurePosixPath(step_path(node, path, self.context))
                base = full.name or "."
                name = f"jobspec.{safe_name(self.context.run_id)}.{safe_name(owner.id)}.{n}"
                out.append(StageArchive(name, str(full.parent), base, str(full)))
        return out

    def _request(self, node: PlanNode, ancestors: list[PlanGroup], *, inner: bool) -> JobRequest:
        attrs = node.attributes
        options, setattr, setopt = passthrough_options(
            attrs.passthrough.get("flux", {}), self.notes, node.id
        )
        stages = self._stages(node, ancestors) if isinstance(node, PlanTask) else []
        replicas = node.replicas if isinstance(node, PlanTask) else 1
        watch = attrs.watch and isinstance(node, PlanTask) and not inner
        if attrs.watch and inner and isinstance(node, PlanTask):
            self.notes.append(
                f"{node.id}: watch has no effect inside a group (its output goes to its log)"
            )
        if isinstance(node, PlanTask):
            command = ["/bin/sh", self.layout.path(self.layout.launcher(node.id))]
            output = "" if watch else self.layout.log(node.id, "{cc}" if replicas > 1 else 0)
        else:
            command = [self.layout.path(self.layout.batch(node.id))]
            output = self.layout.log(node.id, "batch")
        request = JobRequest(
            node_id=node.id,
            kind=kind_of(node),
            command=command,
            replicas=replicas,
            duration=attrs.duration,
            cwd=self._cwd(node),
            output=output,
            watch=watch,
            depends_on=list(node.depends_on),
            options=options,
            setattr=setattr,
            setopt=setopt,
            stage_names=[s.name for s in stages],
            **resource_request(node, self.notes, self._capacity(ancestors)),
        )
        if inner and request.duration is not None:
            limits = [g.attributes.duration for g in ancestors if g.attributes.duration]
            if limits and request.duration >= min(limits):
                request.duration = None  # the group's own limit stops it (see jobs.py)
        if replicas > 1:
            self._check_cc_safe(node, request)
            if not inner:
                request.ids_file = self.layout.ids_file(node.id)
        return request

    def _capacity(self, ancestors: list[PlanGroup]) -> Capacity | None:
        """What the nearest enclosing group's allocation offers; at the top level, the
        instance's resources as asked before rendering (``context.capacity``)."""
        if not ancestors:
            return self.context.capacity
        group = ancestors[-1]
        fields = self.group_fields.get(group.id)
        if fields is None:
            return None
        nodes = max(fields["nodes"], 1)
        cores = fields["slots"] * fields["cores_per_slot"]
        gpus = fields["slots"] * fields["gpus_per_slot"]
        return of_totals(nodes, cores, gpus)

    def _refuse_unrunnable(self) -> None:
        """Refuse, before anything is rendered or submitted, a top-level node that no
        alternative lets run in the instance (Decision 23): Flux would fail it as
        unsatisfiable once submitted, after its dependencies. A group summing its
        children counts the alternative each child uses (:func:`fitted`)."""
        capacity = self.context.capacity
        if capacity is None:
            return
        for node in self.plan.children:
            reason = unrunnable(fitted(node, capacity), capacity)
            if reason:
                raise self._error(
                    f"{node.id}: {reason}; the Flux instance has {capacity.describe()}", node
                )

    def _check_cc_safe(self, node: PlanNode, request: JobRequest) -> None:
        # With --cc, flux-submit(1) formats every argument with str.format ({cc}). A working
        # directory with braces is left to the launcher's cd; other values cannot be passed.
        if _BRACES.search(request.cwd):
            request.cwd = ""
        words = [str(v) for _, v in request.options]
        words += [f"{k}={v}" for k, v in {**request.setattr, **request.setopt}.items()]
        for word in words:
            if _BRACES.search(word):
                raise self._error(
                    f"{word!r} contains {{ or }}, which flux submit --cc (replicas) would "
                    "substitute; expected a value without braces for a replicated task",
                    node,
                )

    def _launcher(self, task: PlanTask, ancestors: list[PlanGroup], *, inner: bool) -> None:
        env = dict(task.attributes.environment)
        portable = portable_environment(self.context.run_id, task, None)  # index: the launcher's
        env.update(portable)
        if inner:
            mode = "marker"
        elif task.attributes.watch:
            mode = "watch"
        else:
            mode = "exec"
        stages = self._stages(task, ancestors)
        self.files[self.layout.launcher(task.id)] = RenderedFile(
            launcher_text(
                task_id=task.id,
                run_id=self.context.run_id,
                environment=env,
                cwd=self._cwd(task),
                command=task.command,
                mode=mode,
                log=self.layout.log_prefix(task.id),
                marker=self.layout.marker(task.id, "").rstrip("."),
                stage_paths=[(s.path, s.base) for s in stages],
                replicas=task.replicas,
                own_job=not (inner and task.local),
            ),
            executable=True,
        )

    # -- top level -------------------------------------------------------------------

    def run(self) -> RenderResult:
        self._current_stages: dict[str, list[StageArchive]] = {}

        def visit(nodes: list[PlanNode], ancestors: list[PlanGroup]) -> None:
            for node in nodes:
                if isinstance(node, PlanTask):
                    self._current_stages[node.id] = self._stages(node, ancestors)
                else:
                    visit(node.children, [*ancestors, node])

        visit(self.plan.children, [])
        self._refuse_unrunnable()
        script = [
            "#!/bin/sh",
            f"# What jobspec-flux submits for run {self.context.run_id}, in order, as a shell",
            "# script a person can read (jobspec submits the same commands from Python).",
            "set -e",
            'deps() { for j in "$@"; do printf \' --dependency=afterok:%s\' "$j"; done; }',
        ]
        for node in submission_order(self.plan.children):
            if isinstance(node, PlanTask):
                self._launcher(node, [], inner=False)
            else:
                self._batch(node, [])
            request = self._request(node, [], inner=False)
            self.result.requests[node.id] = request
            self.result.order.append(node.id)
            stages = self._current_stages.get(node.id, [])
            self.result.stages[node.id] = stages
            argv = flux_argv(request)
            argv += [dependency_word(d) for d in request.depends_on]
            argv += request.command
            kind = (
                "allocation"
                if isinstance(node, PlanGroup)
                else ("array" if request.replicas > 1 else "job")
            )
            instances = (
                sum(t.replicas for t in _tasks_in(node))
                if isinstance(node, PlanGroup)
                else request.replicas
            )
            script_name = (
                self.layout.batch(node.id)
                if isinstance(node, PlanGroup)
                else (self.layout.launcher(node.id))
            )
            self.result.submission.units.append(
                SubmissionUnit(
                    node_id=node.id,
                    kind=kind,
                    argv=argv,
                    script=script_name,
                    depends_on=list(request.depends_on),
                    instances=instances,
                )
            )
            for archive in stages:
                script.append(
                    shlex.join(stage_archive_argv(archive.name, archive.directory, archive.base))
                )
            shown = [
                f"$(deps $J_{safe_var(d)})" if d else shlex.quote(a)
                for a, d in zip(argv, _deps_for(argv), strict=True)
            ]
            if request.ids_file:  # the ids are in one file per replica, not on stdout
                ids = shlex.quote(request.ids_file.replace("{cc}", "")).replace("..", ".*.")
                shown.append(f"&& cat {ids}")
            script.append(f"J_{safe_var(node.id)}=$({' '.join(shown)})")
        writes = [
            f"# jobspec writes {shlex.quote(str(target))} (write step of {node.id}) before this"
            for node, _, target in planned_writes(self.plan, self.context)
        ]
        script[5:5] = writes
        self.files["submit.sh"] = RenderedFile("\n".join(script) + "\n", executable=True)
        sub = self.result.submission
        sub.files = dict(sorted(self.files.items()))
        sub.notes = list(dict.fromkeys(self.notes))
        sub.data = self.result.to_data()
        return self.result


def safe_var(node_id: str) -> str:
    """A shell variable suffix for a node id."""
    return re.sub(r"[^A-Za-z0-9_]", "_", node_id)


def _deps_for(argv: list[str]) -> list[str]:
    """For each word: the node id it depends on (a dependency word), else ``""``."""
    out = []
    for a in argv:
        m = PLACEHOLDER.fullmatch(a[len(DEPENDENCY_PREFIX) :])
        out.append(m.group(1) if a.startswith(DEPENDENCY_PREFIX) and m else "")
    return out


def _tasks_in(group: PlanGroup) -> list[PlanTask]:
    out: list[PlanTask] = []
    for child in group.children:
        if isinstance(child, PlanGroup):
            out += _tasks_in(child)
        else:
            out.append(child)
    return out


def render_plan(plan: Plan, context: RunContext) -> RenderResult:
    """Render ``plan`` (pure: nothing is executed and Flux need not be installed)."""
    return _Renderer(plan, context).run()
