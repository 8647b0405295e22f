// A Segment request from an HTML form or `curl -F` (multipart/form-data), for people at a
// shell or in a browser:
//   curl -F image=@cat.jpg -F labels=cat,dog,grass -F stuff=grass -F task=panoptic
//        http://127.0.0.1:8080/v1/segment    (one command)
// Fields (each at most once unless said):
//   image              the image file (required)
//   labels             label names separated by commas; repeatable
//   label              one label, commas separating its synonyms ("fire hydrant, hydrant");
//                      repeatable. Labels keep the order of the fields.
//   vocabulary_id      instead of labels: an id from /v1/vocabularies
//   stuff              names (first synonym) of the labels that are stuff, comma-separated
//   task               semantic | panoptic | instance | proposals
//   head_mode          mask | dense | fused
//   mask_format        coco_rle | png | polygon | no_mask
//   max_segments, score_threshold, object_mask_threshold, overlap_threshold: numbers
//   return_semantic_map  true | false
//   region             a PNG mask of a region to classify; repeatable
// Anything else is refused, naming the field. The request then takes the same path as a
// gRPC one (validation and limits included). Pure function, thread-safe.
#ifndef OVSEG_SERVER_HTTP_FORM_REQUEST_H_
#define OVSEG_SERVER_HTTP_FORM_REQUEST_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ovseg/v1/segmentation.pb.h"

namespace ovseg {

// One part of a multipart form, in the order sent.
struct FormField {
  std::string name;
  std::string filename;  // Empty for a plain field.
  std::string content;
};

absl::StatusOr<v1::SegmentRequest> SegmentRequestFromForm(const std::vector<FormField>& fields);

}  // namespace ovseg

#endif  // OVSEG_SERVER_HTTP_FORM_REQUEST_H_
