"""``jobspec serve`` as a real server process on 127.0.0.1, asked over HTTP."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the serve extra (uvicorn) is not installed")

from jobspec_core.testing.service import Server  # noqa: E402
from jobspec_core.testing.service import jobspec_cli as _jobspec

JOB = """\
version: 1
tasks:
- name: first
  command: [sh, -c, "echo first says hi"]
- name: second
  depends_on: [first]
  replicas: 2
  command: echo "replica $JOBSPEC_TASK_INDEX"
"""

LONG = """\
version: 1
tasks:
- name: sleeper
  command: [sleep, "60"]
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("service")
    store = root / "runs.sqlite"
    tokens = {}
    for user, admin in (("alice", False), ("bob", False), ("root-admin", True), ("carol", False)):
        done = _jobspec("token", "create", user, *(["--admin"] if admin else []), store=store)
        assert done.returncode == 0, done.stderr
        tokens[user] = done.stdout.strip()
    revoked = _jobspec("token", "revoke", "carol", store=store)
    assert revoked.returncode == 0 and "revoked 1" in revoked.stderr
    server = Server(store, root / "server.log")
    yield server, tokens, store
    server.stop()


def test_tokens_are_stored_only_as_hashes(world):
    _, tokens, store = world
    raw = store.read_bytes()
    for token in tokens.values():
        assert token.encode() not in raw
        secret = token[len("jst_") + 13 :]  # the secret itself may hold "_"
        assert len(secret) == 43 and secret.encode() not in raw
    listing = _jobspec("token", "list", store=store)
    assert "carol" in listing.stdout and "revoked" in listing.stdout
    assert all(t not in listing.stdout for t in tokens.values())


@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Basic YWxpY2U6eA==", "Bearer "])
def test_unauthenticated_is_401(world, header):
    server, _, _ = world
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}/api/v1/runs")
    if header:
        request.add_header("Authorization", header)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 401


def test_revoked_token_is_401(world):
    server, tokens, _ = world
    assert server.request("GET", "/api/v1/runs", token=tokens["carol"])[0] == 401


def test_validate_reports_every_problem_with_its_line(world):
    server, tokens, _ = world
    ok = server.request("POST", "/api/v1/validate", {"jobspec": JOB}, tokens["alice"])
    assert ok == (200, {"valid": True, "problems": [], "tasks": 2, "groups": 0})
    bad = "version: 1\ntasks:\n- name: a\n  comand: [x]\n- name: b\n  replicas: 0\n  command: [y]\n"
    status, body = server.request("POST", "/api/v1/validate", {"jobspec": bad}, tokens["alice"])
    assert status == 422
    lines = sorted(p["line"] for p in body["problems"])
    assert lines[0] == 4 and 6 in lines
    assert any("comand" in p["message"] or "comand" in (p["path"] or "") for p in body["problems"])


def test_yaml_bomb_is_refused_fast(world):
    server, tokens, _ = world
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9)
    )
    started = time.monotonic()
    status, body = server.request("POST", "/api/v1/validate", {"jobspec": bomb}, tokens["alice"])
    assert time.monotonic() - started < 1.0
    assert status == 422 and body["problems"]


def test_body_over_the_limit_is_413(world):
    server, tokens, _ = world
    status, body = server.request(
        "POST", "/api/v1/validate", {"jobspec": "#" * 70000}, tokens["alice"]
    )
    assert status == 413 and "over" in body["error"]


def test_malformed_request_is_400_not_a_traceback(world):
    server, tokens, _ = world
    status, body = server.request(
        "POST", "/api/v1/validate", raw=b"{not json", token=tokens["alice"]
    )
    assert status == 400 and "malformed request" in body["error"]


