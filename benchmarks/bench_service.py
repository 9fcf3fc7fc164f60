"""``jobspec serve`` under load, against the framework's own ceiling, in the same run.

1. Starts ``jobspec serve`` (SQLite store) and, as the baseline, a bare FastAPI
   application on uvicorn that answers a constant (the most any FastAPI service can do
   here).
2. 50 concurrent clients (threads, one keep-alive connection each) make 5,000 requests:
   ``POST /api/v1/validate`` of a small jobspec and ``GET /api/v1/runs/ID`` of a finished
   run, alternately; the baseline gets the same number of requests. Prints requests per
   second, p50/p99 latency, lost requests (anything but 200), and the ratios.
3. 100 concurrent submissions of a one-task jobspec, against SQLite and (when a
   PostgreSQL server can be started here) PostgreSQL: every one must be recorded exactly
   once (the store's run count is checked).

Goal (issue 16): no request lost, p99 under 250 ms on a 2-core machine.

    python3 benchmarks/bench_service.py [--requests 5000] [--clients 50]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

SMALL = "version: 1\ntasks:\n- name: a\n  command: ['true']\n- name: b\n  depends_on: [a]\n  command: ['true']\n"
ONE = "version: 1\ntasks:\n- name: one\n  command: ['true']\n"

BARE_APP = textwrap.dedent(
    """
    from fastapi import FastAPI
    app = FastAPI()

    @app.get("/api/v1/runs/{run_id}")
    def status(run_id: str):
        return {"run": {"run_id": run_id}}

    @app.post("/api/v1/validate")
    def validate():
        return {"valid": True}
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def start_jobspec(store: str, env: dict) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jobspec_core.cli.main",
            "serve",
            "--port",
            str(port),
            "--store",
            store,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    wait_listening(port, process)
    return process, port


def start_bare(directory: Path) -> tuple[subprocess.Popen, int]:
    (directory / "bare_app.py").write_text(BARE_APP)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_listening(port, process)
    return process, port


def token_for(store: str, env: dict) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobspec_core.cli.main",
            "token",
            "create",
            "bench",
            "--store",
            store,
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return done.stdout.strip()


def load(port: int, token: str, run_id: str, total: int, clients: int) -> dict:
    """``total`` requests from ``clients`` threads; latencies and failures."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    per_client = total // clients
    body = json.dumps({"jobspec": SMALL}).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, bad = [], []
        for n in range(per_client):
            started = time.perf_counter()
            try:
                if n % 2:
                    connection.request("POST", "/api/v1/validate", body, headers)
                else:
                    connection.request("GET", f"/api/v1/runs/{run_id}", headers=headers)
                answer = connection.getresponse()
                answer.read()
                if answer.status != 200:
                    bad.append(str(answer.status))
            except (OSError, http.client.HTTPException) as exc:
                bad.append(type(exc).__name__)
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)
            failures.extend(bad)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "lost": len(failures),
        "rate": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def submissions(port: int, token: str, count: int = 100) -> list[int]:
    body = json.dumps({"jobspec": ONE}).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    statuses: list[int] = []
    lock = threading.Lock()

    def submit() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        connection.request("POST", "/api/v1/runs", body, headers)
        answer = connection.getresponse()
        answer.read()
        with lock:
            statuses.append(answer.status)

    threads = [threading.Thread(target=submit) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def recorded_runs(store: str, env: dict) -> int:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from jobspec_core.store import RunStore;"
            "print(len(RunStore(sys.argv[1]).list_runs(limit=100000)))",
            store,
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return int(done.stdout)


def submit_check(label: str, store: str, env: dict) -> None:
    server, port = start_jobspec(store, env)
    try:
        token = token_for(store, env)
        before = recorded_runs(store, env)
        started = time.perf_counter()
        statuses = submissions(port, token)
        elapsed = time.perf_counter() - started
        after = recorded_runs(store, env)
        created = sum(1 for s in statuses if s == 201)
        print(
            f"{label}: 100 concurrent submissions in {elapsed:.1f} s: {created} accepted, "
            f"{after - before} recorded (exactly once: {created == after - before == 100})"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-service-"))
    env = {**os.environ, "JOBSPEC_TRANSFORMER": "local", "JOBSPEC_RUNS_DIR": str(work / "runs")}
    store = str(work / "runs.sqlite")
    try:
        server, port = start_jobspec(store, env)
        bare, bare_port = start_bare(work)
        try:
            token = token_for(store, env)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request(
                "POST",
                "/api/v1/runs",
                json.dumps({"jobspec": ONE}).encode(),
                {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            run_id = json.loads(connection.getresponse().read())["run_id"]
            time.sleep(2)  # let the one-task run finish: its status is then read from the store
            ours = load(port, token, run_id, args.requests, args.clients)
            ceiling = load(bare_port, token, run_id, args.requests, args.clients)
        finally:
            for process in (server, bare):
                process.terminate()
                process.wait(timeout=30)
        print(f"{args.clients} clients, {ours['requests']} requests (validate + status):")
        for label, r in (("jobspec serve", ours), ("bare FastAPI", ceiling)):
            print(
                f"  {label:14s} {r['rate']:7.0f} req/s  p50 {r['p50']:6.1f} ms  "
                f"p99 {r['p99']:6.1f} ms  lost {r['lost']}"
            )
        print(
            f"  ratio: rate {ours['rate'] / ceiling['rate']:.2f}x of the ceiling, "
            f"p99 {ours['p99'] / ceiling['p99']:.2f}x; goal p99 < 250 ms: "
            f"{'met' if ours['p99'] < 250 and ours['lost'] == 0 else 'NOT met'}"
        )
        submit_check("SQLite", store, env)
        try:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "jobspec_core" / "src"))
            from jobspec_core.testing.postgres import LocalPostgres, unavailable

            why = unavailable()
            if why:
                print(f"PostgreSQL: skipped ({why})")
            else:
                pg_dir = tempfile.mkdtemp(prefix="bench-pg-", dir="/tmp")
                database = LocalPostgres(Path(pg_dir)).start()
                try:
                    submit_check("PostgreSQL", database.url, env)
                finally:
                    database.stop()
                    shutil.rmtree(pg_dir, ignore_errors=True)
        except RuntimeError as exc:
            print(f"PostgreSQL: skipped ({exc})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
