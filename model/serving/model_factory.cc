#include "model/serving/model_factory.h"

#include "absl/strings/str_cat.h"
#include "model/runtime/torch_runtime.h"

namespace ovseg {

absl::StatusOr<ServingModel> CreateServingModel(const v1::ModelConfig& config) {
  if (config.preset().empty()) {
    return absl::InvalidArgumentError("model.preset is required (e.g. \"fovseg-vit-b16\")");
  }
  absl::StatusOr<std::string> device = ResolveDevice(config.device());
  if (!device.ok()) return device.status();
  if (absl::Status check = RunTorchSelfCheck(*device); !check.ok()) return check;
  // The CLIP encoders (issue 3), the TeVA classifier (issue 4), Mask2Former (issue 5) and
  // the FGAseg head (issue 6) are the pieces a preset is assembled from.
  return absl::UnimplementedError(absl::StrCat(
      "model preset \"", config.preset(), "\" cannot be built yet: LibTorch ",
      DescribeTorchRuntime().version, " runs on ", *device,
      ", but the CLIP encoders, TeVA mask classifier, Mask2Former generator and FGAseg head "
      "are not implemented in this build. The server refuses to start rather than serve "
      "fake output."));
}

}  // namespace ovseg
