#!/bin/sh
# What jobspec-flux submits for run RUN_ID, in order, as a shell
# script a person can read (jobspec submits the same commands from Python).
set -e
deps() { for j in "$@"; do printf ' --dependency=afterok:%s' "$j"; done; }
J_flexible=$(flux submit --job-name=flexible -n 1 -c 2 --cwd=/WORKDIR --output=/RUN_DIR/logs/flexible.0.log /bin/sh /RUN_DIR/tasks/flexible.sh)
