# jobspec-slurm: shell functions sourced by every batch script of a run (bash 4.3+).
#
# Status records: one file per task instance under $JOBSPEC_SLURM_STATUS, holding
# "STATE EXIT_CODE STARTED FINISHED" where STATE is running, completed, failed, timeout or
# never_run, the times are Unix seconds, and "-" stands for what is not known (yet). A
# record is replaced atomically (write + mv), so a reader never sees half of one.
# `jobspec status` reads them to report tasks inside an allocation and exact exit codes.

# _js_now: the time now in Unix seconds (microseconds where bash has EPOCHREALTIME).
_js_now() {
    printf '%s' "${EPOCHREALTIME:-$(date +%s)}"
}

# _js_record KEY STATE CODE [STARTED [FINISHED]]: write the record of one task instance.
_js_record() {
    printf '%s %s %s %s\n' "$2" "$3" "${4:--}" "${5:--}" > "$JOBSPEC_SLURM_STATUS/$1.tmp.$$" &&
        mv -f -- "$JOBSPEC_SLURM_STATUS/$1.tmp.$$" "$JOBSPEC_SLURM_STATUS/$1"
}

# _js_final KEY: print the final state word of KEY's record, nothing while it runs or is absent.
_js_final() {
    local word rest
    [ -f "$JOBSPEC_SLURM_STATUS/$1" ] || return 0
    read -r word rest < "$JOBSPEC_SLURM_STATUS/$1" || return 0
    [ "$word" = running ] || printf '%s' "$word"
}

# _js_exec KEY LIMIT COMMAND...: run COMMAND (under timeout(1) when LIMIT seconds > 0),
# record how it ended, return its exit code. Slurm's --time counts whole minutes, so the
# exact limit is kept here; timeout(1) signals the command's whole process group.
_js_exec() {
    local key=$1 limit=$2 rc started begun
    shift 2
    begun=$(_js_now)
    _js_record "$key" running - "$begun"
    started=$SECONDS
    if [ "$limit" -gt 0 ]; then
        timeout --kill-after=5 "${limit}s" "$@"
    else
        "$@"
    fi
    rc=$?
    if [ "$rc" -eq 0 ]; then
        _js_record "$key" completed 0 "$begun" "$(_js_now)"
    elif [ "$limit" -gt 0 ] && [ $((SECONDS - started)) -ge "$limit" ]; then
        _js_record "$key" timeout "$rc" "$begun" "$(_js_now)"
    else
        _js_record "$key" failed "$rc" "$begun" "$(_js_now)"
    fi
    return "$rc"
}

# _js_stage PATH: make PATH (file or directory) present on every node of the allocation:
# tar it, sbcast the archive to each node, and unpack it there where PATH is missing
# (on a shared file system it is already present and is left alone).
_js_stage() {
    local src=$1 parent name archive dest rc
    if [ ! -e "$src" ]; then
        echo "jobspec: stage: $src does not exist" >&2
        return 1
    fi
    parent=$(dirname -- "$src")
    name=$(basename -- "$src")
    archive=$(mktemp "${TMPDIR:-/tmp}/jobspec-stage.XXXXXX") || return 1
    dest="/tmp/jobspec-stage-${SLURM_JOB_ID}-$$-${RANDOM}.tar"
    tar -C "$parent" -cf "$archive" -- "$name" &&
        sbcast --force "$archive" "$dest" &&
        srun --overlap --ntasks-per-node=1 --nodes="${SLURM_JOB_NUM_NODES:-1}" \
            --ntasks="${SLURM_JOB_NUM_NODES:-1}" --output=/dev/null \
            /bin/sh -c '[ -e "$1/$2" ] || { mkdir -p "$1" && tar -C "$1" -xf "$3"; }; rc=$?; rm -f "$3"; exit $rc' \
            sh "$parent" "$name" "$dest"
    rc=$?
    rm -f -- "$archive"
    echo "jobspec: stage: $src present on ${SLURM_JOB_NUM_NODES:-1} node(s) (exit $rc)" >&2
    return "$rc"
}

# _js_run_group: run the instances described by _js_keys, _js_after_ok and _js_after_any
# (instance I is the function _js_node_I). An instance starts as soon as every after-ok
# instance completed and every after-any instance ended; if an after-ok instance did not
# complete, it is recorded never_run and not started. Independent instances never wait for
# each other. Returns 0 when every instance completed, 1 otherwise.
_js_run_group() {
    local n=${#_js_keys[@]} i d word running waiting changed ready never bad=0
    local -a state  # 0 waiting, 1 started, 2 completed, 3 ended otherwise
    for ((i = 0; i < n; i++)); do state[i]=0; done
    while :; do
        changed=0
        for ((i = 0; i < n; i++)); do
            [ "${state[i]}" = 1 ] || continue
            word=$(_js_final "${_js_keys[i]}")
            case $word in
                "") ;;
                completed) state[i]=2; changed=1 ;;
                *) state[i]=3; changed=1 ;;
            esac
        done
        for ((i = 0; i < n; i++)); do
            [ "${state[i]}" = 0 ] || continue
            ready=1; never=0
            for d in ${_js_after_ok[i]}; do
                case ${state[d]} in 2) ;; 3) never=1 ;; *) ready=0 ;; esac
            done
            for d in ${_js_after_any[i]}; do
                case ${state[d]} in 2 | 3) ;; *) ready=0 ;; esac
            done
            if [ "$never" = 1 ]; then
                _js_record "${_js_keys[i]}" never_run -
                state[i]=3; changed=1
            elif [ "$ready" = 1 ]; then
                "_js_node_$i" &
                state[i]=1; changed=1
            fi
        done
        running=0; waiting=0
        for ((i = 0; i < n; i++)); do
            case ${state[i]} in 0) waiting=$((waiting + 1)) ;; 1) running=$((running + 1)) ;; esac
        done
        if [ "$running" -eq 0 ] && [ "$waiting" -eq 0 ]; then
            break
        fi
        if [ "$running" -eq 0 ] && [ "$changed" -eq 0 ]; then
            # Cannot happen for an acyclic plan; never spin or hang if it does.
            for ((i = 0; i < n; i++)); do
                if [ "${state[i]}" = 0 ]; then
                    _js_record "${_js_keys[i]}" never_run -
                    state[i]=3
                fi
            done
            continue
        fi
        if [ "$changed" -eq 0 ]; then
            # Sleep until a child ends (wait -n), with a short fallback for bash versions
            # that already reaped it.
            wait -n 2> /dev/null || sleep 0.05
        fi
    done
    wait
    for ((i = 0; i < n; i++)); do
        [ "${state[i]}" = 2 ] || bad=1
    done
    return "$bad"
}
