#!/usr/bin/env bash
# docs/results.md's ablation in miniature (FOV-Seg Table IV(a)), on the synthetic world:
# the fovseg stage of configs/train_demo.pbtxt (same steps, batch and learning rate) on the
# demo's own CLIP and generator (--base: models/demo/, the shipped demo model, or out/demo/
# after scripts/train_demo.sh --install=no), five ways, each with seeds 1..N:
#   baseline        TeVA off, FiSeR off: the frozen generator, f_q (and adapter, void) tuned
#   fiser           + FiSeR
#   teva            + TeVA
#   fiser_teva      + FiSeR + TeVA
#   fiser_teva_fga  + FiSeR + TeVA + the FGAseg head, served FUSED
#   shipped         the fiser_teva_fga checkpoints (not retrained) served as configs/
#                   server.pbtxt serves the demo: MASK plus its crop ensemble
# The first five rows are FOV-Seg's ablation, so they are served with mask tokens alone
# (crop_ensemble_weight 0, the paper's classifier) in the model's default mode (FUSED
# with the dense head, else MASK); the last is served exactly as configs/server.pbtxt
# serves the demo (MASK plus the crop ensemble).
# Every run trains in fp32 (autocast "fp32", not the config's "auto", which is bf16 only on
# CPUs with AVX512-BF16), so that rows made on different machines compare; the shipped
# fovseg checkpoint was trained with bf16 autocast and is therefore not reused as seed 1.
# Each checkpoint is served (configs/server.pbtxt with that checkpoint) and analysed by
# `ovseg-eval analyse` on the first --images validation images (all classes, seen and
# unseen, in every request): end-to-end PQ and mIoU for seen and unseen classes, and the
# oracle-mask region accuracy (docs/analysis.md).
# Each run's analysis is kept in the repository (docs/results/ablation/<name>/seed<k>.json,
# a few KB), and runs whose analysis is there are not made again: the whole ablation takes
# 4-5 hours on 2 cores, longer than a working session, so it is made in parts that are
# committed as they finish. Training and serving files stay in out/ablation/<name>/seed<k>/.
# The table (mean and sample standard deviation over the seeds) is written to
# docs/results/ablation/table.md once every run is there.
#   scripts/ablation.sh [--seeds N (3)] [--images N (200)] [--steps N (the config's)]
#                       [--base DIR (models/demo)]
# --steps shortens every run, for trying the script out: its records then go to
# out/ablation/records/ instead, as their table means nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=3 images=200 steps="" base=models/demo
while [ $# -gt 0 ]; do
  case $1 in
    --seeds) seeds=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    *) echo "usage: scripts/ablation.sh [--seeds N] [--images N] [--steps N] [--base DIR]"; exit 2 ;;
  esac
done
[ -f "$base/clip.safetensors" ] && [ -f "$base/mask2former.safetensors" ] || {
  echo "ablation: $base/ lacks clip.safetensors or mask2former.safetensors"; exit 1; }
records=docs/results/ablation
[ -z "$steps" ] || records=out/ablation/records
val=data/demo/synth/val
# The fovseg stage trains on the demo's segmentation split (ovseg-synth seed 1, as
# scripts/train_demo.sh makes it).
[ -f $val/panoptic.json ] && [ -f data/demo/synth/train/panoptic.json ] ||
  build/tools/ovseg-synth --out data/demo/synth --train 4000 --val 500 --seed 1
