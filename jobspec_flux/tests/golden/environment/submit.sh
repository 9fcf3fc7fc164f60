#!/bin/sh
# What jobspec-flux submits for run RUN_ID, in order, as a shell
# script a person can read (jobspec submits the same commands from Python).
set -e
deps() { for j in "$@"; do printf ' --dependency=afterok:%s' "$j"; done; }
J_spack=$(flux batch --job-name=spack --nslots=2 --cores-per-slot=1 --cwd=/WORKDIR --output=/RUN_DIR/logs/spack.batch.log /RUN_DIR/groups/spack.sh)
