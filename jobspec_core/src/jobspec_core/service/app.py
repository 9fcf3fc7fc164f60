"""The ASGI application of ``jobspec serve`` (FastAPI): :func:`create_app`.

Why FastAPI: it serves the OpenAPI document and its browsable documentation from the same
declarations that parse and check the requests (``/openapi.json``, ``/docs``), runs plain
functions in a thread pool (the runner and the SQLite store are synchronous) and is a
thin, well-kept layer over Starlette on uvicorn.

Endpoints (all under ``/api/v1``, all but ``/health`` need ``Authorization: Bearer``):

========================  ==========================================================
``GET  /transformers``    installed transformers, their features
``POST /validate``        ``{jobspec, filename?, parameters?}`` -> 200 ``{valid, tasks,
                          groups}``; 422 with every problem (line, column, document path)
                          when invalid
``POST /runs``            ``{jobspec, transformer?, options?, filename?, parameters?}`` ->
                          201 ``{run_id}``
``GET  /runs``            the caller's runs (an administrator's: every run)
``GET  /runs/{id}``       one run's status, asked of its transformer
``POST /runs/{id}/cancel``  cancel it; its status
``GET  /runs/{id}/logs``  its logs (``?task=ID`` or ``ID.INDEX``), streamed as text
========================  ==========================================================

Errors are JSON ``{"error": message}`` (plus ``problems`` for an invalid jobspec): 401
unauthenticated, 404 unknown run *or another user's run* (the two are not told apart),
413 body over :attr:`ServiceSettings.max_body`, 422 invalid jobspec, 400 other invalid
input, 502 the scheduler failed. No response and no log line carries a traceback or a
token.
"""

# No "from __future__ import annotations": FastAPI reads the endpoints' annotations
# (Caller, defined inside create_app) at definition time.

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from .. import api
from ..errors import (
    EXIT_USAGE,
    InvalidJobspec,
    JobspecError,
    RequirementsNotMet,
    StoreError,
)
from ..plan import PlanGroup
from ..plugins import get_registry
from ..runner import Runner, default_transformer
from ..store import RunStore
from ..tokens import Principal
from .auth import Authenticator, OidcSettings
from .page import STATUS_PAGE

__all__ = ["ServiceSettings", "create_app"]

log = logging.getLogger("jobspec.serve")


@dataclass
class ServiceSettings:
    """How one service runs.

    :ivar store: the run store path (``None``: the default location).
    :ivar max_body: largest request body in bytes (a jobspec is at most a few MiB).
    :ivar oidc: accept an identity provider's JWTs besides jobspec tokens.
    :ivar workdir: parent of each user's working directory (``work/<user>`` beside the runs directory
        by default): the working directory of the runs a user submits through the service.
    """

    store: str | None = None
    max_body: int = 4 * 1024 * 1024
    oidc: OidcSettings | None = None
    workdir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class JobspecText(BaseModel):
    jobspec: str = Field(description="the JobSpec document, as YAML text")
    filename: str | None = Field(None, description="a name for messages (no file is read)")
    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="values for the jobspec's parameters (name -> value: the value, or "
        "text that reads as one); defaults fill the rest",
    )


class SubmitRequest(JobspecText):
    transformer: str | None = Field(None, description="backend name (default: the server's)")
    options: dict[str, str] = Field(default_factory=dict, description="transformer options")


