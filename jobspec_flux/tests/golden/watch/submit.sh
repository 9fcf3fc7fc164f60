#!/bin/sh
# What jobspec-flux submits for run RUN_ID, in order, as a shell
# script a person can read (jobspec submits the same commands from Python).
set -e
deps() { for j in "$@"; do printf ' --dependency=afterok:%s' "$j"; done; }
J_chatty=$(flux submit --job-name=chatty -n 1 -c 1 --cwd=/WORKDIR --watch /bin/sh /RUN_DIR/tasks/chatty.sh)
