#include "model/runtime/torch_runtime.h"

#include <c10/core/CachingDeviceAllocator.h>
#include <torch/torch.h>

#include <algorithm>
#include <exception>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "model/runtime/torch_precision.h"

namespace ovseg {

std::vector<DeviceMemory> CudaDeviceMemory() {
  std::vector<DeviceMemory> out;
  if (!torch::cuda::is_available()) return out;
  c10::DeviceAllocator* allocator = c10::getDeviceAllocator(c10::DeviceType::CUDA);
  if (allocator == nullptr || !allocator->initialized()) return out;
  constexpr auto kAll = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
  for (int d = 0; d < static_cast<int>(torch::cuda::device_count()); ++d) {
    const c10::CachingDeviceAllocator::DeviceStats stats =
        allocator->getDeviceStats(static_cast<c10::DeviceIndex>(d));
    out.push_back({d, stats.allocated_bytes[kAll].current, stats.reserved_bytes[kAll].current,
                   stats.allocated_bytes[kAll].peak});
  }
  return out;
}

void SetIntraOpThreads(int n) { at::set_num_threads(std::max(1, n)); }

TorchRuntimeInfo DescribeTorchRuntime() {
  TorchRuntimeInfo info;
  info.version = TORCH_VERSION;
  info.cuda_available = torch::cuda::is_available();
  info.cuda_device_count = info.cuda_available ? static_cast<int>(torch::cuda::device_count()) : 0;
  info.intra_op_threads = at::get_num_threads();
  info.cxx11_abi = _GLIBCXX_USE_CXX11_ABI != 0;
  return info;
}

absl::StatusOr<std::string> ResolveDevice(const std::string& device) {
  if (device.empty() || device == "cpu") return std::string("cpu");
  if (device != "cuda" && !absl::StartsWith(device, "cuda:")) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.device \"", device, "\": expected \"cpu\", \"cuda\" or \"cuda:N\""));
  }
  int index = 0;
  if (device.size() > 5 && !absl::SimpleAtoi(device.substr(5), &index)) {
    return absl::InvalidArgumentError(absl::StrCat("model.device \"", device, "\": bad index"));
  }
  const TorchRuntimeInfo info = DescribeTorchRuntime();
  if (!info.cuda_available) {
    return absl::FailedPreconditionError(
        absl::StrCat("model.device \"", device, "\": no CUDA device is visible to this process"));
  }
  if (index < 0 || index >= info.cuda_device_count) {
    return absl::FailedPreconditionError(absl::StrCat("model.device \"", device, "\": only ",
                                                      info.cuda_device_count, " CUDA device(s)"));
  }
  return absl::StrCat("cuda:", index);
}

absl::Status RunTorchSelfCheck(const std::string& device) {
  // LibTorch reports failures as exceptions; this is the boundary that turns them into
  // statuses.
  try {
    torch::InferenceMode guard;
    const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device);
    // ones(n, n) @ arange(n) repeated: every entry equals n * (n - 1) / 2.
    const int64_t n = 64;
    torch::Tensor a = torch::ones({n, n}, options);
    torch::Tensor b = torch::arange(n, options).unsqueeze(1).expand({n, n}).contiguous();
    torch::Tensor c = torch::matmul(a, b).cpu();
    const float expected = static_cast<float>(n * (n - 1) / 2);
    const float max_error = (c - expected).abs().max().item<float>();
    if (max_error > 1e-3f) {
      return absl::InternalError(
          absl::StrCat("LibTorch self-check on ", device, ": matmul off by ", max_error));
    }
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("LibTorch self-check on ", device, ": ", e.what()));
  }
}

absl::StatusOr<torch::ScalarType> ParsePrecision(const std::string& precision,
                                                 const std::string& device,
                                                 const std::string& field) {
  if (precision.empty() || precision == "fp32") return torch::kFloat32;
  if (precision == "bf16") return torch::kBFloat16;
  if (precision == "fp16") {
    if (device.rfind("cuda", 0) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " \"fp16\" runs on CUDA only (use bf16 on CPU)"));
    }
    return torch::kFloat16;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(field, " \"", precision, "\": expected fp32, bf16 or fp16"));
}

}  // namespace ovseg