class _BodyLimit:
    """ASGI middleware: 413 for a body over ``limit`` bytes, declared or streamed.

    The body is read (up to the limit) before the application sees the request, so an
    oversized body is refused without being parsed and without reaching any handler.
    """

    def __init__(self, app: Callable, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                return await _too_large(send, self.limit)
        messages = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                return await _too_large(send, self.limit)
            if not message.get("more_body", False):
                break

        async def replay():
            return messages.pop(0) if messages else await receive()

        return await self.app(scope, replay, send)


async def _too_large(send, limit: int) -> None:
    body = json.dumps({"error": f"request body over {limit} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The application for ``settings`` (see the module's contract)."""
    settings = settings or ServiceSettings()
    local = threading.local()

    def store() -> RunStore:
        # sqlite3 connections belong to one thread: one store per worker thread.
        if getattr(local, "store", None) is None:
            local.store = RunStore(settings.store)
        return local.store

    def runner() -> Runner:
        if getattr(local, "runner", None) is None:
            local.runner = Runner(store())
        return local.runner

    def authenticator() -> Authenticator:
        if getattr(local, "auth", None) is None:
            local.auth = Authenticator(store(), settings.oidc)
        return local.auth

    app = FastAPI(
        title="jobspec",
        version="1",
        description="Validate, submit and follow JobSpec v1 runs.",
    )

    class _Unauthorized(Exception):
        pass

    class _NotFound(Exception):
        def __init__(self, message: str = "no such run"):
            super().__init__(message)

    def caller(request: Request) -> Principal:
        principal = authenticator().principal(request.headers.get("authorization"))
        if principal is None:
            raise _Unauthorized()
        return principal

    Caller = Annotated[Principal, Depends(caller)]

    def own_run(run_id: str, who: Principal) -> str:
        """The run ``run_id`` (or ``latest``: the caller's latest) if the caller may see it;
        404 alike for unknown runs and other users' runs."""
        if run_id == "latest":
            runs = store().list_runs(1, None if who.admin else who.user)
            if not runs:
                raise _NotFound()
            return runs[0].run_id
        try:
            run = store().get_run(run_id)
        except StoreError:
            raise _NotFound() from None
        if not who.admin and run.owner != who.user:
            raise _NotFound()
        return run.run_id

    @app.exception_handler(_Unauthorized)
    async def _unauthorized(request, exc):
        return JSONResponse(
            {"error": "authentication required: Authorization: Bearer TOKEN"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(_NotFound)
    async def _not_found(request, exc):
        return JSONResponse({"error": str(exc)}, status_code=404)

    @app.exception_handler(InvalidJobspec)
    async def _invalid(request, exc: InvalidJobspec):
        return JSONResponse(
            {"error": "invalid jobspec", "problems": [p.to_dict() for p in exc.problems]},
            status_code=422,
        )

    @app.exception_handler(JobspecError)
    async def _jobspec_error(request, exc: JobspecError):
        status = 400 if exc.exit_code == EXIT_USAGE else 502
        if isinstance(exc, RequirementsNotMet):  # the service's site lacks something
            status = 409
        return JSONResponse({"error": str(exc)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request, exc: RequestValidationError):
        said = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        return JSONResponse({"error": f"malformed request: {said}"}, status_code=400)

    @app.exception_handler(Exception)
    async def _internal(request, exc: Exception):
        # One line, no traceback (the contract): the type and message name the fault.
        log.error(
            "internal error on %s %s: %s: %s",
            request.method,
            request.url.path,
            type(exc).__name__,
            exc,
        )
        return JSONResponse({"error": "internal error"}, status_code=500)

    def _plan(body: JobspecText):
        """The plan of the request's jobspec with its parameters (422 when invalid)."""
        from ..parameters import given_mapping

        document = api.load_text(body.jobspec, body.filename or "<request>")
        if document.problems:
            raise InvalidJobspec(list(document.problems))
        return api.plan(document, parameters=given_mapping(body.parameters, "the request"))

    @app.get("/api/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/transformers")
    def transformers(who: Caller) -> list[dict[str, Any]]:
        registry = get_registry()
        out = []
        for name in sorted(registry.transformers):
            cls = registry.transformers[name]
            out.append(
                {
                    "name": name,
                    "description": cls.description,
                    "features": sorted(cls.capabilities),
                    "version": cls.version(),
                }
            )
        return out

    @app.post("/api/v1/validate")
    def validate(body: JobspecText, who: Caller) -> dict[str, Any]:
        plan = _plan(body)
        groups = sum(1 for node, _ in plan.walk() if isinstance(node, PlanGroup))
        return {
            "valid": True,
            "problems": [],
            "tasks": sum(1 for _ in plan.tasks()),
            "groups": groups,
        }

    @app.post("/api/v1/runs", status_code=201)
    def submit(body: SubmitRequest, who: Caller) -> dict[str, Any]:
        plan = _plan(body)
        workdir = (settings.workdir or store().runs_dir.parent / "work") / who.user
        workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        run_id = runner().submit(
            plan,
            body.transformer or default_transformer(),
            workdir=workdir,
            options=dict(body.options),
            owner=who.user,
        )
        log.info("run %s submitted by %s", run_id, who.user)
        return {"run_id": run_id}

    @app.get("/api/v1/runs")
    def runs(who: Caller, limit: int = 50) -> list[dict[str, Any]]:
        owner = None if who.admin else who.user
        return [r.to_dict() for r in runner().list_runs(max(1, min(limit, 1000)), owner)]

    @app.get("/api/v1/runs/{run_id}")
    def status(run_id: str, who: Caller) -> dict[str, Any]:
        return runner().status(own_run(run_id, who)).to_dict()

    @app.post("/api/v1/runs/{run_id}/cancel")
    def cancel(run_id: str, who: Caller) -> dict[str, Any]:
        return runner().cancel(own_run(run_id, who)).to_dict()

    @app.get("/api/v1/runs/{run_id}/logs")
    def logs(run_id: str, who: Caller, task: str | None = None):
        run = own_run(run_id, who)
        try:
            chunks = runner().logs(run, task)
        except StoreError as exc:  # no such task in the run: the message lists its tasks
            raise _NotFound(str(exc)) from None
        return StreamingResponse(chunks, media_type="text/plain; charset=utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return STATUS_PAGE

    return _BodyLimit(app, settings.max_body)  # type: ignore[return-value]


def settings_from_environment() -> ServiceSettings:
    """Settings from ``JOBSPEC_STORE`` and the ``JOBSPEC_OIDC_*`` variables
    (``ISSUER`` and ``AUDIENCE`` switch JWTs on; ``JWKS_URL``, ``USER_CLAIM``,
    ``ADMIN_CLAIM``, ``ADMIN_VALUE`` refine them)."""
    env = os.environ
    oidc = None
    if env.get("JOBSPEC_OIDC_ISSUER") and env.get("JOBSPEC_OIDC_AUDIENCE"):
        oidc = OidcSettings(
            issuer=env["JOBSPEC_OIDC_ISSUER"],
            audience=env["JOBSPEC_OIDC_AUDIENCE"],
            jwks_url=env.get("JOBSPEC_OIDC_JWKS_URL") or None,
            user_claim=env.get("JOBSPEC_OIDC_USER_CLAIM") or "sub",
            admin_claim=env.get("JOBSPEC_OIDC_ADMIN_CLAIM") or "groups",
            admin_value=env.get("JOBSPEC_OIDC_ADMIN_VALUE") or "jobspec-admin",
        )
    return ServiceSettings(store=env.get("JOBSPEC_STORE") or None, oidc=oidc)
