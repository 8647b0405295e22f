#!/usr/bin/env bash
# Installs everything ovseg builds against, idempotently:
#  - Debian 12 packages (gRPC, protobuf, OpenCV, abseil, prometheus-cpp, GoogleTest, ...);
#  - LibTorch from PyPI's pinned torch wheel, in .venv/ inside the repository (git-ignored).
# Safe to run again: installed packages and a matching wheel are left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.15.0
PACKAGES=(build-essential cmake ninja-build ccache pkg-config python3-venv
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libopencv-dev libjpeg62-turbo-dev zlib1g-dev libabsl-dev prometheus-cpp-dev libgtest-dev libgmock-dev nlohmann-json3-dev
  libssl-dev clang-format libgloo-dev curl dpkg-dev libcpp-httplib-dev libcli11-dev)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PY=${OVSEG_BOOTSTRAP_PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  echo "setup: installing torch==$TORCH_VERSION (LibTorch for C++) into .venv"
  .venv/bin/pip install -q --disable-pip-version-check "torch==$TORCH_VERSION"
fi
echo "setup: ok (torch $(.venv/bin/python -c 'import torch; print(torch.__version__)' 2>/dev/null))"
