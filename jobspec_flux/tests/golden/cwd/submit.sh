#!/bin/sh
# What jobspec-flux submits for run RUN_ID, in order, as a shell
# script a person can read (jobspec submits the same commands from Python).
set -e
deps() { for j in "$@"; do printf ' --dependency=afterok:%s' "$j"; done; }
J_where=$(flux submit --job-name=where -n 1 -c 1 --cwd=/WORKDIR --output=/RUN_DIR/logs/where.0.log /bin/sh /RUN_DIR/tasks/where.sh)
J_in_tmp=$(flux submit --job-name=in-tmp -n 1 -c 1 --cwd=/tmp --output=/RUN_DIR/logs/in-tmp.0.log $(deps $J_where) /bin/sh /RUN_DIR/tasks/in-tmp.sh)
