// What the process's LibTorch is and where it can run, behind a LibTorch-free header so
// the server and tools can report it without paying for torch headers.
#ifndef OVSEG_MODEL_RUNTIME_TORCH_RUNTIME_H_
#define OVSEG_MODEL_RUNTIME_TORCH_RUNTIME_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ovseg {

struct TorchRuntimeInfo {
  std::string version;  // e.g. "2.15.0"
  bool cuda_available = false;
  int cuda_device_count = 0;
  int intra_op_threads = 0;
  bool cxx11_abi = false;  // Must match the rest of the process (gRPC, protobuf).
};

TorchRuntimeInfo DescribeTorchRuntime();

// One CUDA device's memory as LibTorch's caching allocator counts it, bytes.
struct DeviceMemory {
  int device = 0;
  int64_t allocated = 0;       // in tensors now
  int64_t reserved = 0;        // held by the allocator (allocated + cached)
  int64_t peak_allocated = 0;  // the most ever allocated at once
};

// Every CUDA device of the process, read from the caching allocator through c10's generic
// device-allocator registry (no link-time reference to libc10_cuda, so the CPU image, which
// has none, still loads). Empty without CUDA or before the allocator is initialised. Cheap:
// reads counters; thread-safe.
std::vector<DeviceMemory> CudaDeviceMemory();

// Sets LibTorch's intra-op thread count (at::set_num_threads) for the process; n >= 1.
// Call before the first model runs.
void SetIntraOpThreads(int n);

// Parses "cpu", "cuda" or "cuda:N" and checks that the device exists in this process.
// Returns the canonical name ("cpu", "cuda:0").
absl::StatusOr<std::string> ResolveDevice(const std::string& device);

// Runs a small matmul on `device` and checks the result against a closed form, proving
// that kernels load and compute (used at start-up and by the link test).
absl::Status RunTorchSelfCheck(const std::string& device);

}  // namespace ovseg

#endif  // OVSEG_MODEL_RUNTIME_TORCH_RUNTIME_H_
