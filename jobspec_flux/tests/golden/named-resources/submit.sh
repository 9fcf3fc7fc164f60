#!/bin/sh
# What jobspec-flux submits for run RUN_ID, in order, as a shell
# script a person can read (jobspec submits the same commands from Python).
set -e
deps() { for j in "$@"; do printf ' --dependency=afterok:%s' "$j"; done; }
J_small=$(flux submit --job-name=small -n 1 -c 1 --cwd=/WORKDIR --output=/RUN_DIR/logs/small.0.log /bin/sh /RUN_DIR/tasks/small.sh)
J_wider=$(flux submit --job-name=wider -n 1 -c 2 --cwd=/WORKDIR --output=/RUN_DIR/logs/wider.0.log /bin/sh /RUN_DIR/tasks/wider.sh)
J_inline=$(flux submit --job-name=inline -n 1 -c 1 --cwd=/WORKDIR --output=/RUN_DIR/logs/inline.0.log /bin/sh /RUN_DIR/tasks/inline.sh)
