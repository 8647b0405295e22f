#!/usr/bin/env bash
# Trains the embedded demo model (models/demo/) from nothing, on this machine, in under an
# hour on 2 cores: the synthetic world (ovseg-synth, seed 1 for the segmentation splits,
# seed 2 for the caption corpus), then ovseg-train with configs/train_demo.pbtxt
# (clip_pretrain -> generator -> fovseg, seed 1), then copies the three weight files into
# models/demo/. Pass --install=no to leave models/demo/ alone.
set -euo pipefail
cd "$(dirname "$0")/.."
install=yes
[ "${1:-}" = "--install=no" ] && install=no
scripts/build.sh
start=$(date +%s)
rm -rf data/demo out/demo
build/train/ovseg-synth --out data/demo/synth --train 4000 --val 500 --seed 1
build/train/ovseg-synth --out data/demo/captions --train 30000 --val 0 --max-things 2 \
  --min-size 128 --max-size 160 --seed 2
build/train/ovseg-train --config configs/train_demo.pbtxt
final=$(python3 -c 'import json; print(json.load(open("out/demo/latest.json"))["checkpoint"])')
echo "train_demo: finished in $(( $(date +%s) - start )) s; final checkpoint $final"
if [ "$install" = yes ]; then
  mkdir -p models/demo
  cp out/demo/clip.safetensors out/demo/mask2former.safetensors models/demo/
  cp "$final" models/demo/fovseg.safetensors
  echo "train_demo: installed into models/demo/"
fi
