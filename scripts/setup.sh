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

scripts/install_debian_packages.sh "${PACKAGES[@]}"

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
