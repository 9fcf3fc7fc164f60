#!/bin/sh
# What jobspec-flux submits for run RUN_ID, in order, as a shell
# script a person can read (jobspec submits the same commands from Python).
set -e
deps() { for j in "$@"; do printf ' --dependency=afterok:%s' "$j"; done; }
J_build=$(flux submit --job-name=build -n 1 -c 2 --cwd=/WORKDIR --output=/RUN_DIR/logs/build.0.log /bin/sh /RUN_DIR/tasks/build.sh)
J_ior=$(flux submit --job-name=ior -n 1 -c 2 --cwd=/WORKDIR --output=/RUN_DIR/logs/ior.0.log $(deps $J_build) /bin/sh /RUN_DIR/tasks/ior.sh)
