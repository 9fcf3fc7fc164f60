#!/bin/sh
# jobspec-flux batch script: group ${group_id} of run ${run_id}
#
# Runs inside the group's own Flux instance (flux batch). Each task is one
# `flux submit --flags=waitable`; ids are captured for --dependency=afterok; local entries
# run here as plain commands, each after every entry above it has finished; the final
# `flux job wait --all` makes this script fail when any task failed.
# Records for `jobspec status`: ${record_note} (one line per submitted job or task never run)
# and, at the end, ${dump_note} (`flux jobs -a --json` of this instance).
R=${record}
E=${record}.err
: > "$$R"
failed=0
submitted=0
job() { t=$$1; shift; submitted=1; for j in "$$@"; do printf 'job\t%s\t%s\n' "$$t" "$$j" >> "$$R"; done; }
never() { failed=1; printf 'never\t%s\t%s\n' "$$1" "$$(printf '%s' "$$2" | tr '\t\n' '  ')" >> "$$R"; }
deps() { for j in "$$@"; do printf ' --dependency=afterok:%s' "$$j"; done; }
ok() { [ "$$1" = local ] || { [ -n "$$1" ] && flux job status $$1 >/dev/null 2>&1; }; }
${body}
rc=0
if [ "$$submitted" = 1 ]; then flux job wait --all || rc=1; fi
flux jobs -a --json > ${dump}.tmp && mv ${dump}.tmp ${dump}
[ "$$failed" = 0 ] || rc=1
exit "$$rc"
