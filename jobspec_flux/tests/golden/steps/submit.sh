#!/bin/sh
# What jobspec-flux submits for run RUN_ID, in order, as a shell
# script a person can read (jobspec submits the same commands from Python).
set -e
deps() { for j in "$@"; do printf ' --dependency=afterok:%s' "$j"; done; }
# jobspec writes /WORKDIR/jobspec-steps-example.sh (write step of setup) before this
flux archive create --overwrite --name=jobspec.RUN_ID.setup.1 -C /WORKDIR jobspec-steps-example.sh
J_setup=$(flux submit --job-name=setup -n 1 -c 1 --cwd=/WORKDIR --output=/RUN_DIR/logs/setup.0.log -o stage-in.names=jobspec.RUN_ID.setup.1 /bin/sh /RUN_DIR/tasks/setup.sh)
