#!/usr/bin/env bash
# Checks deploy/ with the real tools (CI runs it from .ci/run): both kustomize overlays
# build and validate against the Kubernetes schemas (kubernetes-validate, offline); the
# alert rules pass `promtool check rules` and their unit tests (`promtool test rules`);
# the PrometheusRule carries the same groups as the rules file; then a real Prometheus
# scrapes a real ovseg-server on loopback while a client sends traffic, and every PromQL
# expression of the rules and the Grafana dashboard must parse and return data
# (scripts/check_deploy.py). Installs what it needs: Debian's prometheus (promtool and
# the server) and, in .tools-venv, kubernetes-validate and PyYAML. Needs scripts/build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_debian_packages.sh prometheus
if ! .tools-venv/bin/python -c 'import kubernetes_validate, yaml' 2> /dev/null; then
  python3 -m venv .tools-venv
  .tools-venv/bin/pip install -q --disable-pip-version-check kubernetes-validate pyyaml
fi
out=out/check-deploy
rm -rf "$out" && mkdir -p "$out"
if command -v kubectl > /dev/null; then
  for variant in cpu gpu; do
    kubectl kustomize "deploy/overlays/$variant" > "$out/$variant.yaml"
  done
  manifests=("$out/cpu.yaml" "$out/gpu.yaml" deploy/ovseg-train.yaml)
else
  # kustomize is not in Debian: without kubectl the overlays are not built, the base and
  # the training Job are validated file by file.
  echo "check_deploy: kubectl not found; validating deploy/base/*.yaml without overlays"
  manifests=(deploy/base/deployment.yaml deploy/base/service.yaml deploy/base/pdb.yaml
             deploy/base/hpa.yaml deploy/base/incoming-pvc.yaml deploy/ovseg-train.yaml)
fi
# Custom resources (ServiceMonitor, PrometheusRule) have no schema there (a warning): their shape is
# checked by check_deploy.py against the rules file promtool tests.
.tools-venv/bin/kubernetes-validate --kubernetes-version 1.30.0 --strict \
  --quiet "${manifests[@]}"
promtool check rules deploy/monitoring/ovseg-rules.yml
(cd deploy/monitoring && promtool test rules ovseg-rules.test.yml)
# The CPU image's file tree: no CUDA library (stage_runtime.sh fails otherwise), and from
# its own directory, with only its own and the system's libraries, it serves the demo.
scripts/stage_runtime.sh cpu "$out/stage-cpu"
(cd "$out/stage-cpu" && exec env -u LD_LIBRARY_PATH OVSEG_PORT=50094 OVSEG_METRICS_ADDRESS=none \
  bin/ovseg-server --config configs/server.pbtxt --http_address none) > "$out/stage-server.log" 2>&1 &
staged=$!
trap 'kill $staged 2> /dev/null || true' EXIT
"$out/stage-cpu/bin/ovseg" health --server 127.0.0.1:50094 --wait_s 120 | grep -q SERVING
build/tools/ovseg-synth --out "$out/stage-world" --train 0 --val 1 --seed 7 --threads 1 > /dev/null 2>&1
"$out/stage-cpu/bin/ovseg" segment --server 127.0.0.1:50094 --labels "green circle,gravel" \
  --image "$out/stage-world/val/images/000001.jpg" --task panoptic | grep -q "green circle"
kill $staged && wait $staged || true
echo "check_deploy: the staged cpu tree serves ($(du -sh "$out/stage-cpu" | cut -f1))"
.tools-venv/bin/python scripts/check_deploy.py --out "$out"
echo "check_deploy: ok"
