// The one mapping between the API's enums (proto/ovseg/v1/segmentation.proto) and the
// model interface's (model/api/segmentation_pipeline.h), both ways.
#ifndef OVSEG_SERVER_SERVICE_API_ENUMS_H_
#define OVSEG_SERVER_SERVICE_API_ENUMS_H_

#include "absl/status/statusor.h"
#include "model/api/segmentation_pipeline.h"
#include "ovseg/v1/segmentation.pb.h"

namespace ovseg {

// TASK_UNSPECIFIED is SEMANTIC. An unknown value is INVALID_ARGUMENT naming `task`.
absl::StatusOr<SegmentTask> TaskFromApi(v1::Task task);
v1::Task TaskToApi(SegmentTask task);
// HEAD_MODE_UNSPECIFIED is the model's default. Unknown: INVALID_ARGUMENT naming
// `options.head_mode`.
absl::StatusOr<HeadMode> HeadModeFromApi(v1::HeadMode mode);
// kDefault has no API value: callers list a model's concrete modes.
v1::HeadMode HeadModeToApi(HeadMode mode);

}  // namespace ovseg

#endif  // OVSEG_SERVER_SERVICE_API_ENUMS_H_
