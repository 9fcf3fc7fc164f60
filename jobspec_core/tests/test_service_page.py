"""The status page of ``jobspec serve``, in a real headless Chromium: a running run's tasks
change state on the page without a reload."""

from __future__ import annotations

import struct
import time

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")

from jobspec_core.testing.browser import HeadlessChromium, unavailable  # noqa: E402
from service_helpers import Server, jobspec_cli  # noqa: E402

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))

JOB = """\
version: 1
tasks:
- name: slow
  command: [sh, -c, "sleep 3; echo slow is done"]
- name: after
  depends_on: [slow]
  command: [sh, -c, "echo after ran"]
"""


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _state(browser: HeadlessChromium, task: str) -> str | None:
    return browser.script(
        "const row = document.querySelector(`#tasks tr[data-task='${arguments[0]}']`);"
        "return row ? row.cells[2].textContent : null;",
        task,
    )


def test_page_follows_a_running_run(tmp_path):
    store = tmp_path / "runs.sqlite"
    made = jobspec_cli("token", "create", "alice", store=store)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    server = Server(store, tmp_path / "server.log")
    browser = HeadlessChromium(tmp_path / "browser")
    try:
        status, body = server.request("POST", "/api/v1/runs", {"jobspec": JOB}, token)
        assert status == 201, body
        run_id = body["run_id"]
        browser.get(f"http://127.0.0.1:{server.port}/")
        browser.type_into(browser.find("#token"), token)
        browser.click(browser.find("#signin button"))
        browser.script("window.jobspecMarker = 'no reload';")
        seen: list[tuple[str | None, str | None]] = []
        shots = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pair = (_state(browser, "slow.0"), _state(browser, "after.0"))
            if not seen or seen[-1] != pair:
                seen.append(pair)
                shots.append(browser.screenshot())
            if pair == ("completed", "completed"):
                break
            time.sleep(0.2)
        assert seen[-1] == ("completed", "completed"), seen
        # It was seen running, then finished, on the same page (no reload happened).
        assert ("running", "pending") in seen, seen
        assert browser.script("return window.jobspecMarker;") == "no reload"
        title = browser.text(browser.find("#run-title"))
        assert run_id in title and "completed" in title
        assert "slow is done" in browser.text(browser.find("#log"))
        # The screenshots are real pictures of a page that changed.
        width, height = _png_size(shots[-1])
        assert width >= 800 and height >= 600
        assert len(shots) >= 2 and shots[0] != shots[-1]
        (tmp_path / "page.png").write_bytes(shots[-1])
    finally:
        browser.quit()
        server.stop()


def test_page_without_a_valid_token_shows_the_refusal(tmp_path):
    server = Server(tmp_path / "runs.sqlite", tmp_path / "server.log")
    browser = HeadlessChromium(tmp_path / "browser")
    try:
        browser.get(f"http://127.0.0.1:{server.port}/")
        browser.type_into(browser.find("#token"), "jst_not_a_token")
        browser.click(browser.find("#signin button"))
        deadline = time.monotonic() + 20
        message = ""
        while time.monotonic() < deadline and not message:
            message = browser.text(browser.find("#message"))
            time.sleep(0.2)
        assert "not signed in" in message
        assert browser.script("return document.querySelectorAll('#runs tbody tr').length") == 0
    finally:
        browser.quit()
        server.stop()
