#include "server/service/api_enums.h"

#include "absl/strings/str_cat.h"

namespace ovseg {

absl::StatusOr<SegmentTask> TaskFromApi(v1::Task task) {
  switch (task) {
    case v1::TASK_UNSPECIFIED:
    case v1::SEMANTIC:
      return SegmentTask::kSemantic;
    case v1::PANOPTIC:
      return SegmentTask::kPanoptic;
    case v1::INSTANCE:
      return SegmentTask::kInstance;
    case v1::PROPOSALS:
      return SegmentTask::kProposals;
    default:
      return absl::InvalidArgumentError(absl::StrCat("task: unknown value ", task));
  }
}

v1::Task TaskToApi(SegmentTask task) {
  switch (task) {
    case SegmentTask::kSemantic:
      return v1::SEMANTIC;
    case SegmentTask::kPanoptic:
      return v1::PANOPTIC;
    case SegmentTask::kInstance:
      return v1::INSTANCE;
    case SegmentTask::kProposals:
      return v1::PROPOSALS;
  }
  return v1::TASK_UNSPECIFIED;
}

absl::StatusOr<HeadMode> HeadModeFromApi(v1::HeadMode mode) {
  switch (mode) {
    case v1::HEAD_MODE_UNSPECIFIED:
      return HeadMode::kDefault;
    case v1::MASK:
      return HeadMode::kMask;
    case v1::DENSE:
      return HeadMode::kDense;
    case v1::FUSED:
      return HeadMode::kFused;
    default:
      return absl::InvalidArgumentError(absl::StrCat("options.head_mode: unknown value ", mode));
  }
}

v1::HeadMode HeadModeToApi(HeadMode mode) {
  switch (mode) {
    case HeadMode::kMask:
      return v1::MASK;
    case HeadMode::kDense:
      return v1::DENSE;
    case HeadMode::kFused:
      return v1::FUSED;
    case HeadMode::kDefault:
      break;
  }
  return v1::HEAD_MODE_UNSPECIFIED;
}

}  // namespace ovseg
