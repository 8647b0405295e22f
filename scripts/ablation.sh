#!/usr/bin/env bash
# docs/results.md's ablation in miniature, on the synthetic world: the fovseg stage of
# configs/train_demo.pbtxt (same seed, steps, batch and learning rate) on the demo's own
# CLIP and generator (out/demo/, from scripts/train_demo.sh --install=no or a full run),
# five ways:
#   baseline        TeVA off, FiSeR off: the frozen generator, f_q (and adapter, void) tuned
#   fiser           + FiSeR
#   teva            + TeVA
#   fiser_teva      + FiSeR + TeVA
#   fiser_teva_fga  + FiSeR + TeVA + the FGAseg head, served FUSED
# Each checkpoint is served (configs/server.pbtxt with that checkpoint) and scored by
# ovseg-eval on the whole validation split (all classes, seen and unseen, in every
# request): panoptic PQ and semantic mIoU, then split into seen and unseen classes.
# Writes out/ablation/<name>/{panoptic,semantic}.json and out/ablation/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f out/demo/clip.safetensors ] && [ -f out/demo/mask2former.safetensors ] || {
  echo "ablation: run scripts/train_demo.sh first (out/demo/ holds the base weights)"; exit 1; }
val=data/demo/synth/val
variants=(baseline fiser teva fiser_teva fiser_teva_fga)
for name in "${variants[@]}"; do
  dir=out/ablation/$name
  mkdir -p "$dir"
  # The last row is exactly the demo run's fovseg stage (same config, seed and base
  # weights; the stage reseeds itself): its checkpoint is reused rather than retrained.
  if [ "$name" = fiser_teva_fga ] && [ -f out/demo/latest.json ] && [ ! -f "$dir/latest.json" ]; then
    cp out/demo/latest.json "$dir/latest.json"
  fi
  if [ ! -f "$dir/latest.json" ]; then
    flags=""
    case $name in
      baseline) flags='no_teva: true loss { no_fiser: true } dense_head: false' ;;
      fiser) flags='no_teva: true dense_head: false' ;;
      teva) flags='loss { no_fiser: true } dense_head: false' ;;
      fiser_teva) flags='dense_head: false' ;;
      fiser_teva_fga) flags='dense_head: true' ;;
    esac
    # The demo config's fovseg stage alone, on out/demo's base weights, without its
    # end-of-run validation (ovseg-eval scores every variant below instead).
    grep -v -e '^stages:' -e '^dense_head:' -e '^out_dir:' -e '^eval_images:' \
      configs/train_demo.pbtxt | sed -e '/^clip_pretrain {/,/^}/d' -e '/^generator {/,/^}/d' \
      -e '/^  val_/d' -e 's|^  precision: "fp32"|  precision: "fp32"\n  clip_weights: "out/demo/clip.safetensors"\n  clip_format: "openai"\n  clip_quick_gelu: false\n  mask_generator_weights: "out/demo/mask2former.safetensors"\n  mask_generator_heads: 4|' \
      > "$dir/train.pbtxt"
    printf 'stages: "fovseg"\nout_dir: "%s"\n%s\n' "$dir" "$flags" >> "$dir/train.pbtxt"
    build/train/ovseg-train --config "$dir/train.pbtxt" 2> "$dir/train.log"
  fi
  checkpoint=$(.venv/bin/python -c "import json; print(json.load(open('$dir/latest.json'))['checkpoint'])")
  sed -e "s|models/demo/fovseg.safetensors|$checkpoint|" -e 's|models/demo/|out/demo/|' \
      -e 's|127.0.0.1:50051|127.0.0.1:50071|' -e 's|127.0.0.1:9464|127.0.0.1:9474|' \
      configs/server.pbtxt > "$dir/server.pbtxt"
  build/server/ovseg-server --config "$dir/server.pbtxt" > "$dir/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 120); do
    build/client/ovseg health --server 127.0.0.1:50071 > /dev/null 2>&1 && break
    sleep 1
  done
  build/train/ovseg-eval panoptic --server 127.0.0.1:50071 --gt-json $val/panoptic.json \
    --gt-dir $val/panoptic --image-dir $val/images --json-out "$dir/panoptic.json" > /dev/null
  build/train/ovseg-eval semantic --server 127.0.0.1:50071 --categories $val/panoptic.json \
    --gt-dir $val/semantic --image-dir $val/images --json-out "$dir/semantic.json" > /dev/null
  kill $server; wait $server 2> /dev/null || true
done
.venv/bin/python - "${variants[@]}" <<'PY' | tee out/ablation/results.md
import json, sys
vocab = json.load(open("data/demo/synth/vocabulary.json"))["classes"]
seen = {c["id"]: bool(c["seen"]) for c in vocab}
rows = {"baseline": "baseline (frozen generator, f_q tuned)", "fiser": "+ FiSeR",
        "teva": "+ TeVA", "fiser_teva": "+ FiSeR + TeVA",
        "fiser_teva_fga": "+ FiSeR + TeVA + FGAseg fusion"}
print("| model | mIoU | mIoU seen | mIoU unseen | PQ | PQ seen | PQ unseen |")
print("| --- | --- | --- | --- | --- | --- | --- |")
mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")
for name in sys.argv[1:]:
    pan = json.load(open(f"out/ablation/{name}/panoptic.json"))
    sem = json.load(open(f"out/ablation/{name}/semantic.json"))
    # Semantic classes are category id - 1; NaN (absent from ground truth) is skipped, as
    # detectron2's mean does.
    iou = {int(k) + 1: v for k, v in sem["IoU"].items() if v == v and v is not None}
    pq = {int(k): v["PQ"] for k, v in pan["per_class"].items() if v["N"]}
    cells = [sem["mIoU"], mean([v for k, v in iou.items() if seen[k]]),
             mean([v for k, v in iou.items() if not seen[k]]), pan["All"]["PQ"],
             mean([v for k, v in pq.items() if seen[k]]),
             mean([v for k, v in pq.items() if not seen[k]])]
    print(f"| {rows[name]} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")
PY
