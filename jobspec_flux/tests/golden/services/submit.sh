#!/bin/sh
# What jobspec-flux submits for run RUN_ID, in order, as a shell
# script a person can read (jobspec submits the same commands from Python).
set -e
deps() { for j in "$@"; do printf ' --dependency=afterok:%s' "$j"; done; }
J_ml_work=$(flux batch --job-name=ml-work --nslots=1 --cores-per-slot=2 --cwd=/WORKDIR --output=/RUN_DIR/logs/ml-work.batch.log /RUN_DIR/groups/ml-work.sh)
