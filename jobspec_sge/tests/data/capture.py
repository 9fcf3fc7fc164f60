"""Capture real Grid Engine outputs into this folder, for the parsing unit tests.

Run as root where Grid Engine is installed (``.ci/install-gridengine.sh``)::

    python3 jobspec_sge/tests/data/capture.py

It starts a private cluster (:mod:`jobspec_sge.testing.cluster`), submits jobs that complete,
fail, are killed at ``h_rt``, go into ``Eqw`` (working directory missing), are deleted, are
held by ``-hold_jid``, plus an array job, and writes each command's stdout to ``NAME.txt``
(or ``.xml``) and ``index.json`` ({name: {argv, returncode, stderr}}). Job ids are kept as
Grid Engine printed them: ``index.json`` names which job is which.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from jobspec_sge.testing.cluster import LocalSGECluster

HERE = Path(__file__).resolve().parent


def main() -> int:
    index: dict[str, dict] = {}
    work = Path(tempfile.mkdtemp(prefix="sge-capture-"))
    with LocalSGECluster() as c:

        def cap(name: str, argv: list[str], suffix: str = ".txt") -> str:
            r = c.run(argv, timeout=60, cwd=work)
            (HERE / f"{name}{suffix}").write_text(r.stdout)
            index[name] = {"argv": argv, "returncode": r.returncode, "stderr": r.stderr}
            return r.stdout.strip()

        def qsub(name: str, *args: str) -> str:
            common = ["qsub", "-terse", "-o", str(work), "-e", str(work), "-N", name]
            return cap(f"qsub_{name}", [*common, *args]).split(".")[0]

        def script(name: str, body: str) -> str:
            p = work / f"{name}.sh"
            p.write_text(f"#!/bin/bash\n{body}\n")
            return str(p)

        ok = qsub("ok", script("ok", "echo hello"))
        fail = qsub("fail", script("fail", "exit 3"))
        limit = qsub("limit", "-l", "h_rt=2", script("limit", "sleep 60"))
        eqw = qsub("eqw", "-wd", str(work / "missing"), script("eqw", "true"))
        arr = qsub("array", "-t", "1-3", script("array", "exit $((SGE_TASK_ID - 1))"))
        long = qsub("long", "-pe", "smp", "2", script("long", "sleep 60"))
        held = qsub("held", "-hold_jid", long, script("held", "true"))
        # 3 tasks fit beside "long" (8 slots, 2 each), 3 wait: qstat shows both forms.
        wide = qsub("wide", "-t", "1-6", "-pe", "smp", "2", script("wide", "sleep 60"))
        time.sleep(4)
        cap("qstat_xml_mixed", ["qstat", "-xml", "-u", "*"], ".xml")
        cap("qstat_plain_mixed", ["qstat", "-u", "*"])
        cap("qstat_j_eqw", ["qstat", "-j", eqw])
        cap("qstat_j_held", ["qstat", "-j", held])
        cap("qstat_j_running", ["qstat", "-j", long])
        cap("qdel_running", ["qdel", long])
        cap("qdel_eqw", ["qdel", eqw])
        cap("qdel_array", ["qdel", wide])
        time.sleep(6)
        cap("qstat_xml_after", ["qstat", "-xml", "-u", "*"], ".xml")
        cap("qstat_j_missing", ["qstat", "-j", "999999"])
        for name, jid in (("ok", ok), ("fail", fail), ("limit", limit), ("deleted", long)):
            cap(f"qacct_{name}", ["qacct", "-j", jid])
        cap("qacct_array", ["qacct", "-j", arr])
        cap("qacct_array_deleted", ["qacct", "-j", wide])
        cap("qacct_held_never_ran", ["qacct", "-j", held])
        cap("qacct_missing", ["qacct", "-j", "999999"])
        index["jobs"] = {
            "ok": ok,
            "fail": fail,
            "limit": limit,
            "eqw": eqw,
            "array": arr,
            "long_deleted": long,
            "held": held,
            "wide_array_deleted": wide,
        }
    (HERE / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
