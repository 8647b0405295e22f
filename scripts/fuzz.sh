#!/usr/bin/env bash
# Fuzzes every parser of untrusted bytes with libFuzzer + AddressSanitizer + UBSan
# (clang), SECONDS each (default 60), from the corpora in tests/fuzz/corpus/, and prints
# each target's executions and outcome. The gcc build replays the same targets in CI
# (tests/CMakeLists.txt, *_fuzz_replay_test). Needs scripts/build.sh first (the
# generated protobuf sources and the tokenizer library come from build/).
#   scripts/fuzz.sh [SECONDS] [TARGET ...]
#   targets: safetensors_header image_header image_decode coco_rle region
#            segment_request server_config checkpoint_metadata http_request
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors_header image_header image_decode coco_rle region
                                       segment_request server_config checkpoint_metadata
                                       http_request)
# clang and its libFuzzer runtime, from Debian, when missing.
scripts/install_debian_packages.sh clang libclang-rt-dev
[ -f build/proto/gen/ovseg/v1/segmentation.pb.cc ] || { echo "fuzz: run scripts/build.sh first"; exit 1; }
out=build-fuzz
mkdir -p "$out"
flags=(-std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -I. -Ibuild/proto/gen
       -isystem /usr/include/opencv4)
absl=$(pkg-config --libs absl_strings absl_statusor absl_status absl_str_format absl_synchronization absl_time absl_random_random absl_flat_hash_map)
pb=(build/proto/gen/ovseg/v1/segmentation.pb.cc build/proto/gen/ovseg/v1/config.pb.cc)
opencv=$(pkg-config --libs opencv4)
declare -A sources libs corpus
sources[safetensors_header]="model/safetensors/safetensors_header.cc"
sources[image_header]="server/image/image_header.cc"
sources[image_decode]="server/image/image_decoder.cc server/image/jpeg_decoder.cc server/image/image_header.cc ${pb[0]}"
sources[coco_rle]="common/coco_rle.cc"
sources[region]="server/image/region_decoder.cc common/coco_rle.cc server/image/image_header.cc ${pb[0]}"
sources[segment_request]="server/service/segment_request_parser.cc server/service/request_memory.cc
  server/service/api_enums.cc
  server/vocabulary/label_set.cc server/image/image_decoder.cc server/image/jpeg_decoder.cc
  server/image/image_header.cc server/config/config_loader.cc server/config/prompt_template_check.cc
  common/client_text.cc common/sha256.cc ${pb[*]}"
sources[checkpoint_metadata]="model/serving/checkpoint_metadata.cc model/safetensors/safetensors_header.cc
  common/client_text.cc"
sources[server_config]="server/config/config_loader.cc server/config/prompt_template_check.cc ${pb[*]}"
sources[http_request]="server/http/form_request.cc server/http/json_codec.cc common/client_text.cc ${pb[0]}"
for t in image_decode region segment_request; do libs[$t]="$opencv -ljpeg"; done
libs[segment_request]+=" build/model/libovseg_clip_text.a -lz -lcrypto"
libs[server_config]="build/model/libovseg_clip_text.a -lz"
for t in image_header image_decode; do corpus[$t]=image; done
report=()
for t in "${targets[@]}"; do
  [ -n "${sources[$t]:-}" ] || { echo "fuzz: unknown target $t"; exit 2; }
  echo "fuzz: building $t"
  # shellcheck disable=SC2086
  clang++ "${flags[@]}" tests/fuzz/${t}_fuzzer.cc ${sources[$t]} ${libs[$t]:-} \
    -lprotobuf $absl -o "$out/${t}_fuzzer"
  work="$out/corpus/$t"
  mkdir -p "$work"
  cp tests/fuzz/corpus/${corpus[$t]:-$t}/* "$work/"
  log="$out/$t.log"
  if "$out/${t}_fuzzer" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 \
       -print_final_stats=1 "$work" > "$log" 2>&1; then outcome="0 crashes"; else outcome="FAILED (see $log)"; fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  report+=("$(printf '%-20s %12s executions in %ss: %s' "$t" "$runs" "$seconds" "$outcome")")
done
printf '%s\n' "${report[@]}"
