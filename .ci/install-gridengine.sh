#!/usr/bin/env bash
# Install a single-host Grid Engine (Debian 12's gridengine 8.1.9) for jobspec's real-cluster tests.
#
# Contract:
#   - Idempotent: exits 0 without touching apt when every needed command is already present.
#   - Must run as root (or via sudo when available). Uses apt-get only; no systemd needed:
#     the daemons are started by jobspec_sge.testing.cluster, not by this script.
#   - Preseeds debconf so the packages configure themselves without questions: the "default"
#     cell with this host as master (gridengine-common shared/gridengineconfig true). The tests
#     never use that cell: each test cluster creates a private cell of its own under $SGE_ROOT.
#   - Keeps the packages' postinst from starting daemons (policy-rc.d), and stops any daemon
#     the install started anyway (by its pid file only).
#   - Runs `apt-get update` only when something is missing. Prints every step it takes.
#     The shared steps are in lib-install.sh.
set -euo pipefail
LABEL=install-gridengine
# shellcheck source=lib-install.sh
. "$(dirname "$0")/lib-install.sh"

PKGS=(gridengine-master gridengine-exec gridengine-client procps)
# command -> package that provides it (the daemons live under /usr/lib/gridengine).
declare -A NEEDS=(
  [qsub]=gridengine-client [qstat]=gridengine-client [qconf]=gridengine-client
  [qacct]=gridengine-client [qdel]=gridengine-client [pgrep]=procps
)
DAEMONS=(/usr/lib/gridengine/sge_qmaster /usr/lib/gridengine/sge_execd)

missing=()
for cmd in "${!NEEDS[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
done
for d in "${DAEMONS[@]}"; do
  [ -x "$d" ] || missing+=("$d")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-gridengine: already installed: $(ci_versions "${PKGS[@]:0:3}")"
  exit 0
fi

echo "install-gridengine: missing: ${missing[*]}"
ci_need_root

export DEBIAN_FRONTEND=noninteractive
host=$(hostname)
start=$(date +%s)
echo "install-gridengine: preseed debconf (cell default, master $host)"
"${SUDO[@]}" debconf-set-selections <<EOF
gridengine-common shared/gridengineconfig boolean true
gridengine-common shared/gridenginecell string default
gridengine-common shared/gridenginemaster string $host
gridengine-master shared/gridengineconfig boolean true
gridengine-master shared/gridenginecell string default
gridengine-master shared/gridenginemaster string $host
gridengine-client shared/gridengineconfig boolean true
gridengine-client shared/gridenginecell string default
gridengine-client shared/gridenginemaster string $host
gridengine-exec shared/gridengineconfig boolean true
gridengine-exec shared/gridenginecell string default
gridengine-exec shared/gridenginemaster string $host
EOF
ci_apt_install "${PKGS[@]}"
# gridengine-master's postinst runs the qmaster itself to load the default cell's configuration;
# end the daemons of the default cell it may have left running (found by their pid files only).
for pidfile in /var/spool/gridengine/qmaster/qmaster.pid \
               "/var/spool/gridengine/execd/$host/execd.pid"; do
  if [ -s "$pidfile" ]; then
    pid=$(cat "$pidfile")
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'sge_'; then
      echo "install-gridengine: stopping the default cell's daemon pid $pid ($pidfile)"
      "${SUDO[@]}" kill "$pid" || true
    fi
  fi
done
echo "install-gridengine: installed $(ci_versions "${PKGS[@]:0:3}") in $(( $(date +%s) - start ))s"
