#!/usr/bin/env bash
# The soak (bench/server/soak_bench.cc) against the demo server: configs/server.pbtxt with
# a ModelAdmin token and a fresh checkpoint directory, on ports 50081/9484; 64 clients for
# 10 minutes of mixed valid and malformed requests with 2 s deadlines, a checkpoint swap
# at 40% and a rollback at 70%. The swap's checkpoint is the demo's own classifier with
# one metadata entry changed (so a different file and version id: the swap loads, warms
# and activates a real second version); --swap FILE uses another. Writes
# out/soak/report.txt (docs/benchmarks.md, "Soak"), ending with scripts/soak_admitted.py's
# account of the admitted calls from the server's request log. Needs scripts/build.sh first.
#   scripts/soak.sh [--seconds 600] [--clients 64] [--swap FILE] [--config F]
#                   [-- soak_bench flags]
# --config serves another configuration of the demo (default configs/server.pbtxt).
# e.g. the no-deadline baseline: scripts/soak.sh --seconds 150 -- --deadline_s 600
#   --invalid_fraction 0
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=600 clients=64 swap="" config=configs/server.pbtxt
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --swap) swap=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: scripts/soak.sh [--seconds N] [--clients N] [--swap FILE] [--config F] [-- soak_bench flags]"; exit 2 ;;
  esac
done
out=out/soak
rm -rf "$out" && mkdir -p "$out/checkpoints"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$out/admin.token"
sed -e 's|127.0.0.1:50051|127.0.0.1:50081|' -e 's|127.0.0.1:9464|127.0.0.1:9484|' \
    -e "s|checkpoint_dir: \"checkpoints\"|checkpoint_dir: \"$out/checkpoints\"\n  token_file: \"$out/admin.token\"|" \
    "$config" > "$out/server.pbtxt"
grep -q token_file "$out/server.pbtxt" || { echo "soak: $config has no admin block"; exit 1; }
if [ -z "$swap" ]; then
  swap=$out/demo-step-changed.safetensors
  .venv/bin/python - models/demo/fovseg.safetensors "$swap" <<'PY'
import json, struct, sys
src, dst = sys.argv[1:]
data = open(src, "rb").read()
n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n])
header["__metadata__"]["step"] = str(int(header["__metadata__"]["step"]) + 1)
body = json.dumps(header, separators=(",", ":")).encode()
body += b" " * (-len(body) % 8)
open(dst, "wb").write(struct.pack("<Q", len(body)) + body + data[8 + n:])
PY
fi
# Images and vocabulary: a few scenes of the synthetic world's validation distribution.
build/tools/ovseg-synth --out "$out/world" --train 0 --val 16 --seed 11 --threads 1 > /dev/null 2>&1
labels=$(.venv/bin/python -c "
import json; print(','.join(c['name'] for c in json.load(open('$out/world/vocabulary.json'))['classes']))")
build/server/ovseg-server --config "$out/server.pbtxt" --http_address none > "$out/server.log" 2>&1 &
server=$!
trap 'kill $server 2> /dev/null; wait $server 2> /dev/null || true' EXIT
build/client/ovseg health --server 127.0.0.1:50081 --wait_s 300 > /dev/null
build/bench/soak_bench --server 127.0.0.1:50081 --pid "$server" \
  --admin_token_file "$out/admin.token" --swap_checkpoint "$swap" \
  --rollback_checkpoint models/demo/fovseg.safetensors --image_dir "$out/world/val/images" \
  --labels "$labels" --clients "$clients" --seconds "$seconds" "$@" | tee "$out/report.txt" ||
  status=$?
# Where the admitted calls spent their time, by the server's own request log; most useful
# when the soak failed, so it runs either way and the soak's exit status is kept.
echo >> "$out/report.txt"
.venv/bin/python scripts/soak_admitted.py "$out/server.log" | tee -a "$out/report.txt" || true
exit "${status:-0}"
