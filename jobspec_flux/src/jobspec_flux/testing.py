"""A real Flux instance for tests and benchmarks: ``flux start --test-size=N`` in the background.

The instance's initial program writes its ``FLUX_URI`` to a file and sleeps; :meth:`start`
waits for that file, :meth:`stop` ends the whole process group it started (the instance
then shuts down and cancels whatever is left). Where ``flux`` is not on PATH,
:func:`flux_available` says why, for a skip message.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

__all__ = ["flux_available", "FluxInstance", "FluxStartError"]


class FluxStartError(RuntimeError):
    """The test instance did not come up; the message holds its output."""


def flux_available() -> tuple[bool, str]:
    """``(True, version)`` when ``flux`` runs here, else ``(False, reason)``."""
    flux = shutil.which("flux")
    if flux is None:
        return False, "flux is not on PATH (flux-core is not installed; no registry ships it)"
    try:
        proc = subprocess.run(
            [flux, "version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"flux version failed: {exc}"
    if proc.returncode != 0:
        return False, f"flux version failed: {proc.stderr.strip()}"
    for line in proc.stdout.splitlines():
        if line.startswith("commands:"):
            return True, line.split()[-1]
    return True, "unknown"


class FluxInstance:
    """A ``flux start --test-size=size`` instance owned by this process.

    :ivar uri: its ``FLUX_URI`` once started.
    """

    def __init__(self, workdir: Path, size: int = 4, timeout: float = 60.0):
        self.workdir = Path(workdir)
        self.size = size
        self.timeout = timeout
        self.uri: str | None = None
        self._proc: subprocess.Popen | None = None

    def start(self) -> str:
        """Start the instance and return its URI (raises :class:`FluxStartError`)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        uri_file = self.workdir / "flux-uri"
        uri_file.unlink(missing_ok=True)
        log = open(self.workdir / "flux-start.log", "w")  # noqa: SIM115 - kept for the child
        program = f'printf "%s" "$FLUX_URI" > {uri_file}.tmp && mv {uri_file}.tmp {uri_file}; exec sleep 1000000'
        self._proc = subprocess.Popen(
            ["flux", "start", f"--test-size={self.size}", "sh", "-c", program],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.workdir,
        )
        log.close()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if uri_file.exists():
                self.uri = uri_file.read_text().strip()
                return self.uri
            if self._proc.poll() is not None:
                break
            time.sleep(0.05)
        output = (self.workdir / "flux-start.log").read_text(errors="replace")
        self.stop()
        raise FluxStartError(f"flux start --test-size={self.size} did not come up:\n{output}")

    def stop(self) -> None:
        """End the instance (the process group this object started); idempotent."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass

    def __enter__(self) -> FluxInstance:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
