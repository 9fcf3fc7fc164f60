#!/usr/bin/env bash
# Install a single-host Slurm (Debian slurm-wlm) + munge for jobspec's real-cluster tests.
#
# Contract:
#   - Idempotent: exits 0 without touching apt when every needed command is already present.
#   - Must run as root (or via sudo when available). Uses apt-get only; no systemd needed:
#     the daemons are started by jobspec_slurm.testing.cluster, not by this script.
#   - Runs `apt-get update` only when something is missing.
#   - Prints every step it takes.
set -euo pipefail

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
  echo "install-slurm: already installed: $(dpkg-query -W -f '${Package} ${Version}; ' slurmctld slurmd slurm-client munge)"
  exit 0
fi

echo "install-slurm: missing commands: ${missing[*]}"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n env DEBIAN_FRONTEND=noninteractive)
  else
    echo "install-slurm: must run as root (or with passwordless sudo)" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
start=$(date +%s)
echo "install-slurm: apt-get update"
"${SUDO[@]}" apt-get update -q
echo "install-slurm: apt-get install -y --no-install-recommends ${PKGS[*]}"
# policy-rc.d: keep the packages' postinst from trying to start services (no systemd here).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 755 "$policy"
  created_policy=1
fi
rc=0
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${PKGS[@]}" || rc=$?
if [ "$created_policy" -eq 1 ]; then
  "${SUDO[@]}" rm -f "$policy"
fi
if [ "$rc" -ne 0 ]; then
  echo "install-slurm: apt-get install failed (exit $rc)" >&2
  exit "$rc"
fi
echo "install-slurm: installed $(dpkg-query -W -f '${Package} ${Version}; ' slurmctld slurmd slurm-client munge) in $(( $(date +%s) - start ))s"
