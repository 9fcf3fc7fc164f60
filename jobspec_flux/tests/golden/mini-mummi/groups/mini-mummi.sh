#!/bin/sh
# jobspec-flux batch script: group mini-mummi of run RUN_ID
#
# Runs inside the group's own Flux instance (flux batch). Each task is one
# `flux submit --flags=waitable`; ids are captured for --dependency=afterok; local entries
# run here as plain commands, each after every entry above it has finished; the final
# `flux job wait --all` makes this script fail when any task failed.
# Records for `jobspec status`: /RUN_DIR/status/mini-mummi.jobs (one line per submitted job or task never run)
# and, at the end, /RUN_DIR/status/mini-mummi.json (`flux jobs -a --json` of this instance).
R=/RUN_DIR/status/mini-mummi.jobs
E=/RUN_DIR/status/mini-mummi.jobs.err
: > "$R"
failed=0
submitted=0
job() { t=$1; shift; submitted=1; for j in "$@"; do printf 'job\t%s\t%s\n' "$t" "$j" >> "$R"; done; }
never() { failed=1; printf 'never\t%s\t%s\n' "$1" "$(printf '%s' "$2" | tr '\t\n' '  ')" >> "$R"; }
deps() { for j in "$@"; do printf ' --dependency=afterok:%s' "$j"; done; }
ok() { [ "$1" = local ] || { [ -n "$1" ] && flux job status $1 >/dev/null 2>&1; }; }
# local mini-mummi/start-queue: runs here, after the entries above it
sh /RUN_DIR/tasks/mini-mummi+start-queue.sh 0 > /RUN_DIR/logs/mini-mummi+start-queue.0.log 2>&1 & P0=$!
J_0=local; wait $P0 || J_0=; [ -n "$J_0" ] || failed=1

# group mini-mummi/train
if J_1=$(flux batch --flags=waitable --job-name=mini-mummi/train --nslots=1 --cores-per-slot=1 --cwd=/WORKDIR --output=/RUN_DIR/logs/mini-mummi+train.batch.log /RUN_DIR/groups/mini-mummi+train.sh 2>"$E"); then job mini-mummi/train $J_1; else J_1=; never mini-mummi/train "$(cat "$E")"; fi

# task mini-mummi/test
if [ -n "$J_1" ]; then
    if J_2=$(flux submit --flags=waitable --job-name=mini-mummi/test --cc=0-3 -n 1 -c 1 --cwd=/WORKDIR '--output=/RUN_DIR/logs/mini-mummi+test.{cc}.log' $(deps $J_1) /bin/sh /RUN_DIR/tasks/mini-mummi+test.sh 2>"$E"); then job mini-mummi/test $J_2; else J_2=; never mini-mummi/test "$(cat "$E")"; fi
else J_2=; never mini-mummi/test "a dependency never ran"; fi

# local mini-mummi/stop-queue: runs here, after the entries above it
[ -z "$J_1$J_2" ] || flux job status $J_1 $J_2 >/dev/null 2>&1
if ok "$J_2"; then
    sh /RUN_DIR/tasks/mini-mummi+stop-queue.sh 0 > /RUN_DIR/logs/mini-mummi+stop-queue.0.log 2>&1 & P0=$!
    J_3=local; wait $P0 || J_3=; [ -n "$J_3" ] || failed=1
else J_3=; never mini-mummi/stop-queue "a dependency did not succeed"; fi
rc=0
if [ "$submitted" = 1 ]; then flux job wait --all || rc=1; fi
flux jobs -a --json > /RUN_DIR/status/mini-mummi.json.tmp && mv /RUN_DIR/status/mini-mummi.json.tmp /RUN_DIR/status/mini-mummi.json
[ "$failed" = 0 ] || rc=1
exit "$rc"
