#!/usr/bin/env bash
# The playground page in a real browser: installs Debian's headless Chromium, its
# chromedriver and python3-selenium when missing, then runs tests/browser/ with Debian's
# python3 against a real ovseg-server on the demo model. Screenshots go to
# out/test-artifacts/. Needs scripts/build.sh first; CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for p in chromium chromium-driver python3-selenium; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "test_playground: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
/usr/bin/python3 tests/browser/playground_test.py -v "$@"