def test_submit_follow_logs_and_ownership(world):
    server, tokens, _ = world
    status, body = server.request("POST", "/api/v1/runs", {"jobspec": JOB}, tokens["alice"])
    assert status == 201, body
    run_id = body["run_id"]
    final = server.wait_finished(run_id, tokens["alice"])
    assert final["succeeded"] is True
    assert [(t["task_id"], t["index"], t["state"]) for t in final["tasks"]] == [
        ("first", 0, "completed"),
        ("second", 0, "completed"),
        ("second", 1, "completed"),
    ]
    status, text = server.request("GET", f"/api/v1/runs/{run_id}/logs", token=tokens["alice"])
    assert status == 200
    assert "first says hi" in text and "replica 0" in text and "replica 1" in text
    status, text = server.request(
        "GET", f"/api/v1/runs/{run_id}/logs?task=second.1", token=tokens["alice"]
    )
    assert text == "replica 1\n"
    assert (
        server.request("GET", f"/api/v1/runs/{run_id}/logs?task=nope", token=tokens["alice"])[0]
        == 404
    )
    # Another user's run does not exist for them; the administrator sees it.
    assert server.request("GET", f"/api/v1/runs/{run_id}", token=tokens["bob"])[0] == 404
    assert server.request("POST", f"/api/v1/runs/{run_id}/cancel", token=tokens["bob"])[0] == 404
    assert server.request("GET", f"/api/v1/runs/{run_id}/logs", token=tokens["bob"])[0] == 404
    assert run_id not in {
        r["run_id"] for r in server.request("GET", "/api/v1/runs", token=tokens["bob"])[1]
    }
    assert run_id in {
        r["run_id"] for r in server.request("GET", "/api/v1/runs", token=tokens["alice"])[1]
    }
    assert run_id in {
        r["run_id"] for r in server.request("GET", "/api/v1/runs", token=tokens["root-admin"])[1]
    }
    assert server.request("GET", "/api/v1/runs/no-such-run", token=tokens["alice"])[0] == 404


def test_cancel(world):
    server, tokens, _ = world
    status, body = server.request("POST", "/api/v1/runs", {"jobspec": LONG}, tokens["bob"])
    assert status == 201, body
    run_id = body["run_id"]
    status, body = server.request("POST", f"/api/v1/runs/{run_id}/cancel", token=tokens["bob"])
    assert status == 200
    final = server.wait_finished(run_id, tokens["bob"], timeout=30)
    assert final["run"]["state"] == "cancelled"
    assert final["tasks"][0]["state"] == "cancelled"


def test_unknown_transformer_is_400(world):
    server, tokens, _ = world
    status, body = server.request(
        "POST", "/api/v1/runs", {"jobspec": JOB, "transformer": "nosuch"}, tokens["alice"]
    )
    assert status == 400 and "no such transformer" in body["error"]


def test_openapi_and_page_are_served(world):
    server, tokens, _ = world
    status, spec = server.request("GET", "/openapi.json")
    assert status == 200
    assert {"/api/v1/runs", "/api/v1/validate", "/api/v1/runs/{run_id}/logs"} <= set(spec["paths"])
    status, page = server.request("GET", "/")
    assert status == 200 and "jobspec runs" in page


def test_no_traceback_or_token_in_the_log(world):
    server, tokens, _ = world
    text = server.log.read_text(errors="replace")
    assert "Traceback" not in text
    for token in tokens.values():
        assert token not in text


# -- OIDC: JWTs signed by a real key pair, keys served as a JWKS over HTTP ----------------
@pytest.fixture(scope="module")
def issuer():
    jwt = pytest.importorskip("jwt")
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    public.update(kid="k1", use="sig", alg="RS256")
    jwks = json.dumps({"keys": [public]}).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(jwks)

        def log_message(self, *args):
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{http.server_address[1]}/jwks.json"

    def sign(claims, signing_key=key):
        body = {"iss": "https://idp.test", "aud": "jobspec", "exp": time.time() + 300, **claims}
        return jwt.encode(body, signing_key, algorithm="RS256", headers={"kid": "k1"})

    yield url, sign, other
    http.shutdown()


def test_oidc_tokens(tmp_path, issuer):
    url, sign, other = issuer
    env = {
        "JOBSPEC_OIDC_ISSUER": "https://idp.test",
        "JOBSPEC_OIDC_AUDIENCE": "jobspec",
        "JOBSPEC_OIDC_JWKS_URL": url,
    }
    server = Server(tmp_path / "runs.sqlite", tmp_path / "server.log", env)
    try:
        good = sign({"sub": "dana"})
        assert server.request("GET", "/api/v1/runs", token=good) == (200, [])
        expired = sign({"sub": "dana", "exp": time.time() - 60})
        assert server.request("GET", "/api/v1/runs", token=expired)[0] == 401
        forged = sign({"sub": "dana"}, signing_key=other)
        assert server.request("GET", "/api/v1/runs", token=forged)[0] == 401
        wrong_audience = sign({"sub": "dana", "aud": "someone-else"})
        assert server.request("GET", "/api/v1/runs", token=wrong_audience)[0] == 401
        unsigned = (
            ".".join(
                base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
                for part in ({"alg": "none"}, {"sub": "dana", "iss": "https://idp.test"})
            )
            + "."
        )
        assert server.request("GET", "/api/v1/runs", token=unsigned)[0] == 401
        status, body = server.request("POST", "/api/v1/runs", {"jobspec": JOB}, good)
        assert status == 201
        admin = sign({"sub": "erin", "groups": ["jobspec-admin"]})
        runs = server.request("GET", "/api/v1/runs", token=admin)[1]
        assert body["run_id"] in {r["run_id"] for r in runs}
        assert (
            server.request("GET", f"/api/v1/runs/{body['run_id']}", token=sign({"sub": "frank"}))[0]
            == 404
        )
    finally:
        server.stop()
    assert "Traceback" not in (tmp_path / "server.log").read_text()


