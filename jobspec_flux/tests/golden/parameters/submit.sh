#!/bin/sh
# What jobspec-flux submits for run RUN_ID, in order, as a shell
# script a person can read (jobspec submits the same commands from Python).
set -e
deps() { for j in "$@"; do printf ' --dependency=afterok:%s' "$j"; done; }
J_solve=$(flux submit --job-name=solve -n 1 -c 1 -N 1 --exclusive -t 300s --cwd=/WORKDIR --output=/RUN_DIR/logs/solve.0.log /bin/sh /RUN_DIR/tasks/solve.sh)
J_report=$(flux submit --job-name=report -n 1 -c 1 --cwd=/WORKDIR --output=/RUN_DIR/logs/report.0.log $(deps $J_solve) /bin/sh /RUN_DIR/tasks/report.sh)
