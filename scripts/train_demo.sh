#!/usr/bin/env bash
# Trains the embedded demo model (models/demo/) from nothing, on this machine, in under an
# hour and a half on 2 cores: the synthetic world (ovseg-synth, seed 1 for the segmentation
# splits, seed 2 for the caption corpus, seed 3 for the generator's split), then
# ovseg-train with configs/train_demo.pbtxt (clip_pretrain -> generator -> fovseg, seed 1),
# then copies the three weight files into models/demo/. Pass --install=no to leave
# models/demo/ alone.
set -euo pipefail
cd "$(dirname "$0")/.."
install=yes
[ "${1:-}" = "--install=no" ] && install=no
scripts/build.sh
start=$(date +%s)
rm -rf data/demo out/demo
build/tools/ovseg-synth --out data/demo/synth --train 4000 --val 500 --seed 1
# The CLIP's captions: 15 000 scenes of 1-2 large things with 3 hard-negative captions each,
# plus each thing (and half the stuff regions) cut out as a masked crop with a caption of
# its own: cut out, a thing's shape fills the frame (docs/results.md, issue 19).
build/tools/ovseg-synth --out data/demo/captions --train 30000 --val 0 --max-things 2 \
  --min-size 128 --max-size 160 --min-radius 0.1 --max-radius 0.45 --caption-negatives 3 \
  --region-captions true --stuff-region-captions 0.5 --seed 2
# The generator's own split: the world's seen classes plus objects and textures that are no
# class of it, so that it learns to propose shapes and textures it was never shown; no
# unseen class is drawn, so none is VOID there (a generator taught that gravel is
# background never proposes it: docs/results.md, "Seen-only generator data").
build/tools/ovseg-synth --out data/demo/generator --train 4000 --val 0 --seed 3 \
  --unnamed-things 3 --unnamed-stuff 0.4 --seen-classes-only true
build/tools/ovseg-train --config configs/train_demo.pbtxt
final=$(python3 -c 'import json; print(json.load(open("out/demo/latest.json"))["checkpoint"])')
echo "train_demo: finished in $(( $(date +%s) - start )) s; final checkpoint $final"
if [ "$install" = yes ]; then
  mkdir -p models/demo
  cp out/demo/clip.safetensors out/demo/mask2former.safetensors models/demo/
  cp "$final" models/demo/fovseg.safetensors
  echo "train_demo: installed into models/demo/"
fi
