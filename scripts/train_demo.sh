#!/usr/bin/env bash
# Trains the embedded demo model (models/demo/) from nothing, on this machine, in under two
# hours on 2 cores: the synthetic world (ovseg-synth, seed 1 for the segmentation splits,
# seed 2 for the caption corpus, seed 3 for the generator's split), then ovseg-train with
# configs/train_demo.pbtxt (clip_pretrain -> generator -> fovseg, seed 1), then copies the
# three weight files into models/demo/.
#   scripts/train_demo.sh [--install=no] [--stages S1,S2] [--resume]
# --install=no leaves models/demo/ alone. The run can be made in chunks: --stages runs only
# those stages (e.g. --stages clip_pretrain), and --resume keeps data/demo and out/demo and
# carries on (a stage whose output is in out/demo is skipped, the fovseg stage resumes from
# its last saved step). Without --resume everything starts from nothing. Every run appends
# its wall time to out/demo/times.log and prints the total of the chunks so far.
set -euo pipefail
cd "$(dirname "$0")/.."
install=yes
resume=no
stages=clip_pretrain,generator,fovseg
while (($#)); do
  case $1 in
    --install=no) install=no; shift ;;
    --resume) resume=yes; shift ;;
    --stages) stages=$2; shift 2 ;;
    *) echo "train_demo: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
for s in ${stages//,/ }; do
  case $s in
    clip_pretrain | generator | fovseg) ;;
    *) echo "train_demo: unknown stage $s (clip_pretrain, generator, fovseg)" >&2; exit 2 ;;
  esac
done
scripts/build.sh
start=$(date +%s)
if [ "$resume" = no ]; then
  rm -rf data/demo out/demo
fi
mkdir -p out/demo
# Each split is made whole or not at all: its panoptic.json (captions.json) is written last.
[ -f data/demo/synth/val/panoptic.json ] ||
  build/tools/ovseg-synth --out data/demo/synth --train 4000 --val 500 --seed 1
# The CLIP's captions: 15 000 scenes of 1-2 large things with 3 hard-negative captions each,
# plus each thing (and half the stuff regions) cut out as a masked crop with a caption of
# its own: cut out, a thing's shape fills the frame (docs/results.md, issue 19).
[ -f data/demo/captions/train/captions.json ] ||
  build/tools/ovseg-synth --out data/demo/captions --train 30000 --val 0 --max-things 2 \
    --min-size 128 --max-size 160 --min-radius 0.1 --max-radius 0.45 --caption-negatives 3 \
    --region-captions true --stuff-region-captions 0.5 --seed 2
# The generator's own split: the world's seen classes plus objects and textures that are no
# class of it, so that it learns to propose shapes and textures it was never shown; no
# unseen class is drawn, so none is VOID there (a generator taught that gravel is
# background never proposes it: docs/results.md, "Seen-only generator data").
[ -f data/demo/generator/train/panoptic.json ] ||
  build/tools/ovseg-synth --out data/demo/generator --train 4000 --val 0 --seed 3 \
    --unnamed-things 3 --unnamed-stuff 0.4 --seen-classes-only true
# The config with this run's stages, resuming: a stage whose output exists is done.
{
  grep -v '^stages:' configs/train_demo.pbtxt
  for s in ${stages//,/ }; do echo "stages: \"$s\""; done
  echo "resume: true"
} > out/demo/train_demo.pbtxt
build/tools/ovseg-train --config out/demo/train_demo.pbtxt
seconds=$(( $(date +%s) - start ))
echo "$(date -u +%FT%TZ) $seconds s stages=$stages resume=$resume" >> out/demo/times.log
total=$(awk '{ s += $2 } END { print s }' out/demo/times.log)
echo "train_demo: this run ${seconds} s; all runs since the last fresh start ${total} s" \
  "($(( total / 60 )) min; out/demo/times.log)"
if [ ! -f out/demo/latest.json ]; then
  echo "train_demo: the fovseg stage has not run yet; nothing to install"
  exit 0
fi
final=$(python3 -c 'import json; print(json.load(open("out/demo/latest.json"))["checkpoint"])')
echo "train_demo: final checkpoint $final"
if [ "$install" = yes ]; then
  mkdir -p models/demo
  cp out/demo/clip.safetensors out/demo/mask2former.safetensors models/demo/
  cp "$final" models/demo/fovseg.safetensors
  echo "train_demo: installed into models/demo/"
fi
