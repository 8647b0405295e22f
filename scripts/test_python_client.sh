#!/usr/bin/env bash
# Installs the Python client (client/python) into its own venv (.client-venv, as a user
# would, with pip from the repository) and runs its tests against a real ovseg-server on
# the demo model (tests/python/). Needs scripts/build.sh first; CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .client-venv/bin/python ] || python3 -m venv .client-venv
.client-venv/bin/pip install -q --disable-pip-version-check "./client/python[test]"
.client-venv/bin/python -m pytest -q tests/python "$@"
