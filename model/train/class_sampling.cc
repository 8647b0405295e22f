#include "model/train/class_sampling.h"

#include <algorithm>

#include "datasets/seed_mixing.h"

namespace ovseg {

std::vector<int64_t> SampleImageClasses(const std::vector<int64_t>& present,
                                        int64_t vocabulary_size, const ClassSampling& sampling,
                                        uint64_t seed) {
  std::vector<int64_t> chosen = present;
  std::sort(chosen.begin(), chosen.end());
  chosen.erase(std::unique(chosen.begin(), chosen.end()), chosen.end());
  std::vector<int64_t> rest;
  for (int64_t c = 0; c < vocabulary_size; ++c) {
    if (!std::binary_search(chosen.begin(), chosen.end(), c)) rest.push_back(c);
  }
  if (!sampling.enabled()) {
    chosen.insert(chosen.end(), rest.begin(), rest.end());
    std::sort(chosen.begin(), chosen.end());
    return chosen;
  }
  // MixSeed draws, not the standard library's distributions: the same sets everywhere.
  const int low = std::max(1, std::min(sampling.min_classes, sampling.max_classes));
  const int64_t size =
      low + static_cast<int64_t>(MixSeed(seed, 0) %
                                 static_cast<uint64_t>(sampling.max_classes - low + 1));
  for (size_t i = rest.size(); i > 1; --i) {
    std::swap(rest[i - 1], rest[MixSeed(seed, i) % i]);
  }
  const int64_t negatives =
      std::clamp<int64_t>(size - static_cast<int64_t>(chosen.size()), 0, rest.size());
  chosen.insert(chosen.end(), rest.begin(), rest.begin() + negatives);
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

}  // namespace ovseg