# -- the CLI as the service's client ---------------------------------------------------
def _cli(args, cwd, env):
    return subprocess.run(
        [sys.executable, "-m", "jobspec_core.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "JOBSPEC_TRANSFORMER": "local", **env},
    )


def test_cli_as_client_prints_what_it_prints_locally(world, tmp_path):
    server, tokens, _ = world
    (tmp_path / "job.yaml").write_text(JOB)
    (tmp_path / "bad.yaml").write_text("version: 1\ntasks:\n- name: a\n  comand: [x]\n")
    local = {"JOBSPEC_STORE": str(tmp_path / "local.sqlite")}
    remote = {
        "JOBSPEC_SERVER": f"http://127.0.0.1:{server.port}",
        "JOBSPEC_TOKEN": tokens["alice"],
    }
    for args in (["validate", "job.yaml"], ["validate", "bad.yaml"]):
        here, there = _cli(args, tmp_path, local), _cli(args, tmp_path, remote)
        assert (here.returncode, here.stdout) == (there.returncode, there.stdout)
    assert _cli(["validate", "bad.yaml"], tmp_path, remote).returncode == 2

    results = {}
    for where, env in (("local", local), ("service", remote)):
        ran = _cli(["run", "--json", "job.yaml"], tmp_path, env)
        assert ran.returncode == 0, ran.stderr
        run_id = json.loads(ran.stdout)["run"]["run_id"]
        logs = _cli(["logs", run_id, "second.1"], tmp_path, env)
        status = _cli(["status", "--json", run_id], tmp_path, env)
        listed = _cli(["list"], tmp_path, env)
        missing = _cli(["status", "no-such-run"], tmp_path, env)
        results[where] = (
            logs.returncode,
            logs.stdout,
            status.returncode,
            [(t["task_id"], t["index"], t["state"]) for t in json.loads(status.stdout)["tasks"]],
            run_id in listed.stdout,
            missing.returncode,
        )
    assert results["local"] == results["service"]
    assert results["service"][:2] == (0, "replica 1\n")
    assert results["service"][5] == 1


def test_cli_client_without_a_token_is_a_usage_error(world, tmp_path):
    server, _, _ = world
    env = {"JOBSPEC_SERVER": f"http://127.0.0.1:{server.port}", "JOBSPEC_TOKEN": ""}
    done = _cli(["list"], tmp_path, env)
    assert done.returncode == 2 and "JOBSPEC_TOKEN" in done.stderr
    done = _cli(["list"], tmp_path, {**env, "JOBSPEC_TOKEN": "jst_wrong"})
    assert done.returncode == 1 and "refused the token" in done.stderr
    assert "Traceback" not in done.stderr


def test_two_services_share_one_postgresql_store(tmp_path):
    from jobspec_core.testing.postgres import LocalPostgres, unavailable

    why = unavailable()
    if why:
        pytest.skip(why)
    import shutil
    import tempfile

    state = tempfile.mkdtemp(prefix="jobspec-pg-", dir="/tmp")
    database = LocalPostgres(Path(state)).start()
    env = {"JOBSPEC_RUNS_DIR": str(tmp_path / "shared-runs")}
    first = second = None
    try:
        url = database.url
        made = _jobspec("token", "create", "alice", store=url, env=env)
        assert made.returncode == 0, made.stderr
        token = made.stdout.strip()
        first = Server(url, tmp_path / "first.log", env)
        second = Server(url, tmp_path / "second.log", env)
        status, body = first.request("POST", "/api/v1/runs", {"jobspec": LONG}, token)
        assert status == 201, body
        run_id = body["run_id"]
        status, seen = second.request("GET", f"/api/v1/runs/{run_id}", token=token)
        assert status == 200 and seen["run"]["run_id"] == run_id
        assert run_id in {
            r["run_id"] for r in second.request("GET", "/api/v1/runs", token=token)[1]
        }
        status, _ = second.request("POST", f"/api/v1/runs/{run_id}/cancel", token=token)
        assert status == 200
        final = first.wait_finished(run_id, token, timeout=30)
        assert final["run"]["state"] == "cancelled"
    finally:
        for server in (first, second):
            if server is not None:
                server.stop()
        database.stop()
        shutil.rmtree(state, ignore_errors=True)


PARAMETERIZED = """\
version: 1
parameters:
  copies: {type: integer, default: 1, maximum: 4}
  word: {type: string}
tasks:
- name: say
  replicas: ${{ copies }}
  command: echo ${{ word }}
"""


def test_parameters_through_the_service(world):
    """``parameters`` on /validate and /runs: checked, substituted, recorded (issue 13)."""
    server, tokens, _ = world
    body = {"jobspec": PARAMETERIZED, "parameters": {"copies": "2", "word": "a b; echo no"}}
    status, answer = server.request("POST", "/api/v1/validate", body, tokens["alice"])
    assert (status, answer["tasks"]) == (200, 1)
    status, answer = server.request("POST", "/api/v1/runs", body, tokens["alice"])
    assert status == 201, answer
    final = server.wait_finished(answer["run_id"], tokens["alice"])
    assert final["succeeded"] and len(final["tasks"]) == 2
    assert final["run"]["parameters"] == {"copies": 2, "word": "a b; echo no"}
    status, text = server.request(
        "GET", f"/api/v1/runs/{answer['run_id']}/logs?task=say.0", token=tokens["alice"]
    )
    assert text == "a b; echo no\n"  # one word: the value never becomes shell code
    bad = {"jobspec": PARAMETERIZED, "parameters": {"copies": "9", "wrod": "x"}}
    status, answer = server.request("POST", "/api/v1/runs", bad, tokens["alice"])
    assert status == 422
    messages = [p["message"] for p in answer["problems"]]
    assert any("expected at most 4, got 9 (value from the request)" in m for m in messages)
    assert any("a value for 'wrod' (the request)" in m for m in messages)


def test_cli_client_passes_parameters(world, tmp_path):
    server, tokens, _ = world
    (tmp_path / "job.yaml").write_text(PARAMETERIZED)
    remote = {
        "JOBSPEC_SERVER": f"http://127.0.0.1:{server.port}",
        "JOBSPEC_TOKEN": tokens["bob"],
    }
    checked = _cli(["validate", "job.yaml", "--set", "word=hi"], tmp_path, remote)
    assert checked.returncode == 0, checked.stderr
    refused = _cli(["validate", "job.yaml"], tmp_path, remote)
    assert refused.returncode == 2 and "parameter 'word' (string) is required" in refused.stdout
    ran = _cli(
        ["run", "--json", "job.yaml", "--set", "word=hi", "--set", "copies=3"], tmp_path, remote
    )
    assert ran.returncode == 0, ran.stderr
    run = json.loads(ran.stdout)["run"]
    assert run["parameters"] == {"copies": 3, "word": "hi"}
    listed = _cli(["list"], tmp_path, remote)
    assert "copies=3 word=hi" in listed.stdout


def test_a_run_the_services_site_cannot_meet_is_refused_alike(world, tmp_path):
    """The service checks requirements against its own site: 409, and the CLI as a client
    exits 1 with the report as it does locally; nothing is recorded."""
    server, tokens, _ = world
    (tmp_path / "arch.yaml").write_text(
        "version: 1\ntasks:\n- name: t\n  command: [echo]\n  requires:\n"
        "  - {name: system, field: cpu.target, value: no-such-cpu}\n"
    )
    local = {"JOBSPEC_STORE": str(tmp_path / "local.sqlite")}
    remote = {
        "JOBSPEC_SERVER": f"http://127.0.0.1:{server.port}",
        "JOBSPEC_TOKEN": tokens["alice"],
    }
    for env in (local, remote):
        ran = _cli(["run", "arch.yaml"], tmp_path, env)
        assert ran.returncode == 1, ran.stdout + ran.stderr
        assert "not satisfied: system: cpu.target=no-such-cpu" in ran.stderr
        assert "nothing was submitted" in ran.stderr
    skipped = _cli(["run", "--skip-requirements", "arch.yaml"], tmp_path, remote)
    assert skipped.returncode == 2 and "apply to local submissions" in skipped.stderr
