// Periodic evaluation inside the training job: the model being trained, wrapped in the
// serving pipeline (the exact inference the server runs), segments a COCO panoptic
// validation split with the split's whole vocabulary, and the replies are scored with
// ovseg-eval's code (PQ as panopticapi). Seen and unseen classes (by the checkpoint's
// training vocabulary) are also averaged separately, the open-vocabulary figures. A
// pipeline without a mask generator classifies the ground-truth segments (oracle
// proposals): the score then isolates mask classification.
#ifndef OVSEG_MODEL_TRAIN_PANOPTIC_VALIDATION_H_
#define OVSEG_MODEL_TRAIN_PANOPTIC_VALIDATION_H_

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "datasets/dataset.h"
#include "evaluation/panoptic_quality.h"
#include "model/api/segmentation_pipeline.h"

namespace ovseg {

struct ValidationSet {
  const Dataset* images = nullptr;                         // samples with ids and segments
  std::vector<CocoCategory> categories;                    // the vocabulary, in label-index order
  std::shared_ptr<const VocabularyEmbeddings> vocabulary;  // their embeddings
  std::vector<std::string> training_vocabulary;            // for seen / unseen
  int max_images = 0;                                      // 0 = all
};

// {"PQ", "SQ", "RQ", "PQ_things", "PQ_stuff", "PQ_seen", "PQ_unseen", "images"}, percent.
absl::StatusOr<nlohmann::json> ValidatePanoptic(SegmentationPipeline& pipeline,
                                                const ValidationSet& set);

}  // namespace ovseg

#endif  // OVSEG_MODEL_TRAIN_PANOPTIC_VALIDATION_H_
