// An image-caption corpus for contrastive CLIP training: a JSON list of
// {"file_name": ..., "caption": ..., "negatives": [...]} records (ovseg-synth writes one per
// split as captions.json; "negatives", hard-negative captions, is optional; extra keys such
// as image_id are ignored) and the directory holding the images. The file is checked whole
// on open, naming the record at fault; a sample is the RGB image with its captions.
#ifndef OVSEG_DATASETS_CAPTION_DATASET_H_
#define OVSEG_DATASETS_CAPTION_DATASET_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "datasets/dataset.h"

namespace ovseg {

absl::StatusOr<std::unique_ptr<Dataset>> OpenCaptionDataset(const std::string& captions_json,
                                                            const std::string& image_dir);

}  // namespace ovseg

#endif  // OVSEG_DATASETS_CAPTION_DATASET_H_
