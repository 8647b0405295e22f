#!/usr/bin/env bash
# The test command: setup (idempotent), build, then every ctest test (labels unit,
# integration, slow). Extra arguments go to ctest, e.g. `scripts/test.sh -L unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd build && ctest --output-on-failure -j2 "$@"
