#!/bin/sh
# What jobspec-flux submits for run RUN_ID, in order, as a shell
# script a person can read (jobspec submits the same commands from Python).
set -e
deps() { for j in "$@"; do printf ' --dependency=afterok:%s' "$j"; done; }
J_mini_mummi=$(flux batch --job-name=mini-mummi --nslots=1 --cores-per-slot=2 -N 1 -t 600s --cwd=/WORKDIR --output=/RUN_DIR/logs/mini-mummi.batch.log /RUN_DIR/groups/mini-mummi.sh)
