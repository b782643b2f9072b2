#!/usr/bin/env bash
# Install the system tools lutcore needs, if missing. Idempotent: quiet when
# everything is present. Versions are pinned in the Makefile and passed in as
# NAME=VERSION arguments (Debian package versions); a pinned version that the
# archive no longer carries falls back to the archive's version with a warning.
# A package installed at another version is kept, with a note.
#
# usage: scripts/deps.sh verilator=5.006-3 yosys=0.23-6 iverilog=11.0-1.1+b1
#
# Exit status: 0 when every package is installed afterwards; 1 with a message
# that says what to run by hand when it cannot install (not root and no sudo,
# apt failed, no apt at all). tests/deps_script.rs drives every branch with stub
# dpkg-query/apt-get/id commands first on PATH.
set -euo pipefail

die() {
  echo "deps: error: $*" >&2
  exit 1
}

# The installed version of package $1, or nothing when it is not installed.
# dpkg-query exits 1 for a package it has never seen: that is "missing", not an error.
installed_version() {
  local status
  status=$(dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null) || true
  case "$status" in
    "install ok installed "*) echo "${status##* }" ;;
  esac
}

[ $# -gt 0 ] || die "usage: scripts/deps.sh NAME=VERSION ..."
command -v dpkg-query >/dev/null || die "dpkg-query not found: this is not a Debian-like system. Install these by hand: $*"

missing=()
for spec in "$@"; do
  pkg=${spec%%=*}
  want=${spec#*=}
  have=$(installed_version "$pkg")
  if [ -z "$have" ]; then
    missing+=("$spec")
  elif [ "$have" != "$want" ]; then
    echo "deps: note: $pkg $have installed (pinned $want); keeping it" >&2
  fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

names=("${missing[@]%%=*}")
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null; then
  SUDO=(sudo)
else
  die "missing ${names[*]}; run as root or install them yourself: apt-get install ${names[*]}"
fi
command -v apt-get >/dev/null || die "missing ${names[*]} and apt-get not found; install them with your package manager"

# sudo may reset the environment: DEBIAN_FRONTEND goes through env, after sudo.
APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
echo "deps: installing ${missing[*]} (apt-get; about 20 s and 500 MB for the full set)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "${APT[@]}" update -qq >"$log" 2>&1; then
  cat "$log" >&2
  die "apt-get update failed (see above): check the network or the apt sources, then rerun, or install by hand: apt-get install ${names[*]}"
fi
if ! "${APT[@]}" install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
  echo "deps: warning: pinned versions unavailable (${missing[*]}); installing the archive's versions" >&2
  if ! "${APT[@]}" install -y -qq --no-install-recommends "${names[@]}" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "apt-get install ${names[*]} failed (see above); install them by hand and rerun"
  fi
fi
for pkg in "${names[@]}"; do
  have=$(installed_version "$pkg")
  [ -n "$have" ] || die "$pkg is still not installed after apt-get; install it by hand and rerun"
  echo "deps: $pkg $have"
done
