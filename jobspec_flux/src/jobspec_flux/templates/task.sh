#!/bin/sh
# jobspec-flux launcher: task ${task_id} of run ${run_id}
#
# The environment and the command are quoted here, not on the flux command line, so that
# they reach the task byte for byte (flux-submit(1) substitutes $$ in --env values and, with
# --cc, {...} in every argument). The command runs once per instance: on any Flux task rank
# but 0 this script exits at once (the job still holds every slot it asked for).
# A working directory that cannot be entered fails the task with that reason (a Flux job
# exception of type cwd on the task's own job; a local entry prints it).
# Usage: sh THIS [INDEX]   (INDEX defaults to ${index_doc})
[ "$${FLUX_TASK_RANK:-0}" = 0 ] || exit 0
${environment}
export JOBSPEC_TASK_INDEX="$${1:-${index_default}}"
cd ${cwd} || { ${cwd_error}exit 1; }
${stage}${run}
