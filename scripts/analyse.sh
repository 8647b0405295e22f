#!/usr/bin/env bash
# FOV-Seg's stage analysis of a model on the synthetic world's validation split
# (docs/analysis.md): serves it on a private port and runs `ovseg-eval analyse` (end to
# end, oracle mask generator, oracle classifier, proposal recall, CLIP alone on crops).
#   scripts/analyse.sh [--config F] [--checkpoint F] [--clip F] [--out DIR] [-- extra ovseg-eval flags]
# Defaults: configs/server.pbtxt serving the embedded demo model (models/demo/), its
# checkpoint, its CLIP for the crops stage (--clip: the one the config serves) with the
# config's vocabulary.template_set (override: -- --clip-templates T), data/demo/synth/val (made by
# scripts/train_demo.sh, or: build/tools/ovseg-synth --out data/demo/synth --train 4000
# --val 500 --seed 1), out/analysis/. The report is DIR/analysis.json.
set -euo pipefail
cd "$(dirname "$0")/.."
config=configs/server.pbtxt
checkpoint=models/demo/fovseg.safetensors
clip=models/demo/clip.safetensors
out=out/analysis
while (($#)); do
  case $1 in
    --config) config=$2; shift 2 ;;
    --checkpoint) checkpoint=$2; shift 2 ;;
    --clip) clip=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "analyse: unknown argument $1" >&2; exit 2 ;;
  esac
done
val=data/demo/synth/val
[ -f $val/panoptic.json ] || { echo "analyse: $val is missing; see the header of $0" >&2; exit 1; }
mkdir -p "$out"
# CLIP alone on crops embeds the class names as the server does, so that the two stages
# compare (a --clip-templates after -- wins: ovseg-eval keeps a flag's last value).
templates=$(sed -n 's/^ *template_set: *"\([a-z]*\)".*/\1/p' "$config" | head -1)
if grep -q '^ *prompt_templates:' "$config"; then
  echo "analyse: $config lists prompt_templates; the crops stage uses the set named by" \
    "template_set (${templates:-single}) unless -- --clip-templates says otherwise" >&2
fi
port=$((50100 + RANDOM % 800))
sed -e "s|models/demo/fovseg.safetensors|$checkpoint|" \
    -e "s|127.0.0.1:50051|127.0.0.1:$port|" -e 's|metrics_address: .*|metrics_address: "none"|' \
    "$config" > "$out/server.pbtxt"
build/server/ovseg-server --config "$out/server.pbtxt" --http_address none > "$out/server.log" 2>&1 &
server=$!
trap 'kill $server 2> /dev/null || true' EXIT
build/client/ovseg health --server 127.0.0.1:$port --wait_s 120 > /dev/null
build/tools/ovseg-eval analyse --server 127.0.0.1:$port --gt-json $val/panoptic.json \
  --gt-dir $val/panoptic --image-dir $val/images \
  --clip "$clip" --clip-quick-gelu false --clip-templates "${templates:-single}" \
  --json-out "$out/analysis.json" "$@" > /dev/null
echo "analyse: $out/analysis.json"
