"""The CLI's side of ``jobspec serve``: :class:`ServiceClient`, a stand-in for
:class:`~jobspec_core.runner.Runner` that asks a service over HTTP.

With ``JOBSPEC_SERVER=URL`` (or ``--server URL``) and ``JOBSPEC_TOKEN``, the run commands
(``validate``, ``run``, ``status``, ``wait``, ``cancel``, ``list``, ``logs``) call the same
methods on a client instead of a runner, so they print what they print locally and exit
with the same codes: the service's errors come back as the same exceptions (an invalid
jobspec as :class:`~jobspec_core.errors.InvalidJobspec` with every problem, an unknown run
as :class:`~jobspec_core.errors.StoreError`, a refused request as
:class:`~jobspec_core.errors.UsageError`). Standard library only: the client machine
needs no extra.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import (
    BackendError,
    InvalidJobspec,
    Problem,
    RequirementsNotMet,
    StoreError,
    UsageError,
)
from ..plan import Plan
from ..runner import RunStatus
from ..runrecords import RunRecord

__all__ = ["ServiceClient", "SERVER_ENV", "TOKEN_ENV", "client_from"]

SERVER_ENV = "JOBSPEC_SERVER"
TOKEN_ENV = "JOBSPEC_TOKEN"
#: seconds between two status requests of :meth:`ServiceClient.wait`
POLL = 0.5


def client_from(server: str | None) -> ServiceClient | None:
    """A client for ``server`` (else ``$JOBSPEC_SERVER``), or ``None`` for local work."""
    url = server or os.environ.get(SERVER_ENV)
    if not url:
        return None
    token = os.environ.get(TOKEN_ENV)
    if not token:
        raise UsageError(f"{url}: set {TOKEN_ENV} to your token to use a jobspec service")
    return ServiceClient(url, token)


class ServiceClient:
    """The runner's methods, answered by the service at ``url``."""

    def __init__(self, url: str, token: str, timeout: float = 60.0):
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise UsageError(f"{url!r} is not a service URL (expected http(s)://HOST[:PORT])")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    # -- HTTP ------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: Any = None, raw: bool = False) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/api/v1{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            answer = urllib.request.urlopen(request, timeout=self.timeout)  # noqa: S310
        except urllib.error.HTTPError as error:
            raise _error(error) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise BackendError(f"cannot reach the jobspec service {self.url}: {reason}") from exc
        if raw:
            return answer
        with answer:
            return json.load(answer)

    # -- the runner's methods ----------------------------------------------------------
    def validate_text(
        self, text: str, filename: str | None, parameters: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """``{valid, problems, tasks, groups}`` of ``text`` (with ``parameters``, name ->
        value) as the service sees it; raises :class:`InvalidJobspec` with every problem
        when it is invalid."""
        body: dict[str, Any] = {"jobspec": text, "filename": filename}
        if parameters:
            body["parameters"] = dict(parameters)
        return self._request("POST", "/validate", body)

    def submit(
        self,
        plan: Plan,
        transformer: str | None = None,
        *,
        workdir: Path | None = None,
        options: dict[str, str] | None = None,
    ) -> str:
        """Send the document ``plan`` was made from, with the parameter values it was
        planned with; the new run's id. The run's working directory is the service's
        (``workdir`` is a local path: it is not sent)."""
        if not plan.source:
            raise UsageError("only a jobspec read from a file can be sent to a service")
        text = Path(plan.source).read_text(encoding="utf-8")
        body = {
            "jobspec": text,
            "filename": plan.source,
            "transformer": transformer,
            "options": dict(options or {}),
        }
        if plan.parameters:
            body["parameters"] = dict(plan.parameters)
        return self._request("POST", "/runs", body)["run_id"]

    def resolve(self, ref: str | None) -> str:
        """The service resolves ids itself: a full id, or ``latest``."""
        return ref or "latest"

    def record(self, run_id: str) -> RunStatus:
        return self.status(run_id)

    def status(self, run_id: str) -> RunStatus:
        return RunStatus.from_dict(self._request("GET", f"/runs/{_quote(run_id)}"))

    def wait(self, run_id: str, timeout: float | None = None) -> RunStatus:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.status(run_id)
            if status.finished or (deadline is not None and time.monotonic() >= deadline):
                return status
            time.sleep(
                POLL if deadline is None else max(0.0, min(POLL, deadline - time.monotonic()))
            )

    def cancel(self, run_id: str) -> RunStatus:
        return RunStatus.from_dict(self._request("POST", f"/runs/{_quote(run_id)}/cancel"))

    def list_runs(self, limit: int = 50) -> list[RunRecord]:
        return [RunRecord.from_dict(r) for r in self._request("GET", f"/runs?limit={int(limit)}")]

    def logs(self, run_id: str, task: str | None = None) -> Iterator[bytes]:
        query = f"?task={urllib.parse.quote(task)}" if task else ""
        answer = self._request("GET", f"/runs/{_quote(run_id)}/logs{query}", raw=True)
        with answer:
            while chunk := answer.read(64 * 1024):
                yield chunk


def _quote(run_id: str) -> str:
    return urllib.parse.quote(run_id, safe="")


def _error(error: urllib.error.HTTPError) -> Exception:
    try:
        body = json.load(error)
    except ValueError:
        body = {}
    message = body.get("error") or error.reason
    if error.code == 422 and body.get("problems"):
        return InvalidJobspec([Problem(**p) for p in body["problems"]])
    if error.code == 404:
        return StoreError(message)
    if error.code == 409:
        return RequirementsNotMet(message)
    if error.code in (400, 413, 422):
        return UsageError(message)
    if error.code == 401:
        return BackendError(f"the jobspec service refused the token ({TOKEN_ENV}): {message}")
    return BackendError(f"the jobspec service answered {error.code}: {message}")
