// ovseg-synth's output: a COCO-panoptic dataset of the synthetic world in two splits,
//   <out>/train/{images/*.jpg, panoptic/*.png, semantic/*.png, panoptic.json, captions.json}
//   <out>/val/...  (the same)
//   <out>/vocabulary.json  (every class: id, name, isthing, seen; caption-only words)
//   <out>/SPLIT.md         (the split, in words)
// train annotates seen classes only (unseen things and stuff are VOID there, as
// open-vocabulary benchmarks drop unseen annotations); val annotates everything. Captions
// always name everything visible. Semantic PNGs hold class id - 1, 255 for VOID.
// SceneOptions::unnamed_things / unnamed_stuff add class-agnostic generator data to train
// only: the categories "unnamed object" and "unnamed region" (UnnamedThingId(),
// UnnamedStuffId()) join its panoptic.json; captions never name them. Such a train split
// is for the generator stage (generator.train_json etc.), not for classifiers; so is
// SceneOptions::seen_classes_only (train only as well: named content of seen classes).
// SceneOptions::region_captions adds, in every split, each named thing's (and, with
// stuff_region_captions, some stuff regions') masked crop
// (evaluation/region_crops.h: the square around its box, CLIP's mean colour outside the
// region) as images/<stem>_<segment id>.jpg, its mask over the scene as
// region_masks/<stem>_<segment id>.png (255 inside), and its own caption and negatives as
// a captions.json record after all the scenes' ({image_id, segment_id, file_name,
// scene_file_name, mask_file_name, caption, negatives}); regions under 16 pixels a side
// are left out.
// Deterministic from the seed, whatever the thread count.
#ifndef OVSEG_DATASETS_SYNTH_SYNTH_DATASET_H_
#define OVSEG_DATASETS_SYNTH_SYNTH_DATASET_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "common/progress.h"
#include "datasets/synth/scene_generator.h"

namespace ovseg {

struct SynthDatasetOptions {
  std::string out_dir;
  int num_train = 1000;
  int num_val = 200;
  uint64_t seed = 1;
  int threads = 0;  // 0 = every core
  int jpeg_quality = 95;
  SceneOptions scene;
};

absl::Status WriteSynthDataset(const SynthDatasetOptions& options, Progress* progress = nullptr);

// The SPLIT.md text.
std::string DescribeSynthSplit();

}  // namespace ovseg

#endif  // OVSEG_DATASETS_SYNTH_SYNTH_DATASET_H_
