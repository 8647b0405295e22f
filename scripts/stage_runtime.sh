#!/usr/bin/env bash
# Stages what a serving image contains into DIR (the Dockerfile copies DIR to /opt/ovseg):
# the binaries, configs, the demo model, and LibTorch's shared libraries for VARIANT:
#   cpu:  libtorch_cpu, libc10 and libgomp, plus the CUDA runtime and CUPTI stubs that
#         PyPI's libtorch_cpu itself links (libcudart, libcupti: 6.7 MB; its symbols carry
#         their versions, so ld.so refuses to load it without them; with no driver they
#         find no device). The binaries are linked against the wheel's libtorch.so, which
#         pulls in libtorch_cuda and the CUDA math libraries (cuBLAS, cuDNN, NCCL, ...:
#         3.5 GB); the CPU build never calls them (CUDA kernels only register themselves
#         when libtorch_cuda loads), so those DT_NEEDED entries are removed with patchelf
#         and `ldd` must show none of them.
#   cuda: every library of the torch wheel plus its nvidia-* CUDA libraries.
# Then checks the staged tree: every binary's libraries resolve inside it or the system,
# and (cpu) none is a CUDA library.
#   scripts/stage_runtime.sh cpu|cuda DIR      (after scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
variant=${1:?usage: scripts/stage_runtime.sh cpu|cuda DIR} dest=${2:?usage: scripts/stage_runtime.sh cpu|cuda DIR}
case $variant in cpu|cuda) ;; *) echo "stage_runtime: variant $variant: expected cpu or cuda"; exit 2 ;; esac
scripts/install_debian_packages.sh patchelf > /dev/null
torch_lib=$(ls -d .venv/lib/python3*/site-packages/torch/lib)
rm -rf "$dest" && mkdir -p "$dest/bin" "$dest/lib" "$dest/models"
cp build/server/ovseg-server build/client/ovseg build/tools/ovseg-train build/tools/ovseg-eval \
   build/tools/ovseg-synth "$dest/bin/"
cp -r configs "$dest/configs"
cp -r models/demo "$dest/models/demo"
if [ "$variant" = cpu ]; then
  cp "$torch_lib"/{libtorch_cpu.so,libc10.so,libgomp.so.1} "$dest/lib/"
  cp "$(dirname "$torch_lib")"/../nvidia/cu*/lib/{libcudart.so.*,libcupti.so.*} "$dest/lib/"
  patchelf --set-rpath '$ORIGIN' "$dest/lib/libtorch_cpu.so"
  for binary in "$dest"/bin/*; do
    for needed in $(patchelf --print-needed "$binary"); do
      case $needed in
        libtorch.so|libtorch_cuda.so|libc10_cuda.so|libcud*|libcu*|libnccl*|libnvrtc*|libnvshmem*|libtorch_nvshmem.so|libcupti*|libcufile*)
          patchelf --remove-needed "$needed" "$binary" ;;
      esac
    done
  done
else
  cp -a "$torch_lib"/*.so* "$dest/lib/"
  rm -f "$dest/lib/libtorch_python.so"
  site=$(dirname "$torch_lib")/..
  for d in "$site"/nvidia/*/lib; do cp -a "$d"/*.so* "$dest/lib/"; done
fi
# Everything resolves with only the staged libraries and the system's.
for binary in "$dest"/bin/*; do
  patchelf --set-rpath '$ORIGIN/../lib' "$binary"
  missing=$(env -u LD_LIBRARY_PATH ldd "$binary" | grep "not found" || true)
  [ -z "$missing" ] || { echo "stage_runtime: $binary: $missing"; exit 1; }
  # Everything CUDA but the two runtime stubs above.
  cuda_libs='^[[:space:]]*lib(torch_cuda|c10_cuda|cuda\.|cudnn|cublas|cufft|cufile|curand|cusolver|cusparse|nccl|nvrtc|nvshmem|nvjitlink|torch_nvshmem)'
  if [ "$variant" = cpu ] && env -u LD_LIBRARY_PATH ldd "$binary" | grep -qE "$cuda_libs"; then
    echo "stage_runtime: $binary still loads a CUDA library:"; ldd "$binary" | grep -E "$cuda_libs"
    exit 1
  fi
done
echo "stage_runtime: $variant tree in $dest: $(du -sh "$dest" | cut -f1)"
