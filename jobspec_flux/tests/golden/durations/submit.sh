#!/bin/sh
# What jobspec-flux submits for run RUN_ID, in order, as a shell
# script a person can read (jobspec submits the same commands from Python).
set -e
deps() { for j in "$@"; do printf ' --dependency=afterok:%s' "$j"; done; }
J_quick=$(flux submit --job-name=quick -n 1 -c 1 -t 30s --cwd=/WORKDIR --output=/RUN_DIR/logs/quick.0.log /bin/sh /RUN_DIR/tasks/quick.sh)
J_minutes=$(flux submit --job-name=minutes -n 1 -c 1 -t 300s --cwd=/WORKDIR --output=/RUN_DIR/logs/minutes.0.log /bin/sh /RUN_DIR/tasks/minutes.sh)
J_spack=$(flux batch --job-name=spack --nslots=2 --cores-per-slot=1 -t 900s --cwd=/WORKDIR --output=/RUN_DIR/logs/spack.batch.log /RUN_DIR/groups/spack.sh)