variants=(baseline fiser teva fiser_teva fiser_teva_fga shipped)
# Seed by seed, so that a session that ends part-way leaves whole rows of a seed (every
# variant at seed 1 first) rather than one variant's seeds.
for seed in $(seq 1 "$seeds"); do
  for name in "${variants[@]}"; do
    dir=out/ablation/$name/seed$seed record=$records/$name/seed$seed.json
    mkdir -p "$dir" "$(dirname "$record")"
    [ -f "$record" ] && continue
    # The shipped row serves the FGAseg row's checkpoint of the same seed; a checkout that
    # lacks it (the FGAseg record may come from another session) trains it again there.
    train_name=$name train_dir=$dir
    if [ "$name" = shipped ]; then
      train_name=fiser_teva_fga train_dir=out/ablation/fiser_teva_fga/seed$seed
      mkdir -p "$train_dir"
    fi
    if [ ! -f "$train_dir/latest.json" ]; then
      # FiSeR off goes into the config's own loss { } block (a text proto may not name
      # the message twice).
      flags="" fiser_off=""
      case $train_name in
        baseline) flags='teva: false dense_head: false' fiser_off='  fiser: false' ;;
        fiser) flags='teva: false dense_head: false' ;;
        teva) flags='dense_head: false' fiser_off='  fiser: false' ;;
        fiser_teva) flags='dense_head: false' ;;
        fiser_teva_fga) flags='dense_head: true' ;;
      esac
      # The demo config's fovseg stage alone, on the base weights, without its
      # end-of-run validation (ovseg-eval scores every run below instead).
      grep -v -e '^stages:' -e '^dense_head:' -e '^out_dir:' -e '^eval_images:' -e '^seed:' \
        -e '^autocast:' \
        configs/train_demo.pbtxt |
        sed -e '/^clip_pretrain {/,/^}/d' -e '/^generator {/,/^}/d' -e '/^  val_/d' \
          -e 's|^  precision: "fp32"|  precision: "fp32"\n  clip_weights: "'"$base"'/clip.safetensors"\n  clip_format: "openai"\n  clip_quick_gelu: false\n  mask_generator_weights: "'"$base"'/mask2former.safetensors"\n  mask_generator_heads: 4|' \
        > "$train_dir/train.pbtxt"
      [ -n "$fiser_off" ] && sed -i "/^loss {/a\\$fiser_off" "$train_dir/train.pbtxt"
      grep -q '^loss {' "$train_dir/train.pbtxt" || [ -z "$fiser_off" ] || {
        echo "ablation: configs/train_demo.pbtxt has no loss { } block to put 'fiser: false' in"; exit 1; }
      if [ -n "$steps" ]; then
        sed -i -e "/^optimizer {/,/^}/s|^  steps: .*|  steps: $steps|" \
          -e "/^optimizer {/,/^}/s|^  warmup_steps: .*|  warmup_steps: 1|" "$train_dir/train.pbtxt"
      fi
      # fp32 throughout, whatever the machine: the config's "auto" trains in bf16 where the
      # CPU has AVX512-BF16 and in fp32 elsewhere, and a table whose rows were made over
      # several sessions on different machines must not mix the two.
      printf 'stages: "fovseg"\nout_dir: "%s"\nseed: %s\nautocast: "fp32"\n%s\n' "$train_dir" \
        "$seed" "$flags" >> "$train_dir/train.pbtxt"
      build/tools/ovseg-train --config "$train_dir/train.pbtxt" 2> "$train_dir/train.log"
    fi
    checkpoint=$(.venv/bin/python -c "import json; print(json.load(open('$train_dir/latest.json'))['checkpoint'])")
    sed -e "s|models/demo/fovseg.safetensors|$checkpoint|" -e "s|models/demo/|$base/|" \
        -e 's|127.0.0.1:50051|127.0.0.1:50071|' -e 's|127.0.0.1:9464|127.0.0.1:9474|' \
        configs/server.pbtxt > "$dir/server.pbtxt"
    if [ "$name" != shipped ]; then
      sed -i -e '/^ *crop_ensemble_weight:/d' -e '/^ *default_head_mode:/d' \
        -e 's|^model {|model {\n  crop_ensemble_weight: 0|' "$dir/server.pbtxt"
    fi
    build/server/ovseg-server --config "$dir/server.pbtxt" --http_address none > "$dir/server.log" 2>&1 &
    server=$!
    build/client/ovseg health --server 127.0.0.1:50071 --wait_s 300 > /dev/null
    # The generator is frozen and the same in every run: its proposal recall is left out.
    build/tools/ovseg-eval analyse --server 127.0.0.1:50071 --gt-json $val/panoptic.json \
      --gt-dir $val/panoptic --image-dir $val/images --max-images "$images" --proposals no \
      --json-out "$dir/analysis.json.part" > "$dir/eval.log" 2>&1
    kill $server; wait $server 2> /dev/null || true
    mv "$dir/analysis.json.part" "$record"
    echo "ablation: $name seed $seed done ($record)"
  done
done
.venv/bin/python - "$records" "$seeds" "${variants[@]}" <<'PY' | tee "$records/table.md"
import json, statistics, sys
records, seeds, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows = {"baseline": "baseline (frozen generator, f_q tuned)", "fiser": "+ FiSeR",
        "teva": "+ TeVA", "fiser_teva": "+ FiSeR + TeVA",
        "fiser_teva_fga": "+ FiSeR + TeVA + FGAseg fusion",
        "shipped": "the same, served as shipped (MASK + crop ensemble)"}
columns = [("PQ", lambda r: r["end_to_end"]["PQ"]["all"]),
           ("PQ seen", lambda r: r["end_to_end"]["PQ"]["seen"]),
           ("PQ unseen", lambda r: r["end_to_end"]["PQ"]["unseen"]),
           ("mIoU", lambda r: r["end_to_end"]["mIoU"]["all"]),
           ("mIoU seen", lambda r: r["end_to_end"]["mIoU"]["seen"]),
           ("mIoU unseen", lambda r: r["end_to_end"]["mIoU"]["unseen"]),
           ("oracle masks: region top-1", lambda r: r["oracle_masks"]["regions"]["top1"]["all"]["percent"]),
           ("things seen / unseen", None)]
print(f"Mean +- sample standard deviation over {seeds} seed(s).\n")
print("| model | " + " | ".join(c for c, _ in columns) + " |")
print("|" + " --- |" * (len(columns) + 1))


def cell(values):
    mean = statistics.fmean(values)
    return f"{mean:.1f} +- {statistics.stdev(values):.1f}" if len(values) > 1 else f"{mean:.1f}"


for name in names:
    runs = [json.load(open(f"{records}/{name}/seed{s}.json")) for s in range(1, seeds + 1)]
    cells = [cell([f(r) for r in runs]) for _, f in columns if f]
    top1 = lambda r, split: r["oracle_masks"]["regions"]["top1"][split]["percent"]
    cells.append(cell([top1(r, "seen_things") for r in runs]) + " / " +
                 cell([top1(r, "unseen_things") for r in runs]))
    print(f"| {rows[name]} | " + " | ".join(cells) + " |")
PY
