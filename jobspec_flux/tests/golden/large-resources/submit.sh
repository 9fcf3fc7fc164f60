#!/bin/sh
# What jobspec-flux submits for run RUN_ID, in order, as a shell
# script a person can read (jobspec submits the same commands from Python).
set -e
deps() { for j in "$@"; do printf ' --dependency=afterok:%s' "$j"; done; }
J_hello=$(flux submit --job-name=hello --cc=0-3 -n 4 -c 4 -g 1 -N 4 --cwd=/WORKDIR '--output=/RUN_DIR/logs/hello.{cc}.log' '--log=/RUN_DIR/ids/hello.{cc}.id' /bin/sh /RUN_DIR/tasks/hello.sh && cat /RUN_DIR/ids/hello.*.id)
J_exclusive=$(flux submit --job-name=exclusive -n 1 -c 1 -N 1 --exclusive --cwd=/WORKDIR --output=/RUN_DIR/logs/exclusive.0.log /bin/sh /RUN_DIR/tasks/exclusive.sh)
