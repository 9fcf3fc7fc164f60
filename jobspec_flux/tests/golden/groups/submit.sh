#!/bin/sh
# What jobspec-flux submits for run RUN_ID, in order, as a shell
# script a person can read (jobspec submits the same commands from Python).
set -e
deps() { for j in "$@"; do printf ' --dependency=afterok:%s' "$j"; done; }
J_prepare=$(flux submit --job-name=prepare -n 1 -c 1 --cwd=/WORKDIR --output=/RUN_DIR/logs/prepare.0.log /bin/sh /RUN_DIR/tasks/prepare.sh)
J_pipeline=$(flux batch --job-name=pipeline --nslots=2 --cores-per-slot=1 --cwd=/WORKDIR --output=/RUN_DIR/logs/pipeline.batch.log $(deps $J_prepare) /RUN_DIR/groups/pipeline.sh)
J_independent=$(flux batch --job-name=independent --nslots=1 --cores-per-slot=1 --cwd=/WORKDIR --output=/RUN_DIR/logs/independent.batch.log /RUN_DIR/groups/independent.sh)
