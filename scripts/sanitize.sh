#!/usr/bin/env bash
# Builds the server side (everything but LibTorch code) with a sanitizer in its own tree
# and runs its tests there:
#   asan  AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   tsan  ThreadSanitizer (build-tsan/): the batcher, thread pool, vocabulary cache,
#         admission and the in-process server tests (checkpoint store and swap included)
#   scripts/sanitize.sh asan|tsan [ctest -R regex]
# Debian's gRPC, protobuf and abseil are not instrumented: ASan still sees every access
# our code makes (asan: clean). TSan cannot see absl::Mutex lock and unlock in Debian's
# abseil, so every state an absl::Mutex guards reads as a race (tsan: false reports in
# the batcher, thread pool and server tests; tests/sanitizers/tsan.supp hides those inside
# abseil and gRPC, not those in our frames). A clean TSan run needs abseil built with
# TSan in the tree: docs/hardening.md, "Still open".
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: scripts/sanitize.sh asan|tsan [test regex]}
case $mode in
  asan) flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
        default_tests='^(batcher|threads|vocabulary|image|encode|config_metrics|admission|region_files|server|lifecycle|[a-z_]+_fuzz_replay)_test$' ;;
  tsan) flags="-fsanitize=thread -fno-omit-frame-pointer"
        default_tests='^(batcher|threads|vocabulary|admission|server|lifecycle)_test$' ;;
  *) echo "usage: scripts/sanitize.sh asan|tsan [test regex]"; exit 2 ;;
esac
tests=${2:-$default_tests}
tree=build-$mode
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
mkdir -p "$tree"
cmake -S . -B "$tree" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$flags" > "$tree/configure.log" 2>&1 ||
  { cat "$tree/configure.log"; exit 1; }
targets=$(cd "$tree" && ctest -N | sed -n 's/^ *Test *#[0-9]*: //p' | grep -E "$tests" || true)
[ -n "$targets" ] || { echo "sanitize: no test matches $tests"; exit 2; }
# shellcheck disable=SC2086
cmake --build "$tree" -j"$(nproc)" --target $targets
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/sanitizers/tsan.supp"
(cd "$tree" && ctest --output-on-failure -R "$tests")
