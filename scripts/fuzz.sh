#!/usr/bin/env bash
# Fuzzes the safetensors header parser with libFuzzer + AddressSanitizer (clang), for
# SECONDS (default 60), starting from tests/fuzz/corpus/safetensors_header.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
out=build-fuzz
mkdir -p "$out" "$out/corpus"
cp tests/fuzz/corpus/safetensors_header/* "$out/corpus/"
absl_libs=$(pkg-config --libs absl_strings absl_statusor absl_status)
clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -I. \
  tests/fuzz/safetensors_header_fuzzer.cc model/safetensors/safetensors_header.cc \
  $absl_libs -o "$out/safetensors_header_fuzzer"
"$out/safetensors_header_fuzzer" -max_total_time="$seconds" -max_len=4096 "$out/corpus"
