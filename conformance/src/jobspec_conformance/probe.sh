#!/bin/sh
# jobspec conformance probe: records what one task instance sees, for the suite to check.
#
# Usage (from a case's command):  sh "$CONFORMANCE_RESULTS_DIR/probe.sh" [ACTION ARG...]...
# The suite writes this file into the results directory before each case runs.
#
# Records go to "$CONFORMANCE_RESULTS_DIR/<task>@<index>/" (task name and index from the portable
# variables, with % and / escaped as %25 and %2F):
#   start        present once the instance started; lists the instances that had ended then
#   cwd          the physical working directory (pwd -P)
#   env/NAME     the exact value of NAME (unset/NAME when it was not set)
#   file/PATH    a copy of PATH, relative to the working directory (missing/PATH when absent)
#   argv/N       the N-th argument after "argv" (use it as the last action: argv "$@")
#   awaited/T    yes or no: whether instance 0 of task T started within the wait
#   end          present once every action finished (a killed instance has none)
#   duplicate    another instance with the same name and index had already started
#
# Actions, carried out in order: env NAME... | file PATH... | sleep SECONDS | say TEXT (to
# stdout) | await TASK SECONDS | exit CODE (the code to exit with after "end") | argv ARG...
# The portable variables JOBSPEC_RUN_ID, JOBSPEC_TASK_NAME, JOBSPEC_TASK_INDEX and
# JOBSPEC_TASK_COUNT are always recorded.
R=${CONFORMANCE_RESULTS_DIR:?CONFORMANCE_RESULTS_DIR is not set: the conformance suite sets it}
esc() { printf '%s' "$1" | sed -e 's/%/%25/g' -e 's|/|%2F|g'; }
D="$R/$(esc "${JOBSPEC_TASK_NAME-}")@$(esc "${JOBSPEC_TASK_INDEX-}")"
mkdir -p "$D/env" "$D/unset" "$D/file" "$D/missing" "$D/argv" "$D/awaited"
[ -e "$D/start" ] && : > "$D/duplicate"
for f in "$R"/*/end; do
    [ -e "$f" ] && basename "$(dirname "$f")"
done > "$D/start.tmp"
mv "$D/start.tmp" "$D/start"
pwd -P > "$D/cwd"

record_env() {
    case $1 in
        ''|[0-9]*|*[!A-Za-z0-9_]*) echo "probe: bad variable name '$1'" >&2; exit 97 ;;
    esac
    if eval "[ -n \"\${$1+x}\" ]"; then
        eval "printf '%s' \"\${$1}\"" > "$D/env/$1"
    else
        : > "$D/unset/$1"
    fi
}
for v in JOBSPEC_RUN_ID JOBSPEC_TASK_NAME JOBSPEC_TASK_INDEX JOBSPEC_TASK_COUNT; do
    record_env "$v"
done

code=0
mode=
while [ $# -gt 0 ]; do
    case $1 in
        env|file) mode=$1; shift; continue ;;
        sleep) sleep "$2"; shift 2; mode=; continue ;;
        say) printf '%s\n' "$2"; shift 2; mode=; continue ;;
        exit) code=$2; shift 2; mode=; continue ;;
        await)
            n=0; target="$R/$(esc "$2")@0/start"
            while [ ! -e "$target" ] && [ "$n" -lt "$3" ]; do sleep 1; n=$((n + 1)); done
            if [ -e "$target" ]; then echo yes; else echo no; fi > "$D/awaited/$(esc "$2")"
            shift 3; mode=; continue ;;
        argv)
            shift; n=0
            for a in "$@"; do printf '%s' "$a" > "$D/argv/$n"; n=$((n + 1)); done
            break ;;
    esac
    case $mode in
        env) record_env "$1" ;;
        file)
            if [ -f "$1" ]; then cp "$1" "$D/file/$(esc "$1")"
            else : > "$D/missing/$(esc "$1")"; fi ;;
        *) echo "probe: unknown action '$1'" >&2; exit 98 ;;
    esac
    shift
done
: > "$D/end"
exit "$code"
