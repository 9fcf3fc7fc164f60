"""A real ``jobspec serve`` process for tests (of jobspec and of site transformers), and the
CLI as a subprocess.

Contract: ``Server(store, log, env)`` starts ``jobspec serve`` on a free port of 127.0.0.1
with the given store and extra environment, returns once ``/api/v1/health`` answers, and
writes the server's output to ``log``; ``request`` makes one HTTP request (JSON in, JSON
or text out, never raising for an HTTP error status); ``stop`` ends only that process.
``jobspec_cli(*args, store=...)`` runs one ``jobspec`` command against a store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .daemons import free_ports


def jobspec_cli(
    *args: str, store: Path | str, env: dict | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jobspec_core.cli.main", *args, "--store", str(store)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


class Server:
    """One ``jobspec serve`` child process and an HTTP client for it."""

    def __init__(
        self, store: Path | str, log: Path, env: dict | None = None, max_body: int = 65536
    ):
        self.port = free_ports(1, "127.0.0.1")[0]
        self.log = log
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jobspec_core.cli.main",
                "serve",
                "--port",
                str(self.port),
                "--store",
                str(store),
                "--max-body",
                str(max_body),
            ],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "JOBSPEC_TRANSFORMER": "local", **(env or {})},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/api/v1/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"jobspec serve did not start: {log.read_text()[-2000:]}")

    def request(self, method, path, body=None, token=None, raw: bytes | None = None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method
        )
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                payload = answer.read()
                status = answer.status
        except urllib.error.HTTPError as error:
            payload = error.read()
            status = error.code
        try:
            return status, json.loads(payload)
        except ValueError:
            return status, payload.decode()

    def wait_finished(self, run_id: str, token: str, timeout: float = 60, poll: float = 0.3):
        """The run's status once every instance ended (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, body = self.request("GET", f"/api/v1/runs/{run_id}", token=token)
            assert status == 200, body
            if body["finished"]:
                return body
            time.sleep(poll)
        raise AssertionError(f"run {run_id} did not finish: {body}")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
