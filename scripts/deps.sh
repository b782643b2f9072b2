#!/usr/bin/env bash
# Install the system tools lutcore needs, if missing. Idempotent: quiet when
# everything is present. Versions are pinned in the Makefile and passed in as
# NAME=VERSION arguments (Debian package versions); a pinned version that the
# archive no longer carries falls back to the archive's version with a warning.
#
# usage: scripts/deps.sh verilator=5.006-3 yosys=0.23-6 iverilog=11.0-1.1+b1
set -euo pipefail

missing=()
for spec in "$@"; do
  pkg=${spec%%=*}
  want=${spec#*=}
  have=$(dpkg-query -W -f='${Status} ${Version}' "$pkg" 2>/dev/null | awk '/install ok installed/ {print $4}')
  if [ -z "$have" ]; then
    missing+=("$spec")
  elif [ "$have" != "$want" ]; then
    echo "deps: note: $pkg $have installed (pinned $want); keeping it" >&2
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    echo "deps: missing ${missing[*]}; run as root or install them: apt-get install ${missing[*]%%=*}" >&2
    exit 1
  fi
  SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo sudo)
  echo "deps: installing ${missing[*]} (apt)"
  $SUDO apt-get update -qq
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "deps: warning: pinned versions unavailable, installing the archive's versions" >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]%%=*}" >/dev/null
  fi
  for spec in "${missing[@]}"; do
    pkg=${spec%%=*}
    echo "deps: $pkg $(dpkg-query -W -f='${Version}' "$pkg")"
  done
fi
