#!/bin/sh
# jobspec-flux launcher: task task-0 of run RUN_ID
#
# The environment and the command are quoted here, not on the flux command line, so that
# they reach the task byte for byte (flux-submit(1) substitutes $ in --env values and, with
# --cc, {...} in every argument). The command runs once per instance: on any Flux task rank
# but 0 this script exits at once (the job still holds every slot it asked for).
# A working directory that cannot be entered fails the task with that reason (a Flux job
# exception of type cwd on the task's own job; a local entry prints it).
# Usage: sh THIS [INDEX]   (INDEX defaults to 0: one replica)
[ "${FLUX_TASK_RANK:-0}" = 0 ] || exit 0
export JOBSPEC_RUN_ID=RUN_ID
export JOBSPEC_TASK_NAME=task-0
export JOBSPEC_TASK_COUNT=1
export JOBSPEC_TASK_INDEX="${1:-0}"
cd /WORKDIR || { echo 'jobspec: cannot enter the working directory /WORKDIR: it is missing or not accessible' >&2; flux job raise --type=cwd --severity=0 "$FLUX_JOB_ID" 'cannot enter the working directory /WORKDIR: it is missing or not accessible' >/dev/null 2>&1; exit 1; }
exec echo hello world

