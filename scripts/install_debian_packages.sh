#!/usr/bin/env bash
# Installs the Debian packages named as arguments that are not installed yet (apt-get,
# with sudo when not root); nothing to do, nothing done. Used by the scripts that need
# tools (setup, the browser test, the deployment checks, fuzzing, staging).
#   scripts/install_debian_packages.sh PACKAGE...
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]})) || exit 0
echo "installing Debian packages: ${missing[*]}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
