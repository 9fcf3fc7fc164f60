#!/usr/bin/env python3
"""Run the conformance suite in run mode on a real Flux and keep its report, stamped with
the Flux version it ran on.

    python3 jobspec_flux/tools/conformance_run.py [OUT_DIR]   (default: docs/conformance)

Starts ``flux start --test-size=4`` around ``python3 -m pytest --transformer flux
--conformance-report OUT_DIR/flux-run-<version>.json`` (run from an empty directory, so the
installed plugin and its shipped cases are what runs), then adds the Flux version to the
JSON (key ``scheduler``, with the driver used) and to the top of the Markdown report.
``JOBSPEC_FLUX_API=cli`` runs it through the command-line driver. Exits with pytest's code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from jobspec_flux.testing import flux_available  # noqa: E402


def main() -> int:
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/conformance").resolve()
    ok, version = flux_available()
    if not ok:
        print(f"SKIPPED: {version}")
        return 0
    out_dir.mkdir(parents=True, exist_ok=True)
    report = out_dir / f"flux-run-{version}.json"
    with tempfile.TemporaryDirectory(prefix="flux-conformance-") as empty:
        code = subprocess.run(
            [
                "flux",
                "start",
                "--test-size=4",
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "--transformer",
                "flux",
                "--conformance-report",
                str(report),
            ],
            cwd=empty,
            check=False,
        ).returncode
    driver = os.environ.get("JOBSPEC_FLUX_API") or "auto"
    if driver == "auto":
        try:
            import flux.job  # noqa: F401

            driver = "python (auto: flux-python imports and FLUX_URI is set)"
        except Exception:  # noqa: BLE001
            driver = "cli (auto: flux-python does not import)"
    stamp = {
        "name": "flux-core",
        "version": version,
        "instance": "flux start --test-size=4",
        "driver": driver,
    }
    data = json.loads(report.read_text())
    data["scheduler"] = stamp
    report.write_text(json.dumps(data, indent=2) + "\n")
    md = report.with_suffix(".md")
    lines = md.read_text().splitlines()
    lines.insert(
        2,
        f"- scheduler: flux-core {version} (`flux start --test-size=4`), "
        f"jobspec-flux driver: {driver}",
    )
    md.write_text("\n".join(lines) + "\n")
    print(f"report: {report} and {md} (flux-core {version})")
    return code


if __name__ == "__main__":
    sys.exit(main())
