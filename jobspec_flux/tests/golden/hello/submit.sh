#!/bin/sh
# What jobspec-flux submits for run RUN_ID, in order, as a shell
# script a person can read (jobspec submits the same commands from Python).
set -e
deps() { for j in "$@"; do printf ' --dependency=afterok:%s' "$j"; done; }
J_task_0=$(flux submit --job-name=task-0 -n 1 -c 1 --cwd=/WORKDIR --output=/RUN_DIR/logs/task-0.0.log /bin/sh /RUN_DIR/tasks/task-0.sh)
