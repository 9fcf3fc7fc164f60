#!/bin/sh
# jobspec-flux batch script: group pipeline of run RUN_ID
#
# Runs inside the group's own Flux instance (flux batch). Each task is one
# `flux submit --flags=waitable`; ids are captured for --dependency=afterok; local entries
# run here as plain commands, each after every entry above it has finished; the final
# `flux job wait --all` makes this script fail when any task failed.
# Records for `jobspec status`: /RUN_DIR/status/pipeline.jobs (one line per submitted job or task never run)
# and, at the end, /RUN_DIR/status/pipeline.json (`flux jobs -a --json` of this instance).
R=/RUN_DIR/status/pipeline.jobs
E=/RUN_DIR/status/pipeline.jobs.err
: > "$R"
failed=0
submitted=0
job() { t=$1; shift; submitted=1; for j in "$@"; do printf 'job\t%s\t%s\n' "$t" "$j" >> "$R"; done; }
never() { failed=1; printf 'never\t%s\t%s\n' "$1" "$(printf '%s' "$2" | tr '\t\n' '  ')" >> "$R"; }
deps() { for j in "$@"; do printf ' --dependency=afterok:%s' "$j"; done; }
ok() { [ "$1" = local ] || { [ -n "$1" ] && flux job status $1 >/dev/null 2>&1; }; }
# task pipeline/step-one
if J_0=$(flux submit --flags=waitable --job-name=pipeline/step-one -n 1 -c 1 --cwd=/WORKDIR --output=/RUN_DIR/logs/pipeline+step-one.0.log /bin/sh /RUN_DIR/tasks/pipeline+step-one.sh 2>"$E"); then job pipeline/step-one $J_0; else J_0=; never pipeline/step-one "$(cat "$E")"; fi

# task pipeline/step-two
if [ -n "$J_0" ]; then
    if J_1=$(flux submit --flags=waitable --job-name=pipeline/step-two -n 1 -c 1 --cwd=/WORKDIR --output=/RUN_DIR/logs/pipeline+step-two.0.log $(deps $J_0) /bin/sh /RUN_DIR/tasks/pipeline+step-two.sh 2>"$E"); then job pipeline/step-two $J_1; else J_1=; never pipeline/step-two "$(cat "$E")"; fi
else J_1=; never pipeline/step-two "a dependency never ran"; fi
rc=0
if [ "$submitted" = 1 ]; then flux job wait --all || rc=1; fi
flux jobs -a --json > /RUN_DIR/status/pipeline.json.tmp && mv /RUN_DIR/status/pipeline.json.tmp /RUN_DIR/status/pipeline.json
[ "$failed" = 0 ] || rc=1
exit "$rc"
