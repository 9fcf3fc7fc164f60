#!/bin/sh
# What jobspec-flux submits for run RUN_ID, in order, as a shell
# script a person can read (jobspec submits the same commands from Python).
set -e
deps() { for j in "$@"; do printf ' --dependency=afterok:%s' "$j"; done; }
J_hello=$(flux submit --job-name=hello --cc=0-3 -n 1 -c 1 --cwd=/WORKDIR '--output=/RUN_DIR/logs/hello.{cc}.log' '--log=/RUN_DIR/ids/hello.{cc}.id' /bin/sh /RUN_DIR/tasks/hello.sh && cat /RUN_DIR/ids/hello.*.id)
