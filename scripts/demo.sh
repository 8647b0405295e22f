#!/usr/bin/env bash
# The main job, end to end on the embedded default (the demo model in models/demo/,
# trained on the synthetic world by scripts/train_demo.sh): set up, build, start
# ovseg-server on configs/server.pbtxt, generate a synthetic image the model never saw,
# segment it (panoptic) for a vocabulary that includes classes the model was never
# trained to segment ("unseen"), and write out/demo-run/overlay.png and result.json.
# Extra arguments go to ovseg segment (e.g. --mode mask, --task semantic).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
out=out/demo-run
rm -rf "$out" && mkdir -p "$out"

# A fresh scene from the validation distribution (seed 7 is not in any training split).
build/tools/ovseg-synth --out "$out/world" --train 0 --val 1 --seed 7 --threads 1 > /dev/null 2>&1
image="$out/world/val/images/000001.jpg"
# Its vocabulary: every class the scene shows plus four it does not, each marked seen or
# unseen in training.
labels=$(.venv/bin/python - "$out/world" <<'PY'
import json, sys
root = sys.argv[1]
vocab = {c["id"]: c for c in json.load(open(f"{root}/vocabulary.json"))["classes"]}
shown = sorted({s["category_id"] for a in json.load(open(f"{root}/val/panoptic.json"))["annotations"]
                for s in a["segments_info"]})
absent = [i for i in sorted(vocab) if i not in shown][::17][:4]
names = [vocab[i]["name"] for i in shown + absent]
for i in shown + absent:
    tag = "seen" if vocab[i]["seen"] else "UNSEEN"
    print(f"  {vocab[i]['name']:<26} {tag:<7} {'in the image' if i in shown else 'absent'}",
          file=sys.stderr)
print(",".join(names))
PY
)

echo "demo: starting build/server/ovseg-server --config configs/server.pbtxt"
build/server/ovseg-server --config configs/server.pbtxt > "$out/server.log" 2>&1 &
server=$!
trap 'kill $server 2> /dev/null; wait $server 2> /dev/null || true' EXIT
for _ in $(seq 1 120); do
  if build/client/ovseg health --server 127.0.0.1:50051 2> /dev/null | grep -q SERVING; then
    break
  fi
  if ! kill -0 $server 2> /dev/null; then
    echo "demo: the server exited:"; cat "$out/server.log"; exit 1
  fi
  sleep 1
done
build/client/ovseg segment --server 127.0.0.1:50051 --image "$image" --labels "$labels" \
  --task panoptic --out "$out/overlay.png" --json "$out/result.json" "$@"
cp "$image" "$out/input.jpg"
echo "demo: wrote $out/input.jpg, $out/overlay.png and $out/result.json"
echo "demo: to try your own images and labels in a browser, run"
echo "  build/server/ovseg-server --config configs/server.pbtxt"
echo "and open http://127.0.0.1:8080/ (the playground; docs/clients.md has curl, Python and the CLI)"
