#!/usr/bin/env bash
# Install a single-host Slurm (Debian slurm-wlm) + munge for jobspec's real-cluster tests.
#
# Contract:
#   - Idempotent: exits 0 without touching apt when every needed command is already present.
#   - Must run as root (or via sudo when available). Uses apt-get only; no systemd needed:
#     the daemons are started by jobspec_slurm.testing.cluster, not by this script.
#   - Runs `apt-get update` only when something is missing.
#   - Prints every step it takes. The shared steps are in lib-install.sh.
set -euo pipefail
LABEL=install-slurm
# shellcheck source=lib-install.sh
. "$(dirname "$0")/lib-install.sh"

PKGS=(slurmctld slurmd slurm-client munge procps util-linux)
# command -> package that provides it
declare -A NEEDS=(
  [slurmctld]=slurmctld [slurmd]=slurmd [sbatch]=slurm-client [squeue]=slurm-client
  [munged]=munge [munge]=munge [unmunge]=munge [pgrep]=procps [runuser]=util-linux
)

missing=()
for cmd in "${!NEEDS[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$cmd" ]; then
    missing+=("$cmd")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-slurm: already installed: $(ci_versions slurmctld slurmd slurm-client munge)"
  exit 0
fi

echo "install-slurm: missing commands: ${missing[*]}"
ci_need_root
start=$(date +%s)
ci_apt_install "${PKGS[@]}"
echo "install-slurm: installed $(ci_versions slurmctld slurmd slurm-client munge) in $(( $(date +%s) - start ))s"
