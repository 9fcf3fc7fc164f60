"""A real headless Chromium, driven over the W3C WebDriver protocol, for page tests.

Contract:

* ``HeadlessChromium(state_dir)`` starts Debian's ``chromedriver`` on a free port of
  127.0.0.1 and opens one session of ``/usr/bin/chromium`` (headless, a fresh profile in
  ``state_dir``, no background networking: this machine's network is closed); ``quit()``
  ends both (only what it started).
* The methods are the few a page test needs: :meth:`get`, :meth:`find` (CSS selector ->
  element id), :meth:`type_into`, :meth:`click`, :meth:`text`, :meth:`script`,
  :meth:`screenshot` (PNG bytes). WebDriver errors raise :class:`BrowserError` with the
  driver's message. The protocol is plain JSON over HTTP: no client library is needed.
* :func:`unavailable` says why it cannot run here, or ``None``.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .daemons import free_ports

__all__ = ["HeadlessChromium", "BrowserError", "unavailable"]

CHROMIUM = "/usr/bin/chromium"
#: the element key of the WebDriver protocol
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


class BrowserError(RuntimeError):
    """The browser or its driver refused a command."""


def unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (Debian's chromium package)"
    if shutil.which("chromedriver") is None:
        return "chromedriver is missing (Debian's chromium-driver package)"
    return None


class HeadlessChromium:
    """One headless Chromium session (see the module's contract)."""

    def __init__(self, state_dir: Path, width: int = 1200, height: int = 900):
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_ports(1, "127.0.0.1")[0]
        self.driver = subprocess.Popen(
            ["chromedriver", f"--port={self.port}", "--allowed-ips=127.0.0.1"],
            stdout=(self.dir / "chromedriver.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        self._wait_for_driver()
        arguments = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--window-size={width},{height}",
            f"--user-data-dir={self.dir / 'profile'}",
        ]
        answer = self._call(
            "POST",
            "/session",
            {
                "capabilities": {
                    "alwaysMatch": {
                        "browserName": "chrome",
                        "goog:chromeOptions": {"binary": CHROMIUM, "args": arguments},
                    }
                }
            },
        )
        self.session = answer["sessionId"]

    def _wait_for_driver(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.driver.poll() is not None:
                raise BrowserError(f"chromedriver exited with {self.driver.returncode}")
            try:
                if self._call("GET", "/status").get("ready"):
                    return
            except (OSError, BrowserError):
                pass
            time.sleep(0.1)
        raise BrowserError("chromedriver did not become ready")

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method
        )
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return json.load(answer)["value"]
        except urllib.error.HTTPError as error:
            try:
                said = json.load(error)["value"].get("message", "")
            except (ValueError, KeyError, AttributeError):
                said = error.reason
            raise BrowserError(f"{method} {path}: {said}") from None

    def _session(self, method: str, path: str, body: Any = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", body)

    # -- the page ------------------------------------------------------------------
    def get(self, url: str) -> None:
        self._session("POST", "/url", {"url": url})

    def find(self, selector: str) -> str:
        found = self._session("POST", "/element", {"using": "css selector", "value": selector})
        return found[ELEMENT]

    def type_into(self, element: str, text: str) -> None:
        self._session("POST", f"/element/{element}/value", {"text": text})

    def click(self, element: str) -> None:
        self._session("POST", f"/element/{element}/click", {})

    def text(self, element: str) -> str:
        return self._session("GET", f"/element/{element}/text")

    def script(self, source: str, *args: Any) -> Any:
        return self._session("POST", "/execute/sync", {"script": source, "args": list(args)})

    def screenshot(self) -> bytes:
        return base64.b64decode(self._session("GET", "/screenshot"))

    def quit(self) -> None:
        try:
            self._call("DELETE", f"/session/{self.session}")
        except (OSError, BrowserError, AttributeError):
            pass
        self.driver.terminate()
        try:
            self.driver.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.driver.kill()
