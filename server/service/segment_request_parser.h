// Validates a SegmentRequest's cheap parts (image header, labels, options) against the
// configured limits, before any decoding or model work is spent on it.
#ifndef OVSEG_SERVER_SERVICE_SEGMENT_REQUEST_PARSER_H_
#define OVSEG_SERVER_SERVICE_SEGMENT_REQUEST_PARSER_H_

#include "absl/status/status.h"
#include "ovseg/v1/config.pb.h"
#include "ovseg/v1/segmentation.pb.h"
#include "server/service/segment_work.h"
#include "server/vocabulary/vocabulary_registry.h"

namespace ovseg {

// Fills work->labels, task, head_mode and params. INVALID_ARGUMENT naming the field for
// bad input; NOT_FOUND for an unknown vocabulary_id.
absl::Status ParseSegmentRequest(const v1::SegmentRequest& request, const v1::ServerConfig& config,
                                 VocabularyRegistry& registry, SegmentWork* work);

}  // namespace ovseg

#endif  // OVSEG_SERVER_SERVICE_SEGMENT_REQUEST_PARSER_H_
