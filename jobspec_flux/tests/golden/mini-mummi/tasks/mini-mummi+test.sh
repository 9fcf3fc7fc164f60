#!/bin/sh
# jobspec-flux launcher: task mini-mummi/test of run RUN_ID
#
# The environment and the command are quoted here, not on the flux command line, so that
# they reach the task byte for byte (flux-submit(1) substitutes $ in --env values and, with
# --cc, {...} in every argument). The command runs once per instance: on any Flux task rank
# but 0 this script exits at once (the job still holds every slot it asked for).
# Usage: sh THIS [INDEX]   (INDEX defaults to $FLUX_JOB_CC (--cc))
[ "${FLUX_TASK_RANK:-0}" = 0 ] || exit 0
export JOBSPEC_RUN_ID=RUN_ID
export JOBSPEC_TASK_NAME=mini-mummi/test
export JOBSPEC_TASK_COUNT=4
export JOBSPEC_TASK_INDEX="${1:-${FLUX_JOB_CC}}"
cd /WORKDIR || exit 1
M=/RUN_DIR/status/mini-mummi+test."$JOBSPEC_TASK_INDEX"
printf 'start %s %s\n' "${FLUX_JOB_ID:-local}" "$(date +%s.%N)" > "$M"
/bin/sh -c 'echo "testing model, replica $JOBSPEC_TASK_INDEX of $JOBSPEC_TASK_COUNT"'
rc=$?
printf 'end %s %s\n' "$rc" "$(date +%s.%N)" >> "$M"
exit "$rc"

