// FOV-Seg's "Handling Variable Class Numbers" for training: each image brings its own
// class set, not the whole training vocabulary, so TeVA and the classifier learn to choose
// among varying vocabularies (serving hands them any) instead of memorising one. The set
// is the classes the image shows plus negatives drawn uniformly from the rest of the
// vocabulary, up to a size drawn uniformly from [min_classes, max_classes]; batches pad
// to their largest set (the trainer's class_valid). Deterministic from `seed`.
#ifndef OVSEG_MODEL_TRAIN_CLASS_SAMPLING_H_
#define OVSEG_MODEL_TRAIN_CLASS_SAMPLING_H_

#include <cstdint>
#include <vector>

namespace ovseg {

struct ClassSampling {
  int min_classes = 0;  // max_classes 0: every image gets the whole vocabulary
  int max_classes = 0;
  bool enabled() const { return max_classes > 0; }
};

// The sampled vocabulary indices, sorted: every index of `present` (whatever the size)
// plus negatives from [0, vocabulary_size).
std::vector<int64_t> SampleImageClasses(const std::vector<int64_t>& present,
                                        int64_t vocabulary_size, const ClassSampling& sampling,
                                        uint64_t seed);

}  // namespace ovseg

#endif  // OVSEG_MODEL_TRAIN_CLASS_SAMPLING_H_
