#!/usr/bin/env bash
# The playground page in a real browser: installs Debian's headless Chromium, its
# chromedriver and python3-selenium when missing, then runs tests/browser/ with Debian's
# python3 against a real ovseg-server on the demo model. Screenshots go to
# out/test-artifacts/. Needs scripts/build.sh first; CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_debian_packages.sh chromium chromium-driver python3-selenium
/usr/bin/python3 tests/browser/playground_test.py -v "$@"
