#!/usr/bin/env bash
# Checks (or with --fix, applies) clang-format on the project's C++ sources (generated
# *_tables.cc files excepted).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=(--dry-run -Werror)
[ "${1:-}" = "--fix" ] && mode=(-i)
git ls-files '*.cc' '*.h' | grep -v '_tables.cc$' | xargs clang-format "${mode[@]}"
echo "format: ok"
