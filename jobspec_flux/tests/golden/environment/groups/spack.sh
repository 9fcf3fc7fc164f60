#!/bin/sh
# jobspec-flux batch script: group spack of run RUN_ID
#
# Runs inside the group's own Flux instance (flux batch). Each task is one
# `flux submit --flags=waitable`; ids are captured for --dependency=afterok; local entries
# run here as plain commands, each after every entry above it has finished; the final
# `flux job wait --all` makes this script fail when any task failed.
# Records for `jobspec status`: /RUN_DIR/status/spack.jobs (one line per submitted job or task never run)
# and, at the end, /RUN_DIR/status/spack.json (`flux jobs -a --json` of this instance).
R=/RUN_DIR/status/spack.jobs
E=/RUN_DIR/status/spack.jobs.err
: > "$R"
failed=0
submitted=0
job() { t=$1; shift; submitted=1; for j in "$@"; do printf 'job\t%s\t%s\n' "$t" "$j" >> "$R"; done; }
never() { failed=1; printf 'never\t%s\t%s\n' "$1" "$(printf '%s' "$2" | tr '\t\n' '  ')" >> "$R"; }
deps() { for j in "$@"; do printf ' --dependency=afterok:%s' "$j"; done; }
ok() { [ "$1" = local ] || { [ -n "$1" ] && flux job status $1 >/dev/null 2>&1; }; }
# task spack/build
if J_0=$(flux submit --flags=waitable --job-name=spack/build -n 1 -c 1 --cwd=/WORKDIR --output=/RUN_DIR/logs/spack+build.0.log /bin/sh /RUN_DIR/tasks/spack+build.sh 2>"$E"); then job spack/build $J_0; else J_0=; never spack/build "$(cat "$E")"; fi

# task spack/run
if [ -n "$J_0" ]; then
    if J_1=$(flux submit --flags=waitable --job-name=spack/run -n 1 -c 1 --cwd=/WORKDIR --output=/RUN_DIR/logs/spack+run.0.log $(deps $J_0) /bin/sh /RUN_DIR/tasks/spack+run.sh 2>"$E"); then job spack/run $J_1; else J_1=; never spack/run "$(cat "$E")"; fi
else J_1=; never spack/run "a dependency never ran"; fi
rc=0
if [ "$submitted" = 1 ]; then flux job wait --all || rc=1; fi
flux jobs -a --json > /RUN_DIR/status/spack.json.tmp && mv /RUN_DIR/status/spack.json.tmp /RUN_DIR/status/spack.json
[ "$failed" = 0 ] || rc=1
exit "$rc"
