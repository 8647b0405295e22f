#!/usr/bin/env bash
# Builds the server side (everything but LibTorch code) with a sanitizer in its own tree
# and runs its tests there:
#   asan  AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   tsan  ThreadSanitizer (build-tsan/): the batcher, thread pool, vocabulary cache,
#         admission and the in-process server tests (checkpoint store and swap included)
#   scripts/sanitize.sh asan|tsan [ctest -R regex]
# Debian's gRPC, protobuf and abseil are not instrumented: ASan still sees every access
# our code makes (asan: clean). TSan must see every lock, and absl::Mutex (ours and
# gRPC's, whose own mutexes are absl's) is in Debian's uninstrumented libabsl: so tsan
# first builds Debian's own abseil source package (the exact version and patches the
# system has, fetched from the Debian archive and checked against its .dsc) with
# -fsanitize=thread into build-tsan/abseil/, once, and runs the tests with it in front of
# the system's copy (same sonames, same ABI). tests/sanitizers/tsan.supp then hides only
# what gRPC and protobuf do in their own uninstrumented code.
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
if [ "$mode" = tsan ]; then
  # Debian's abseil source, as installed, built with TSan (about 5 minutes on 2 cores).
  absl=$PWD/$tree/abseil
  if [ ! -f "$absl/lib/libabsl_synchronization.so.20220623" ]; then
    version=$(dpkg-query -W -f='${Version}' libabsl-dev)  # e.g. 20220623.1-1+deb12u2
    upstream=${version%-*}
    rm -rf "$absl" && mkdir -p "$absl/fetch"
    for f in "abseil_${version}.dsc" "abseil_${upstream}.orig.tar.gz" "abseil_${version}.debian.tar.xz"; do
      curl -sSf --retry 3 -o "$absl/fetch/$f" "http://deb.debian.org/debian/pool/main/a/abseil/$f" ||
        { echo "sanitize: cannot fetch $f from the Debian archive"; exit 1; }
    done
    # Checks the files against the .dsc's checksums and applies Debian's patches.
    # (The maintainer's signature is not checked: Debian's keyring package is not installed;
    # the checksums are, and the .dsc comes from the archive apt trusts.)
    (cd "$absl/fetch" && dpkg-source -x "abseil_${version}.dsc" src > ../source.log 2>&1) ||
      { cat "$absl/source.log"; exit 1; }
    cmake -S "$absl/fetch/src" -B "$absl/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_STANDARD=17 -DBUILD_SHARED_LIBS=ON -DCMAKE_INSTALL_PREFIX="$absl" \
      -DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
      > "$tree/abseil-configure.log" 2>&1 || { cat "$tree/abseil-configure.log"; exit 1; }
    cmake --build "$absl/build" -j"$(nproc)" > "$tree/abseil-build.log" 2>&1 ||
      { tail -30 "$tree/abseil-build.log"; exit 1; }
    cmake --install "$absl/build" > /dev/null
  fi
  export LD_LIBRARY_PATH=$absl/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
targets=$(cd "$tree" && ctest -N | sed -n 's/^ *Test *#[0-9]*: //p' | grep -E "$tests" || true)
[ -n "$targets" ] || { echo "sanitize: no test matches $tests"; exit 2; }
# shellcheck disable=SC2086
cmake --build "$tree" -j"$(nproc)" --target $targets
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/sanitizers/tsan.supp"
(cd "$tree" && ctest --output-on-failure -R "$tests")
