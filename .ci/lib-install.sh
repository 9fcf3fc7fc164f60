# Shared steps of the .ci/install-*.sh scripts (sourced, not run): root or sudo, and an
# apt-get install that never starts the packages' services.
#
# Contract (each function prints its steps prefixed with "$LABEL: "; set LABEL first):
#   ci_need_root          sets the array SUDO: empty as root, else `sudo -n env
#                         DEBIAN_FRONTEND=noninteractive`; exits 1 when neither is possible.
#   ci_apt_install PKG... apt-get update, then apt-get install -y --no-install-recommends
#                         PKG..., with a policy-rc.d (exit 101) in place during the install
#                         so no postinst starts a daemon (no systemd here); the policy file
#                         is removed again only if this function created it. Exits with
#                         apt-get's status when the install fails.
#   ci_versions PKG...    "PKG VERSION; " for each installed package (for the final line).

ci_need_root() {
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      SUDO=(sudo -n env DEBIAN_FRONTEND=noninteractive)
    else
      echo "$LABEL: must run as root (or with passwordless sudo)" >&2
      exit 1
    fi
  fi
}

ci_apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  echo "$LABEL: apt-get update"
  "${SUDO[@]}" apt-get update -q
  echo "$LABEL: apt-get install -y --no-install-recommends $*"
  local policy=/usr/sbin/policy-rc.d created_policy=0 rc=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    created_policy=1
  fi
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "$@" || rc=$?
  if [ "$created_policy" -eq 1 ]; then
    "${SUDO[@]}" rm -f "$policy"
  fi
  if [ "$rc" -ne 0 ]; then
    echo "$LABEL: apt-get install failed (exit $rc)" >&2
    exit "$rc"
  fi
}

ci_versions() {
  dpkg-query -W -f '${Package} ${Version}; ' "$@"
}
