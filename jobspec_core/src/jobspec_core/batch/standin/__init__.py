"""A stand-in batch scheduler made of the local shell, for trying and testing.

It lets a batch transformer run for real on a machine without its scheduler: to try a
jobspec, and to pass the conformance suite in run mode before the real scheduler is wired
in. Not for production: no queue limits, no resource accounting.

    python -m jobspec_core.batch.standin --kind KIND PROGRAM ARG...

KIND is the scheduler it stands in for, PROGRAM the program (its base name); it accepts that program's
argument shapes, reads the directive lines of the script like the real one, and answers
in its format:

* generic: ``submit [--after ID]... [--array FIRST-LAST] [--cwd DIR] [--KEY VALUE]...
  SCRIPT`` (array index in ``JOB_ARRAY_INDEX``), ``status ID...`` (``ID STATE EXIT``),
  ``cancel ID...``;
* PBS: ``qsub [-W depend=afterok:ID[:ID]...] [-J FIRST-LAST] SCRIPT`` (``#PBS`` lines;
  ``PBS_ARRAY_INDEX``), ``qstat -x -f -F json ID...``, ``qdel ID...``;
* LSF: ``bsub [-w "done(ID) && ..."] [-J "NAME[FIRST-LAST]"] < SCRIPT`` (``#BSUB``;
  ``LSB_JOBINDEX``), ``bjobs -noheader -o "jobid stat exit_code delimiter=','" ID...``,
  ``bkill ID...``;
* Grid Engine: ``qsub -terse [-hold_jid ID[,ID]...] [-t FIRST-LAST] [-wd DIR] [-w v|e]
  SCRIPT`` (``#$`` lines; ``SGE_TASK_ID``; ``-hold_jid`` is after-any, as in Grid Engine;
  ``-w v`` verifies that ``-pe NAME N`` fits its queue of 64 slots
  (``JOBSPEC_STANDIN_SLOTS``), ``-w e`` submits only a job that does; a ``-wd`` directory
  that does not exist puts the job in the error state ``Eqw``), ``qstat -xml`` (every job still in
  the queue), ``qstat -j ID`` (with the ``error reason`` line of a job in ``Eqw``),
  ``qacct -j ID``, ``qdel ID...``.

Jobs live in ``./.standin/N/`` of the directory it runs in (the batch layer runs every
command in the run directory): ``script``, ``after`` and ``mode`` (``afterok``/``afterany``),
``request.json``, ``pid`` (the job's executor, leader of its own session, and its start
time), ``state`` (queued, held, running, done, cancelled, never, error) and ``exit``.
An after-ok job whose dependency ended otherwise is never started and shows as held for
ever, as a real scheduler's would. Cancelling sends SIGTERM to every process of the job's
session, then SIGKILL.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .faults import StandinFaults, standin_faults
from .programs import KINDS
from .spool import execute, force_error, impose_limit

__all__ = ["main", "StandinFaults", "standin_faults", "force_error", "impose_limit"]


def main(argv: list[str] | None = None) -> int:
    """``standin --kind KIND PROGRAM ARG...`` (KIND: generic, pbs, lsf, sge)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) == 2 and argv[0] == "_execute":
        return execute(Path(argv[1]))
    if len(argv) < 3 or argv[0] != "--kind" or argv[1] not in KINDS:
        print(f"usage: standin --kind {{{','.join(KINDS)}}} PROGRAM ARG...", file=sys.stderr)
        return 2
    return KINDS[argv[1]](os.path.basename(argv[2]), argv[3:])
